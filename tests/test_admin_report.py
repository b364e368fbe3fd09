"""``kiosk-admin report``: on a pulled ``.db`` file and from a server, every format, clear errors."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from report_fixtures import SITE_A, SITE_B, SITE_C, known_rows, seed_article_rows, write_pulled_db
from admin.cli import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pulled(tmp_path):
    path = tmp_path / "ratings.db"
    write_pulled_db(path, known_rows())
    return path


def run(*args, env=None):
    result = CliRunner().invoke(cli, ["report", *map(str, args)], env=env)
    return result


def test_table_on_a_pulled_file(pulled):
    result = run("--db", pulled, "--on", "2026-11-10", "--by", "counter")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Báo cáo mức độ hài lòng — Tháng 11/2026 (giờ Asia/Ho_Chi_Minh)"
    ranked = [line.split("  ")[1].strip() for line in lines if line[:1].isdigit() and "UBND" in line]
    assert ranked == [f"{SITE_A} – Quầy 1", f"{SITE_A} – Quầy 2", f"{SITE_B} – Quầy 1", f"{SITE_C} – Quầy 1"]
    assert lines[-1].startswith("Kiểm tra: các số cộng lại khớp với tổng (75 + 33 + 18 = 126")


def test_summary_of_the_seed_article_shape(tmp_path):
    write_pulled_db(tmp_path / "hd.db", seed_article_rows())
    result = run("--db", tmp_path / "hd.db", "--period", "half", "--on", "2026-05-01", "--format", "summary")
    assert result.exit_code == 0, result.output
    assert "nhận được 2.939 lượt đánh giá, trong đó 2.220 lượt rất hài lòng (75,5%), 715 lượt hài lòng (24,3%), " \
           "4 lượt không hài lòng (0,1%)" in result.output
    assert "2.220 + 715 + 4 = 2.939" in result.output


def test_csv_to_stdout_and_to_a_file(pulled, tmp_path):
    result = CliRunner().invoke(cli, ["report", "--db", str(pulled), "--on", "2026-11-10", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")
    out = tmp_path / "r.csv"
    result = run("--db", pulled, "--on", "2026-11-10", "--by", "terminal", "--out", out)  # format from .csv
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [row[1] for row in rows[1:6]] == ["pl-1", "yk-2", "pl-2", "vq-1", "yk-1"]


def test_xlsx_needs_out_and_opens_back(pulled, tmp_path):
    assert run("--db", pulled, "--format", "xlsx").exit_code == 2
    out = tmp_path / "q4.xlsx"
    result = run("--db", pulled, "--period", "quarter", "--on", "2026-11-10", "--format", "xlsx", "--out", out)
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Tổng hợp", "Theo thời gian", "Giờ trong tuần", SITE_A, SITE_B, SITE_C]
    assert book["Tổng hợp"]["B3"].value == "Quý IV/2026"


def test_range_site_and_time_zone_options(pulled):
    result = run("--db", pulled, "--from", "2026-11-01", "--to", "2026-11-30", "--site", SITE_A,
                 "--format", "summary")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Trong kỳ (Từ 01/11/2026 đến 30/11/2026), bộ phận Một cửa {SITE_A} "
                                    "nhận được 80 lượt đánh giá")
    # In UTC the last rating of 30/11 local (16:59:59.999Z) is still the 30th; the 1/12 00:00 local one too.
    result = run("--db", pulled, "--on", "2026-11-10", "--tz", "UTC", "--format", "summary")
    assert "nhận được 126 lượt" in result.output


@pytest.mark.parametrize("args", [
    ["--period", "fortnight"],
    ["--on", "2026-13-01"],
    ["--from", "2026-11-01"],
    ["--from", "2026-11-05", "--to", "2026-11-01"],
    ["--period", "month", "--from", "2026-11-01", "--to", "2026-11-02"],
    ["--tz", "Mars/Olympus"],
    ["--by", "ward"],
    ["--format", "pdf"],
])
def test_bad_options_exit_2(pulled, args):
    result = run("--db", pulled, *args)
    assert result.exit_code == 2, result.output


def test_db_or_server_exactly_one(pulled):
    assert run().exit_code == 2
    assert run("--db", pulled, "--server", "http://127.0.0.1:9").exit_code == 2
    assert run("--server", "http://127.0.0.1:9", env={"HAILONG_ADMIN_TOKEN": ""}).exit_code == 2


def test_missing_or_foreign_file_exits_1_with_one_sentence(tmp_path):
    result = run("--db", tmp_path / "none.db")
    assert result.exit_code == 1
    assert result.output.strip() == (f"kiosk-admin: there is no file {tmp_path / 'none.db'}; "
                                     "pull one first with kiosk-admin pull --out none.db")
    (tmp_path / "notes.db").write_text("not a database at all, just some text " * 50)
    result = run("--db", tmp_path / "notes.db")
    assert result.exit_code == 1 and "is not a pulled ratings file (not an SQLite database)" in result.output
    import sqlite3
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    result = run("--db", tmp_path / "other.db")
    assert result.exit_code == 1 and "is not a pulled ratings file (it has no table ratings)" in result.output
    assert "Traceback" not in result.output


def test_the_first_report_adds_the_indexes_and_a_read_only_file_still_works(pulled, tmp_path):
    import sqlite3
    assert run("--db", pulled, "--on", "2026-11-10").exit_code == 0
    with sqlite3.connect(pulled) as conn:
        names = {row[1] for row in conn.execute("PRAGMA index_list(ratings)")}
    assert {"ix_ratings_report_units", "ix_ratings_report_hours"} <= names
    fresh = tmp_path / "ro" / "ratings.db"
    fresh.parent.mkdir()
    write_pulled_db(fresh, known_rows())
    fresh.chmod(0o444)
    fresh.parent.chmod(0o555)
    try:
        result = run("--db", fresh, "--on", "2026-11-10", "--format", "summary")
    finally:
        fresh.parent.chmod(0o755)
    assert result.exit_code == 0, result.output
    assert "nhận được 126 lượt" in result.output


def test_the_console_script_runs(pulled):
    script = Path(sys.executable).with_name("kiosk-admin")
    result = subprocess.run([str(script), "report", "--db", str(pulled), "--on", "2026-11-10",
                             "--format", "summary"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert "126 lượt đánh giá" in result.stdout
    result = subprocess.run([str(script), "report", "--db", str(pulled), "--period", "fortnight"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--period" in result.stderr

"""The official report files as an official opens them: the workbook printed to PDF by LibreOffice
(A4, one page wide, the header row on every page), the CSV read back as one table.

LibreOffice runs twice in this file (a few seconds each): once for both workbooks, once for the CSV.
Outside CI a missing ``soffice`` skips those tests, saying so; under ``CI=true`` it fails them
(.ci/run installs libreoffice-calc).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import unicodedata

import openpyxl
import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from admin.cli import cli
from report_fixtures import SITE_A, Q1, terminal_rows, write_pulled_db
from sync.vocabulary import one_decimal

A4 = (595.3, 841.9)  # points
FOOTER = re.compile(r"^\s*(?P<sheet>.+?) – trang (?P<page>\d+)/(?P<pages>\d+)\s*$", re.M)


def soffice() -> str:
    path = shutil.which("soffice")
    if path is None:
        why = "LibreOffice (soffice) is not installed: apt-get install libreoffice-calc"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (CI=true: the print tests must run)", pytrace=False)
        pytest.skip(why)
    return path


def convert(files, target: str, outdir, *, infilter: str | None = None) -> None:
    """Files converted by LibreOffice headless, with a profile of their own (parallel runs do not clash)."""
    profile = outdir / "lo-profile"
    command = [soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", target,
               "--outdir", str(outdir)]
    if infilter:
        command.append(f"--infilter={infilter}")
    done = subprocess.run([*command, *map(str, files)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for file in files:
        assert (outdir / f"{file.stem}.{target}").exists(), done.stdout + done.stderr


def report(db, out, *args) -> None:
    result = CliRunner().invoke(cli, ["report", "--db", str(db), "--on", "2026-11-10", "--out", str(out), *args])
    assert result.exit_code == 0, result.output


def large_rows() -> list[dict]:
    """November 2026 at 8 sites × 4 counters × 3 terminals; terminal l0-0-0 has 349 very satisfied of 400
    (87.25 %, which rounds half up to 87.3 %)."""
    rows = terminal_rows("l0-0-0", "UBND phường Số 0 quận Hà Đông", "Quầy 1", very=349, satisfied=40,
                         dissatisfied=["processing_time"] * 11)
    for s in range(8):
        for c in range(4):
            for t in range(3):
                if (s, c, t) != (0, 0, 0):
                    rows += terminal_rows(f"l{s}-{c}-{t}", f"UBND phường Số {s} quận Hà Đông", f"Quầy {c + 1}",
                                          very=8 + s, satisfied=4 + c, dissatisfied=[None, "staff_attitude"][:t],
                                          filtered=["satisfied"] * (t % 2), salt=s + c + t)
    return rows


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Made as an admin makes them (``kiosk-admin report``): a 9-rating report and a large one."""
    folder = tmp_path_factory.mktemp("official")
    small_db, large_db = folder / "small.db", folder / "large.db"
    write_pulled_db(small_db, terminal_rows("pl-1", SITE_A, Q1, very=4, satisfied=3,
                                            dissatisfied=["processing_time", None]))
    write_pulled_db(large_db, large_rows())
    report(small_db, folder / "small.xlsx")
    report(large_db, folder / "large.xlsx", "--by", "terminal")
    report(large_db, folder / "large.csv", "--by", "terminal")
    return folder


@pytest.fixture(scope="module")
def printed(files):
    convert([files / "small.xlsx", files / "large.xlsx"], "pdf", files)
    return files


def pages_by_sheet(pdf) -> list[tuple[str, str]]:
    """(sheet, text) of each page, the sheet named by the page's footer."""
    pages = []
    for page in PdfReader(pdf).pages:
        text = unicodedata.normalize("NFC", page.extract_text())
        footer = FOOTER.search(text)
        assert footer, f"a page without its footer: {text[:200]!r}"
        pages.append((footer["sheet"], text))
    return pages


def squeezed(text: str) -> str:
    """Text without its white space: a heading wrapped over lines still reads as one."""
    return "".join(text.split())


def assert_a4(pdf) -> None:
    for number, page in enumerate(PdfReader(pdf).pages, 1):
        size = sorted((float(page.mediabox.width), float(page.mediabox.height)))
        assert size == pytest.approx(A4, abs=1.5), f"page {number} is {size} points, not A4"


def test_a_small_report_prints_one_a4_page_per_sheet(printed):
    sheets = openpyxl.load_workbook(printed / "small.xlsx").sheetnames
    assert len(PdfReader(printed / "small.pdf").pages) <= len(sheets)  # it was 20 portrait pages
    pages = pages_by_sheet(printed / "small.pdf")
    assert [sheet for sheet, _ in pages] == sheets
    assert_a4(printed / "small.pdf")
    first = PdfReader(printed / "small.pdf").pages[0].mediabox
    assert first.width > first.height  # the summary is wide: landscape
    text = pages[0][1]
    assert "BÁO CÁO KẾT QUẢ ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG" in text
    assert squeezed("Kiểm tra: các số cộng lại khớp với tổng (4 + 3 + 2 = 9") in squeezed(text)


def test_a_large_report_prints_every_sheet_one_page_wide_with_its_header_on_every_page(printed):
    book = openpyxl.load_workbook(printed / "large.xlsx")
    pages = pages_by_sheet(printed / "large.pdf")
    assert_a4(printed / "large.pdf")
    order = list(dict.fromkeys(sheet for sheet, _ in pages))
    assert order == book.sheetnames  # every sheet, its pages together
    counts = {sheet: sum(1 for s, _ in pages if s == sheet) for sheet in order}
    assert counts["Tổng hợp"] > 1  # 96 terminals: the header row must come back on the next pages
    for sheet, text in pages:
        ws = book[sheet]
        row = int(ws.print_title_rows.split(":")[0].lstrip("$"))
        headings = [c.value for c in ws[row] if c.value is not None]
        # Cut into page columns, a page would miss the first or the last heading of the row it repeats.
        assert squeezed(headings[0]) in squeezed(text) and squeezed(headings[-1]) in squeezed(text), sheet
        assert "###" not in text, f"{sheet}: a number too wide for its column"
    summary = "\n".join(text for sheet, text in pages if sheet == "Tổng hợp")
    for s in range(8):
        for c in range(4):
            for t in range(3):
                assert f"l{s}-{c}-{t}" in summary
    assert "87.3%" in summary  # 349 of 400, rounded half up as everywhere else
    trend = "\n".join(text for sheet, text in pages if sheet == "Theo thời gian")
    assert all(f"{day:02d}/11/2026" in trend for day in range(1, 31))  # a month, day by day


def test_every_sheet_is_set_up_for_a4_one_page_wide(files):
    book = openpyxl.load_workbook(files / "large.xlsx")
    for ws in book.worksheets:
        setup = ws.page_setup
        assert (setup.paperSize, setup.fitToWidth, setup.fitToHeight) == (int(ws.PAPERSIZE_A4), 1, 0), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows, ws.title
        assert "&P" in ws.oddFooter.center.text, ws.title
    summary = book["Tổng hợp"]
    assert summary.page_setup.orientation == "landscape"
    title = summary["A1"]
    # Stacked marks over capitals (Ể, Ả) need a row well over the font's size; long titles wrap.
    assert summary.row_dimensions[1].height >= 1.8 * title.font.sz and title.alignment.wrap_text
    assert any(str(r).startswith("A1:") for r in summary.merged_cells.ranges)
    site = book["UBND phường Số 0 quận Hà Đông"]
    assert site.row_dimensions[1].height >= 1.8 * site["A1"].font.sz and site["A1"].alignment.wrap_text


def test_the_csv_is_one_table_every_row_as_wide_as_the_header(files):
    text = (files / "large.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert {len(row) for row in rows} == {len(rows[0])}
    records = list(csv.DictReader(io.StringIO(text)))
    assert all(None not in record and None not in record.values() for record in records)
    by_label = {record[rows[0][1]]: record for record in records}
    first = by_label["l0-0-0"]
    assert (first["Số lượt được tính"], first["Rất hài lòng"], first["Rất hài lòng (%)"]) == ("400", "349", "87.3")
    assert float(first["Tỷ lệ hài lòng (%)"]) == one_decimal(389, 400)
    assert by_label["Tổng cộng"]["Số lượt được tính"] == str(sum(int(r["Số lượt được tính"]) for r in records
                                                                 if r["Xếp hạng"].isdigit()))
    assert [rows[-1][0], rows[-1][1]] == ["Kiểm tra", "khớp"]


def test_a_spreadsheet_reads_the_csv_figures_as_numbers(files, tmp_path):
    csv_file = tmp_path / "large.csv"
    shutil.copy(files / "large.csv", csv_file)
    convert([csv_file], "xlsx", tmp_path, infilter="CSV:44,34,76,1")  # comma, double quote, UTF-8, from line 1
    ws = openpyxl.load_workbook(tmp_path / "large.xlsx").active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header = rows[0]
    body = {row[1]: dict(zip(header, row)) for row in rows[1:] if row[1]}
    first = body["l0-0-0"]
    assert (first["Số lượt được tính"], first["Rất hài lòng"], first["Rất hài lòng (%)"]) == (400, 349, 87.3)
    assert body["Tổng cộng"]["Số lượt được tính"] == sum(
        row["Số lượt được tính"] for label, row in body.items() if isinstance(row["Xếp hạng"], int))
    assert ws.max_column == len(header)

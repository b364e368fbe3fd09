"""Hostile text in every spreadsheet we write: unit and counter names, and what a terminal sends about itself
(app version, last error, boot id), that a spreadsheet would read as a formula.

Every export is checked: the API's report (CSV, xlsx) and ratings CSV, the dashboard's exports (report CSV and
xlsx, fleet CSV, alerts CSV), ``kiosk-admin pull`` to .csv and .xlsx and ``kiosk-admin report`` to CSV and xlsx.
In a CSV a text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return carries a leading ``'``
(OWASP); in a workbook it is a quote-prefixed string cell that shows exactly as typed. Numbers stay numbers.
LibreOffice then opens one CSV and one workbook (two runs) to show that a real spreadsheet evaluates none of them.
"""

from __future__ import annotations

import csv
import io
import subprocess

import openpyxl
import pytest
from click.testing import CliRunner

from admin.cli import cli
from dashboard_fixtures import BOOT_NS, NS
from server.timekeeping import iso_from_ns
from server_fixtures import *  # noqa: F403
from spreadsheet_checks import csv_fields, is_number
from test_dashboard_http import log_in
from test_reports_print import soffice

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)"]
#: Text a terminal sends itself (a name's leading tab would be trimmed at enrolment).
SENT_BY_TERMINAL = "\t=1"
#: Written independently of the code under test: how OWASP says a formula starts.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ON = "2026-11-25"


@pytest.fixture
def server_db_url(tmp_path):
    """SQLite only: the quoting is the writers' own, the same whatever database the text came from."""
    yield f"sqlite:///{tmp_path / 'server.db'}"


@pytest.fixture
def hostile(start_server):
    """A server with one terminal per hostile site (a hostile counter too), each with four dissatisfied
    ratings (so an alert names the site's unit), a hostile app version and last error, a boot id starting with a
    tab, and a clock 2.5 s behind the server's (a negative offset: a number)."""
    clock = FakeClock()
    server = start_server(clock=clock, alert_check_interval_s=0)
    for i, site in enumerate(HOSTILE):
        terminal = server.enroll(site=site, counter=HOSTILE[(i + 1) % len(HOSTILE)])
        mono = clock.now_ns - BOOT_NS
        ratings = [make_rating(terminal.id, rating="dissatisfied", reason_outcome="timeout",
                               boot_id=SENT_BY_TERMINAL, monotonic_ns=mono - k * NS,
                               created_at=iso_from_ns(clock.now_ns - k * NS)) for k in range(1, 5)]
        batch = make_batch(ratings, boot_id=SENT_BY_TERMINAL, monotonic_ns=mono,
                           sent_at=iso_from_ns(clock.now_ns - int(2.5 * NS)),
                           health={"app_version": site, "last_error": SENT_BY_TERMINAL if i == 0 else site})
        answer = server.upload(terminal, batch)
        assert answer.status_code == 200, answer.text
    fired = server.app.state.alert_monitor.check().fired
    assert sorted(alert.details["site"] for alert in fired) == sorted(HOSTILE)  # one per site's unit
    return server




def assert_csv_is_text_only(text: str, names) -> list[str]:
    """No field a spreadsheet would evaluate (numbers aside), and each of ``names`` there with its quote."""
    fields = csv_fields(text)
    assert [f for f in fields if f.startswith(FORMULA_STARTS) and not is_number(f)] == []
    for name in names:
        assert "'" + name in fields, name
    return fields


def assert_workbook_is_text_only(data, names) -> None:
    """No formula cell on any sheet, and each of ``names`` in a quote-prefixed string cell, exactly as typed."""
    book = openpyxl.load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data)
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert [(c.parent.title, c.coordinate, c.value) for c in cells if c.data_type == "f"] == []
    for name in names:
        found = [c for c in cells if c.value == name]
        assert found, name
        assert all(c.data_type == "s" and c.quotePrefix for c in found), name


def report_params(fmt: str) -> dict:
    return {"period": "month", "on": ON, "group_by": "counter", "format": fmt}


def test_the_api_report_csv_and_workbook(hostile):
    headers = hostile.admin_headers()
    answer = hostile.get("/api/v1/reports/summary", params=report_params("csv"), headers=headers)
    assert answer.status_code == 200, answer.text
    fields = assert_csv_is_text_only(answer.content.decode("utf-8"), HOSTILE)
    assert "16" in fields  # the counted total: a number, as before
    answer = hostile.get("/api/v1/reports/summary", params=report_params("xlsx"), headers=headers)
    assert answer.status_code == 200, answer.text
    assert_workbook_is_text_only(answer.content, HOSTILE)


def test_the_api_ratings_csv(hostile):
    answer = hostile.get("/api/v1/ratings", params={"format": "csv"}, headers=hostile.admin_headers())
    assert answer.status_code == 200, answer.text
    assert_csv_is_text_only(answer.content.decode("utf-8"), [*HOSTILE, SENT_BY_TERMINAL])


def test_the_dashboard_exports(hostile):
    session = log_in(hostile, hostile.person())
    params = {"period": "month", "on": ON, "group_by": "counter"}
    answer = session.get(hostile.url + "/export/report.csv", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    assert_csv_is_text_only(answer.content.decode("utf-8"), HOSTILE)
    answer = session.get(hostile.url + "/export/report.xlsx", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    assert_workbook_is_text_only(answer.content, HOSTILE)

    fleet = session.get(hostile.url + "/export/fleet.csv", timeout=30).content.decode("utf-8")
    fields = assert_csv_is_text_only(fleet, [*HOSTILE, SENT_BY_TERMINAL])
    rows = list(csv.reader(io.StringIO(fleet.removeprefix("\ufeff"))))
    offsets = {row[rows[0].index("Lệch đồng hồ (giây)")] for row in rows[1:]}
    assert offsets == {"-2.5"}  # our own negative number: not quoted
    assert sum(f == "'" + SENT_BY_TERMINAL for f in fields) == 1  # the last error of the first terminal

    alerts = session.get(hostile.url + "/export/alerts.csv", timeout=30).content.decode("utf-8")
    fields = assert_csv_is_text_only(alerts, [])
    for name in HOSTILE:  # an alert names its unit by its path: the name no longer starts a field, but is there
        assert f"Tỉnh › {name}" in fields, name


def pull(server, out):
    result = CliRunner().invoke(cli, ["pull", "--server", server.url, "--out", str(out)],
                                env={"HAILONG_ADMIN_TOKEN": server.admin_token()})
    assert result.exit_code == 0, result.output


def test_kiosk_admin_pull_to_csv_and_workbook(hostile, tmp_path):
    pull(hostile, tmp_path / "ratings.csv")
    assert_csv_is_text_only((tmp_path / "ratings.csv").read_text(encoding="utf-8"), [*HOSTILE, SENT_BY_TERMINAL])
    pull(hostile, tmp_path / "ratings.xlsx")
    assert_workbook_is_text_only(tmp_path / "ratings.xlsx", [*HOSTILE, SENT_BY_TERMINAL])


def test_kiosk_admin_report_csv_and_workbook(hostile, tmp_path):
    options = ["report", "--server", hostile.url, "--on", ON, "--by", "counter"]
    env = {"HAILONG_ADMIN_TOKEN": hostile.admin_token()}
    printed = CliRunner().invoke(cli, [*options, "--format", "csv"], env=env)
    assert printed.exit_code == 0, printed.output
    assert_csv_is_text_only(printed.output, HOSTILE)
    written = CliRunner().invoke(cli, [*options, "--out", str(tmp_path / "q.xlsx")], env=env)
    assert written.exit_code == 0, written.output
    assert_workbook_is_text_only(tmp_path / "q.xlsx", HOSTILE)


#: LibreOffice's CSV filter: comma, '"', UTF-8, from line 1, …, and on import its 13th field "evaluate
#: formulas" on, as Excel does when it opens a CSV.
CSV_EVALUATING_FORMULAS = "CSV:44,34,76,1,,0,false,true,false,false,false,-1,true"
CSV_UTF8 = "csv:Text - txt - csv (StarCalc):44,34,76"


def convert(file, target: str, outdir, *, infilter: str | None = None):
    """``file`` opened and saved as ``target`` by LibreOffice headless, with a profile of its own."""
    command = [soffice(), f"-env:UserInstallation={(outdir / 'lo-profile').as_uri()}", "--headless",
               "--convert-to", target, "--outdir", str(outdir), *([f"--infilter={infilter}"] if infilter else []),
               str(file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    converted = outdir / f"{file.stem}.{target.split(':')[0]}"
    assert converted.exists(), done.stdout + done.stderr
    return converted


def test_a_real_spreadsheet_evaluates_none_of_them(hostile, tmp_path):
    session = log_in(hostile, hostile.person())
    report = tmp_path / "report.xlsx"
    report.write_bytes(session.get(hostile.url + "/export/report.xlsx",
                                   params={"period": "month", "on": ON}, timeout=30).content)
    fleet = tmp_path / "fleet.csv"
    fleet.write_bytes(session.get(hostile.url + "/export/fleet.csv", timeout=30).content)
    shown = tmp_path / "shown"
    # The summary sheet as LibreOffice computes and shows it; the fleet CSV opened as Excel opens it.
    report_shown = convert(report, CSV_UTF8, shown)
    fleet_opened = convert(fleet, "xlsx", shown, infilter=CSV_EVALUATING_FORMULAS)

    fields = csv_fields(report_shown.read_text(encoding="utf-8"))
    for name in HOSTILE:
        assert name in fields, name  # shown as typed: not "y", not 2
    book = openpyxl.load_workbook(fleet_opened)
    cells = [cell for row in book.active.iter_rows() for cell in row]
    assert [c.value for c in cells if c.data_type == "f"] == []
    values = [c.value for c in cells]
    for name in [*HOSTILE, SENT_BY_TERMINAL]:
        assert "'" + name in values, name
    assert -2.5 in values  # the clock offset, still a number

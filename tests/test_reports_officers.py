"""Issue 12 end to end on both backends: ratings with the officer signed in and the dossier, sign-ins and
invitations sent through the batch API (tests/counter_report_fixtures.py) → the report API's by-officer,
dossier and audit sections → the dashboard, CSV, workbook (read back by LibreOffice too) and official PDF; and
who gets the officers' sections: province and unit admins and inspectors in their scope, a viewer only with
``sees_officers``, a technician no report at all."""

from __future__ import annotations

import io
import subprocess

import openpyxl
import pytest

from counter_report_fixtures import AN, BINH, CUONG, UNIT_A, UNIT_B, load_counter_province
from dashboard_fixtures import log_in
from server_fixtures import *  # noqa: F403
from reports.counter_audit import NEUTRAL_NOTE

SUMMARY = "/api/v1/reports/summary"
NOVEMBER = {"period": "month", "on": "2026-11-10"}


@pytest.fixture
def province(server):
    return load_counter_province(server)


def token_of(province, role: str, scope: str | None, *, sees_officers: bool = False) -> dict:
    """The API headers of a new account of ``role`` scoped to the node with ``scope``'s code (None: everything)."""
    from sqlalchemy import text

    from server.accounts import issue_admin_token
    from server.db import write_transaction

    server = province.server
    person = server.person(f"{role}.{scope or 'all'}.{int(sees_officers)}", role=role,
                           scope_node_id=province.node[scope] if scope else None)
    with server.engine.connect() as conn, write_transaction(conn):
        if sees_officers:
            conn.execute(text("UPDATE accounts SET sees_officers = :yes WHERE id = :id"), {"yes": True, "id": person.id})
        token = issue_admin_token(conn, name=person.username, now_ns=server.app.state.clock(), account_id=person.id)
    return {"Authorization": f"Bearer {token}"}


def report_of(province, headers, **params) -> dict:
    answer = province.server.get(SUMMARY, params={**NOVEMBER, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["report"]


def officer_table(report: dict) -> list[tuple]:
    return [(c["rank"], c["label"], c["site"], c["counted"], c["very_satisfied"], c["satisfied"], c["dissatisfied"],
             c["filtered"], c["shrunk_rate"], c["too_few"]) for c in report["officers"]["lines"]]


def test_a_units_report_by_officer_adds_up_to_its_total(province):
    report = report_of(province, token_of(province, "unit_admin", "U01"))
    total = report["total"]
    assert (total["counted"], total["very_satisfied"], total["satisfied"], total["dissatisfied"], total["filtered"]) \
        == (61, 32, 23, 6, 3)
    # Shrunk toward p̄ = 55/61 with 30 ratings' weight: (content·61 + 30·55) / ((n + 30)·61).
    # An 47/50 → 4517/4880 = 92.56; CB77 2/2 → 1772/1952 = 90.78; Bình 3/4 → 1833/2074 = 88.38.
    assert officer_table(report) == [
        (1, f"{AN} (CB01)", UNIT_A, 50, 30, 17, 3, 2, 92.6, False),
        (2, "CB77 (không có trong danh sách cán bộ)", UNIT_A, 2, 0, 2, 0, 0, 90.8, True),
        (3, f"{BINH} (CB02)", UNIT_A, 4, 2, 1, 1, 0, 88.4, True),
    ]
    nobody = report["officers"]["no_officer"]
    assert (nobody["counted"], nobody["satisfied"], nobody["dissatisfied"], nobody["filtered"], nobody["rank"]) == \
        (5, 3, 2, 1, None)  # the dossier's second rating: kept, counted as filtered
    assert report["officers"]["several_units"] is False
    assert all(check["ok"] for check in report["officers"]["checks"]) and report["reconciles"] is True
    assert CUONG not in str(report)  # unit B's officer is not in unit A's report


def test_a_province_report_names_each_officers_unit(province):
    report = report_of(province, token_of(province, "province_admin", None), node=province.node["T01"])
    lines = {(c["label"], c["site"]): c["counted"] for c in report["officers"]["lines"]}
    # The staff code CB01 in two units: two officers, each under its unit.
    assert lines == {(f"{AN} (CB01)", UNIT_A): 50, (f"{CUONG} (CB01)", UNIT_B): 10,
                     (f"{BINH} (CB02)", UNIT_A): 4, ("CB77 (không có trong danh sách cán bộ)", UNIT_A): 2}
    assert report["officers"]["several_units"] is True
    assert sum(lines.values()) + report["officers"]["no_officer"]["counted"] == report["total"]["counted"] == 71
    assert report["reconciles"] is True


def test_dossiers_share_rated_and_unanswered_invitations(province):
    unit = report_of(province, token_of(province, "unit_admin", "U01"))["dossiers"]
    assert [(x["counter"], x["invitations"], x["rated"], x["unanswered"], x["replaced"], x["share_rated"])
            for x in unit["counters"]] == [("Quầy 2 An Khánh", 6, 3, 2, 1, 50.0)]
    assert (unit["total"]["invitations"], unit["total"]["share_rated"], unit["total"]["too_few"], unit["repeats"]) \
        == (6, 50.0, True, 1)
    whole = report_of(province, token_of(province, "province_admin", None), node=province.node["T01"])["dossiers"]
    assert [(x["label"], x["invitations"], x["rated"], x["share_rated"]) for x in whole["units"]] == [
        (UNIT_A, 6, 3, 50.0), (UNIT_B, 2, 1, 50.0)]
    assert (whole["total"]["invitations"], whole["total"]["rated"], whole["total"]["unanswered"]) == (8, 4, 3)
    assert all(check["ok"] for check in whole["checks"])


def test_audit_counts_per_terminal_and_officer(province):
    audit = report_of(province, token_of(province, "inspector", "U01"))["audit"]
    a1, a2 = province.terminal["a1"].id, province.terminal["a2"].id
    assert [(x["terminal"], x["counted"], x["no_officer"], x["outside_hours"], x["sign_ins"], x["bursts"],
             x["burst_ratings"]) for x in audit["terminals"]] == [(a1, 55, 5, 4, 3, 1, 3), (a2, 6, 0, 0, 2, 0, 0)]
    assert [(x["label"], x["counted"], x["outside_hours"], x["sign_ins"], x["bursts"]) for x in audit["officers"]] == [
        ("CB77 (không có trong danh sách cán bộ)", 2, 0, 1, 0), (f"{AN} (CB01)", 50, 4, 3, 1),
        (f"{BINH} (CB02)", 4, 0, 1, 0), ("Không có cán bộ đăng nhập", 5, 0, 0, 0)]
    assert audit["note"] == NEUTRAL_NOTE and "không phải kết luận vi phạm" in audit["note"]
    assert audit["hours"].startswith("Thứ Hai–Thứ Sáu 07:30–17:00")
    assert all(check["ok"] for check in audit["checks"])


@pytest.mark.parametrize(("role", "scope", "sees_officers", "sees"), [
    ("province_admin", None, False, True),
    ("unit_admin", "U01", False, True),
    ("inspector", "U01", False, True),
    ("viewer", "U01", False, False),
    ("viewer", "U01", True, True),
])
def test_only_roles_that_may_see_officers_get_the_officers_sections(province, role, scope, sees_officers, sees):
    headers = token_of(province, role, scope, sees_officers=sees_officers)
    params = {} if scope else {"node": province.node["U01"]}
    report = report_of(province, headers, **params)
    assert report["dossiers"]["total"]["invitations"] == 6  # counts that name no one: every reader
    assert (report["officers"] is not None, report["audit"] is not None) == (sees, sees)
    csv_text = province.server.get(SUMMARY, params={**NOVEMBER, **params, "format": "csv"},
                                   headers=headers).content.decode("utf-8-sig")
    book = openpyxl.load_workbook(io.BytesIO(province.server.get(
        SUMMARY, params={**NOVEMBER, **params, "format": "xlsx"}, headers=headers).content))
    workbook_text = " ".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value)
    pdf_text = pdf_words(province.server.get(SUMMARY, params={**NOVEMBER, **params, "format": "pdf"},
                                             headers=headers).content)
    for shown in (str(report), csv_text, workbook_text, pdf_text):
        assert (AN in shown, "CB77" in shown) == (sees, sees)
    assert ("Theo cán bộ" in book.sheetnames, "Kiểm tra tại quầy" in book.sheetnames) == (sees, sees)
    assert "Hồ sơ" in book.sheetnames and "Hồ sơ được mời đánh giá" in csv_text


def test_a_technician_reads_no_report(province):
    headers = token_of(province, "technician", "U01")
    for fmt in ("json", "csv", "xlsx"):
        answer = province.server.get(SUMMARY, params={**NOVEMBER, "format": fmt}, headers=headers)
        assert answer.status_code == 403 and AN not in answer.text


def test_a_unit_admin_of_another_unit_sees_only_its_own_officers(province):
    report = report_of(province, token_of(province, "unit_admin", "U02"))
    assert [c["label"] for c in report["officers"]["lines"]] == [f"{CUONG} (CB01)"]
    assert AN not in str(report) and BINH not in str(report)
    assert report["dossiers"]["total"]["invitations"] == 2 and report["reconciles"] is True


def test_the_dashboard_shows_the_sections_to_those_who_may_see_them(province):
    server = province.server
    admin = log_in(server, server.person("ua.dash", role="unit_admin", scope_node_id=province.node["U01"]))
    page = admin.get(server.url + "/", params=NOVEMBER, timeout=30).text
    assert 'id="by-officer"' in page and AN in page and 'id="dossiers"' in page and 'id="counter-audit"' in page
    assert "không phải kết luận vi phạm" in page and "ok-text" in page.split('id="officers-reconcile"')[0][-200:]
    viewer = log_in(server, server.person("v.dash", role="viewer", scope_node_id=province.node["U01"]))
    page = viewer.get(server.url + "/", params=NOVEMBER, timeout=30).text
    assert 'id="by-officer"' not in page and AN not in page and 'id="counter-audit"' not in page
    assert 'id="dossiers"' in page
    export = viewer.get(server.url + "/export/report.csv", params=NOVEMBER, timeout=30)
    assert export.status_code == 200 and AN not in export.content.decode("utf-8-sig")


def test_the_workbook_sheets_hold_the_sections_as_libreoffice_reads_them(province, tmp_path):
    from test_reports_print import soffice

    headers = token_of(province, "unit_admin", "U01")
    book_file = tmp_path / "report.xlsx"
    book_file.write_bytes(province.server.get(SUMMARY, params={**NOVEMBER, "format": "xlsx"}, headers=headers).content)
    book = openpyxl.load_workbook(book_file)
    officers = [[c.value for c in row] for row in book["Theo cán bộ"].iter_rows()]
    assert next(row for row in officers if row[1] == AN)[:4] == [1, AN, "CB01", 50]
    assert next(row for row in officers if row[1] == "Tổng cộng")[3] == 61
    # LibreOffice opens the workbook and saves every sheet as CSV (the last token, -1: each sheet to its own
    # file, report-<sheet>.csv): the figures as a spreadsheet shows them.
    shown = tmp_path / "shown"
    done = subprocess.run([soffice(), f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}", "--headless",
                           "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,"
                           "false,-1", "--outdir", str(shown), str(book_file)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    sheets = {path.name: path.read_text(encoding="utf-8") for path in shown.glob("*.csv")}
    assert f"1,{AN},CB01,50," in sheets["report-Theo cán bộ.csv"]
    assert "Quầy 2 An Khánh,6,3,2,1,0,50.0%" in sheets["report-Hồ sơ.csv"]
    assert "không phải kết luận vi phạm" in sheets["report-Kiểm tra tại quầy.csv"]


def pdf_words(content: bytes) -> str:
    return " ".join(subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True,
                                   check=True).stdout.decode("utf-8").split())


def test_the_official_pdf_prints_the_sections(province):
    headers = token_of(province, "province_admin", None)
    answer = province.server.get(SUMMARY, params={**NOVEMBER, "node": province.node["U01"], "format": "pdf"},
                                 headers=headers)
    assert answer.status_code == 200, answer.text
    text = pdf_words(answer.content)
    assert "Kết quả theo cán bộ tiếp nhận" in text and AN in text
    assert "Hồ sơ được mời đánh giá" in text and "không phải kết luận vi phạm" in text


def test_a_server_without_officers_or_dossiers_prints_its_reports_as_before(server):
    from report_fixtures import upload_known

    upload_known(server)
    report = server.get(SUMMARY, params=NOVEMBER, headers=server.admin_headers()).json()["report"]
    assert report["officers"]["in_use"] is False and report["dossiers"]["in_use"] is False
    assert report["audit"] is None  # no officer registered, nobody signed in: the ratings were not read
    assert report["officers"]["no_officer"]["counted"] == report["total"]["counted"] == 126
    csv_text = server.get(SUMMARY, params={**NOVEMBER, "format": "csv"},
                          headers=server.admin_headers()).content.decode("utf-8-sig")
    for title in ("Kết quả theo cán bộ tiếp nhận", "Hồ sơ được mời đánh giá", "Số liệu kiểm tra tại quầy"):
        assert title not in csv_text


def test_kiosk_admin_report_from_the_server_prints_the_sections_its_account_may_see(province):
    from click.testing import CliRunner

    from admin.cli import cli

    def table(headers):
        token = headers["Authorization"].removeprefix("Bearer ")
        result = CliRunner().invoke(cli, ["report", "--server", province.server.url, "--period", "month", "--on",
                                          "2026-11-10", "--node", str(province.node["U01"]), "--format", "table"],
                                    env={"HAILONG_ADMIN_TOKEN": token})
        assert result.exit_code == 0, result.output
        return result.output

    shown = table(token_of(province, "inspector", "U01"))
    assert "Kết quả theo cán bộ tiếp nhận" in shown and AN in shown and "không phải kết luận vi phạm" in shown
    hidden = table(token_of(province, "viewer", "U01"))
    assert AN not in hidden and "Hồ sơ được mời đánh giá" in hidden


def test_the_openapi_document_describes_the_sections_as_answered(province):
    from server.routes.reports import ReportAnswer

    answer = province.server.get(SUMMARY, params={**NOVEMBER, "node": province.node["T01"]},
                                 headers=token_of(province, "province_admin", None)).json()
    parsed = ReportAnswer.model_validate(answer)  # every field the document promises, of its type
    assert parsed.report.officers.lines[0].officer_name and parsed.report.audit.note == NEUTRAL_NOTE
    schemas = province.server.get("/openapi.json").json()["components"]["schemas"]
    assert {"OfficersOut", "DossiersOut", "AuditOut"} <= set(schemas)


def test_opening_hours_judged_in_the_database_or_minute_by_minute_in_python_agree(province, monkeypatch):
    # The database judges them when the zone's offset holds all period long; across a change to summer time
    # Python does, from the UTC hours (and the minutes of the hours where a span opens or closes off the hour).
    from reports import build_report, counter_sources, parse_period, sqlalchemy_source
    from reports.counter import add_counter_sections
    from server.opening import OpeningHours

    hours = OpeningHours.parse("Mon-Fri 07:30-17:00; Sat 07:30-11:30")

    def audit():
        with province.server.engine.connect() as conn:
            source = sqlalchemy_source(conn)
            report = build_report(source, parse_period("month", on="2026-11-10"), node=province.node["T01"],
                                  group_by="children")
            add_counter_sections(report, source, opening_hours=hours, hours_tz="Asia/Ho_Chi_Minh")
            return report.audit.to_dict()

    in_the_database = audit()
    monkeypatch.setattr(counter_sources, "opening_condition", lambda *args: None)
    assert audit() == in_the_database
    assert in_the_database["total"]["outside_hours"] == 4

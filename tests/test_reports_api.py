"""GET /api/v1/reports/summary on both backends: the same figures as the offline report on a pulled file,
JSON, CSV and Excel, 422 naming the field, admin only, in the OpenAPI document."""

from __future__ import annotations

import io

import openpyxl
import pytest

from report_fixtures import SITE_A, SITE_B, SITE_C, pull_to_db, upload_known
from server_fixtures import *  # noqa: F403
from reports import build_report, parse_period, sqlalchemy_source, sqlite_source

SUMMARY = "/api/v1/reports/summary"


#: The server's own sections (by officer, dossiers, audit counts: from tables a pulled file does not have).
SERVER_ONLY = ("source", "officers", "dossiers", "audit")


def comparable(report_dict: dict) -> dict:
    return {key: value for key, value in report_dict.items() if key not in SERVER_ONLY}


@pytest.fixture
def loaded(server, tmp_path):
    ids = upload_known(server)
    headers = server.admin_headers()
    pull_to_db(server, headers, tmp_path / "pulled.db")
    return server, headers, ids, tmp_path / "pulled.db"


@pytest.mark.parametrize("group_by", ["site", "counter", "terminal"])
def test_api_gives_the_same_figures_as_the_offline_report(loaded, group_by):
    server, headers, ids, pulled = loaded
    answer = server.get(SUMMARY, params={"period": "month", "on": "2026-11-10", "group_by": group_by},
                        headers=headers)
    assert answer.status_code == 200, answer.text
    online = answer.json()
    assert online["ok"] is True
    offline = build_report(sqlite_source(pulled), parse_period("month", on="2026-11-10"), group_by=group_by)
    assert comparable(online["report"]) == comparable(offline.to_dict())
    report = online["report"]
    assert (report["total"]["counted"], report["total"]["filtered"], report["total"]["satisfaction_rate"]) == \
        (126, 3, 85.7)
    assert report["reconciles"] is True
    if group_by == "site":
        assert [(g["label"], g["counted"], g["shrunk_rate"], g["too_few"]) for g in report["groups"]] == [
            (SITE_A, 80, 89.7, False), (SITE_B, 1, 82.9, True), (SITE_C, 45, 81.0, False)]
    if group_by == "terminal":
        assert [g["label"] for g in report["groups"]] == [ids[n] for n in ("pl-1", "yk-2", "pl-2", "vq-1", "yk-1")]


def test_api_report_equals_the_report_on_the_server_database(loaded):
    server, headers, _ids, _pulled = loaded
    answer = server.get(SUMMARY, params={"period": "quarter", "on": "2026-11-10"}, headers=headers).json()
    with server.engine.connect() as conn:
        direct = build_report(sqlalchemy_source(conn), parse_period("quarter", on="2026-11-10"))
    assert comparable(answer["report"]) == comparable(direct.to_dict())
    assert answer["report"]["trend_unit"] == "week"


def test_api_filters_and_range(loaded):
    server, headers, ids, _pulled = loaded
    report = server.get(SUMMARY, params={"period": "range", "start": "2026-11-01", "end": "2026-11-30",
                                         "site": SITE_A, "group_by": "counter"}, headers=headers).json()["report"]
    assert report["total"]["counted"] == 80 and [g["counted"] for g in report["groups"]] == [60, 20]
    report = server.get(SUMMARY, params={"on": "2026-11-10", "terminal": ids["yk-2"], "group_by": "none"},
                        headers=headers).json()["report"]
    assert report["total"]["counted"] == 5 and report["groups"] == []


def test_api_csv_and_xlsx(loaded):
    server, headers, _ids, _pulled = loaded
    answer = server.get(SUMMARY, params={"on": "2026-11-10", "format": "csv"}, headers=headers)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    text = answer.content.decode("utf-8-sig")
    assert text.splitlines()[1].startswith(f"1,{SITE_A},{SITE_A}") and "Kiểm tra,khớp" in text
    answer = server.get(SUMMARY, params={"on": "2026-11-10", "format": "xlsx"}, headers=headers)
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames[0] == "Tổng hợp" and SITE_A in book.sheetnames


@pytest.mark.parametrize(("params", "field"), [
    ({"period": "fortnight"}, "period"),
    ({"on": "2026-13-01"}, "on"),
    ({"period": "range", "start": "2026-11-05"}, "end"),
    ({"period": "range", "start": "2026-11-05", "end": "2026-11-01"}, "end"),
    # period=month with start/end: start and end are used only with period=range (tests/test_odd_inputs.py)
    ({"tz": "Mars/Olympus"}, "tz"),
    ({"group_by": "ward"}, "group_by"),
    ({"format": "docx"}, "format"),
    ({"trend": "hour"}, "trend"),
])
def test_bad_parameters_answer_422_naming_the_field(server, params, field):
    answer = server.get(SUMMARY, params=params, headers=server.admin_headers())
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["ok"] is False and body["field"] == field and body["error"].startswith(f"{field}: ")


def test_reports_need_an_admin_token(server):
    assert server.get(SUMMARY).status_code == 401
    terminal = server.enroll()
    answer = server.get(SUMMARY, headers=terminal.headers)
    assert answer.status_code == 403 and answer.json()["ok"] is False


def test_an_empty_server_gives_an_empty_report_that_reconciles(server):
    body = server.get(SUMMARY, params={"period": "year", "on": "2026-01-01"}, headers=server.admin_headers()).json()
    assert body["report"]["total"]["counted"] == 0 and body["report"]["reconciles"] is True


def test_the_server_time_zone_setting_sets_the_periods(start_server):
    server = start_server(timezone="Europe/London")
    body = server.get(SUMMARY, params={"period": "day", "on": "2026-11-25"}, headers=server.admin_headers()).json()
    assert body["report"]["period"]["start_utc"] == "2026-11-25T00:00:00.000Z"
    body = server.get(SUMMARY, params={"period": "day", "on": "2026-11-25", "tz": "Asia/Ho_Chi_Minh"},
                      headers=server.admin_headers()).json()
    assert body["report"]["period"]["start_utc"] == "2026-11-24T17:00:00.000Z"


def test_openapi_documents_the_report(server):
    document = server.get("/openapi.json").json()
    operation = document["paths"][SUMMARY]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"period", "on", "start", "end", "group_by", "site", "counter", "terminal", "format", "tz"} <= names
    assert {"application/json", "text/csv",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} <= \
        set(operation["responses"]["200"]["content"])
    assert "ReportOut" in document["components"]["schemas"]


def test_the_servers_tallies_count_exactly_the_stored_ratings(server):
    # Ingest keeps rating_tallies in the transaction that stores the ratings: new ratings only,
    # never a duplicate resend nor a conflicting one; filtered presses and reasons in their own rows.
    from sqlalchemy import text

    one, two = server.enroll(), server.enroll(site="UBND phường Văn Quán", counter=None)
    first = [make_rating(one.id, monotonic_ns=1_000_000_000 + i) for i in range(3)]
    first += [make_rating(one.id, rating="dissatisfied", reason="processing_time", reason_outcome="given"),
              make_rating(one.id, rating="dissatisfied", reason_outcome="skipped"),
              make_rating(one.id, filtered=1)]
    assert server.upload(one, make_batch(first)).status_code == 200
    resend = [first[0], {**first[1], "rating": "dissatisfied", "reason_outcome": "timeout"},
              make_rating(one.id)]
    statuses = [a["status"] for a in server.upload(one, make_batch(resend)).json()["acks"]]
    assert statuses == ["duplicate", "conflict", "stored"]
    assert server.upload(two, make_batch([make_rating(two.id, rating="very_satisfied")])).status_code == 200

    counted = ("SELECT SUBSTR(corrected_at, 1, 13), terminal_id, site, COALESCE(counter, ''), rating, "
               "COALESCE(reason, ''), filtered, COUNT(*) FROM ratings GROUP BY 1, 2, 3, 4, 5, 6, 7")
    with server.engine.connect() as conn:
        expected = sorted(tuple(r) for r in conn.execute(text(counted)))
        tallies = sorted(tuple(r) for r in conn.execute(text(
            "SELECT hour, terminal_id, site, counter, rating, reason, filtered, n FROM rating_tallies")))
    assert tallies == expected
    assert sum(row[-1] for row in tallies) == 8  # 6 + 1 new + 1, the duplicate and the conflict not counted
    # Times are corrected from the server's clock (same boot): all in this hour.
    assert {row[1:] for row in tallies if row[1] == one.id} == {
        (one.id, TERMINAL_SITE, TERMINAL_COUNTER, "satisfied", "", 0, 4),
        (one.id, TERMINAL_SITE, TERMINAL_COUNTER, "satisfied", "", 1, 1),
        (one.id, TERMINAL_SITE, TERMINAL_COUNTER, "dissatisfied", "processing_time", 0, 1),
        (one.id, TERMINAL_SITE, TERMINAL_COUNTER, "dissatisfied", "", 0, 1)}
    assert any(row[1] == two.id and row[3] == "" for row in tallies)  # no counter: '' in the key

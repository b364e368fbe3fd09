"""Odd but valid-looking input answers 4xx naming the parameter, never a server error (issue 10, defect 6)
and names are bounded where they enter (defect 8): the reports API, the dashboard, ``kiosk-admin report``,
``kiosk-server enroll-code`` and the terminal's config."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from admin.cli import cli as admin_cli
from cli_helpers import run_main
from kiosk.cli import main as kiosk_main
from kiosk.config import parse_config
from kiosk.errors import ConfigError
from report_fixtures import known_rows, write_pulled_db
from reports import PeriodError, parse_period
from reports.periods import DATE_PATTERN, FIRST_DATE, LAST_DATE
from server.accounts import issue_enrollment_code
from server.cli import main as server_main
from server_fixtures import *  # noqa: F403
from sync.names import NAME_MAX
from dashboard_fixtures import log_in

CONTROL = "a\x01b"

# (query, the parameter at fault)
ODD_REPORT_QUERIES = [
    ({"format": "xlsx", "site": CONTROL}, "site"),
    ({"format": "xlsx", "counter": "Quầy\x0b1"}, "counter"),
    ({"format": "xlsx", "terminal": "t\x1f1"}, "terminal"),
    ({"format": "json", "site": "x\x00y"}, "site"),
    ({"period": "day", "on": "0001-01-01"}, "on"),
    ({"period": "year", "on": "9999-06-01"}, "on"),
    ({"period": "range", "start": "0001-01-01", "end": "2026-11-30"}, "start"),
    ({"period": "range", "start": "2026-11-01", "end": "9999-12-31"}, "end"),
    ({"period": "month", "on": "0"}, "on"),
    ({"period": "day", "on": "1999-12-31"}, "on"),
]
EDGE_QUERIES = [
    {"period": "day", "on": "2000-01-01"},
    {"period": "week", "on": "2000-01-01"},  # the week starts in 1999: still computable
    {"period": "year", "on": "2100-12-31"},
    {"period": "range", "start": "2000-01-01", "end": "2100-12-31", "format": "xlsx"},
    {"period": "month", "on": "2026-11-25", "start": "2026-01-01"},  # start/end are for period=range only
    {"period": "range", "on": "0001-01-01", "start": "2026-11-01", "end": "2026-11-30"},  # on is not for ranges
]


def _ids(cases):
    return [f"{field}-{'&'.join(f'{k}={v!r}' for k, v in query.items())}" for query, field in cases]


# -- the reports API ---------------------------------------------------------------------------------

@pytest.mark.parametrize("query,field", ODD_REPORT_QUERIES, ids=_ids(ODD_REPORT_QUERIES))
def test_odd_report_queries_are_422_naming_the_parameter(server, query, field):
    answer = server.get("/api/v1/reports/summary", params=query, headers=server.admin_headers())
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["ok"] is False and body["field"] == field
    assert body["error"].startswith(f"{field}: ")


@pytest.mark.parametrize("query", EDGE_QUERIES, ids=[str(q) for q in EDGE_QUERIES])
def test_dates_at_the_edges_of_the_range_are_answered(server, query):
    answer = server.get("/api/v1/reports/summary", params=query, headers=server.admin_headers())
    assert answer.status_code == 200, answer.text


def test_the_openapi_document_states_the_date_range_and_whole_numbers(server):
    document = server.get("/openapi.json").json()
    parameters = {p["name"]: p for p in document["paths"]["/api/v1/reports/summary"]["get"]["parameters"]}
    for name in ("on", "start", "end"):
        assert parameters[name]["schema"]["pattern"] == DATE_PATTERN  # for the text; null has no pattern
        assert "2000-01-01 to 2100-12-31" in parameters[name]["description"]
    assert "period=range" in parameters["start"]["description"]
    for name in ("site", "counter", "terminal"):
        pattern = re.compile(parameters[name]["schema"]["pattern"])
        assert pattern.match("UBND phường Phúc La") and not pattern.match(CONTROL)
    rating = document["components"]["schemas"]["Rating"]["properties"]["monotonic_ns"]
    assert rating["type"] == "integer" and rating["maximum"] == 2**63 - 1


def test_the_date_pattern_is_exactly_what_periods_accept():
    pattern = re.compile(DATE_PATTERN)
    day = FIRST_DATE - timedelta(days=400)
    while day <= LAST_DATE + timedelta(days=400):
        text = day.isoformat()
        try:
            parse_period("day", on=text)
            accepted = True
        except PeriodError:
            accepted = False
        assert bool(pattern.match(text)) == accepted == (FIRST_DATE <= day <= LAST_DATE), text
        day += timedelta(days=1)
    for text in ("2100-02-29", "2026-02-29", "2026-13-01", "2026-04-31", "0", "20260101", "2026-1-1"):
        assert not pattern.match(text)
    assert pattern.match("2000-02-29") and pattern.match("2096-02-29")


@pytest.mark.parametrize("value,stored", [(10.0, True), (10, True), (10.5, False), ("10", False)])
def test_a_whole_number_written_as_a_float_is_an_integer(server, value, stored):
    terminal = server.enroll()
    rating = make_rating(terminal.id)  # noqa: F405
    rating["monotonic_ns"] = value
    answer = server.upload(terminal, make_batch([rating]))  # noqa: F405
    assert answer.status_code == 200, answer.text
    ack, = answer.json()["acks"]
    if stored:
        assert ack["status"] == "stored"
        assert [row["monotonic_ns"] for row in server.rows("ratings")] == [10]
    else:  # refused on its own, with the field named; nothing of it stored
        assert ack["status"] == "refused" and ack["reason"].startswith("monotonic_ns:") and server.count() == 0


# -- the dashboard -----------------------------------------------------------------------------------

DASHBOARD_CASES = [(q, f) for q, f in ODD_REPORT_QUERIES if f in ("site", "on", "start", "end")]


@pytest.mark.parametrize("path", ["/export/report.xlsx", "/export/report.csv", "/"])
@pytest.mark.parametrize("query,field", DASHBOARD_CASES, ids=_ids(DASHBOARD_CASES))
def test_dashboard_refuses_odd_report_queries(server, path, query, field):
    session = log_in(server, server.person())
    query = {k: v for k, v in query.items() if k != "format"}
    answer = session.get(server.url + path, params=query, timeout=30, allow_redirects=False)
    assert answer.status_code == 422, answer.text[:300]
    assert f"{field}: " in answer.text


# -- kiosk-admin report ------------------------------------------------------------------------------

ADMIN_CASES = [
    (["--site", CONTROL], "--site"),
    (["--counter", "Quầy\x0b1"], "--counter"),
    (["--terminal", "t\x1f1"], "--terminal"),
    (["--period", "day", "--on", "0001-01-01"], "--on"),
    (["--period", "year", "--on", "9999-06-01"], "--on"),
    (["--from", "0001-01-01", "--to", "2026-11-30"], "--from"),
    (["--on", "0"], "--on"),
]


@pytest.mark.parametrize("args,option", ADMIN_CASES, ids=[o + "-" + repr(a[-1]) for a, o in ADMIN_CASES])
def test_kiosk_admin_report_says_one_sentence_and_exits_2(tmp_path, capsys, args, option):
    pulled = tmp_path / "ratings.db"
    write_pulled_db(pulled, known_rows())
    out = tmp_path / "report.xlsx"
    status, _, err = run_main(admin_cli, ["report", "--db", str(pulled), "--format", "xlsx", "--out", str(out),
                                          *args], capsys)
    assert status == 2
    assert err.startswith(f"kiosk-admin: {option}: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and not out.exists()


# -- names where they enter --------------------------------------------------------------------------

LONG = "x" * (NAME_MAX + 1)
BAD_NAMES = [(LONG, f"is {NAME_MAX + 1} characters long"), ("Quầy\t1", "contains a control character (U+0009)"),
             ("UBND\nphường", "contains a control character (U+000A)")]


@pytest.mark.parametrize("option", ["--site", "--counter"])
@pytest.mark.parametrize("name,message", BAD_NAMES, ids=["long", "tab", "newline"])
def test_enroll_code_refuses_bad_names(server_db_url, start_server, capsys, option, name, message):
    server = start_server()
    args = {"--site": "UBND phường Phúc La", "--counter": "Quầy 1", option: name}
    status, out, err = run_main(server_main, ["enroll-code", *[x for pair in args.items() for x in pair],
                                              "--db", server_db_url], capsys)
    assert status == 2 and out == ""
    assert option in err and message in err and "Traceback" not in err
    assert server.count("enrollment_codes") == 0


@pytest.mark.parametrize("server_db_url", ["sqlite"], indirect=True)
def test_enroll_code_takes_a_name_of_the_longest_length(server_db_url, start_server, capsys):
    server = start_server()
    status, out, err = run_main(server_main, ["enroll-code", "--site", "x" * NAME_MAX, "--db", server_db_url],
                                capsys)
    assert status == 0, err
    assert [row["site"] for row in server.rows("enrollment_codes")] == ["x" * NAME_MAX]


@pytest.mark.parametrize("field", ["site", "counter"])
@pytest.mark.parametrize("name,message", BAD_NAMES, ids=["long", "tab", "newline"])
def test_the_enrolment_code_table_takes_no_bad_name(server, field, name, message):
    names = {"site": "UBND phường Phúc La", "counter": "Quầy 1", field: name}
    with server.engine.begin() as conn, pytest.raises(ValueError, match=re.escape(f"{field}: the name {message}")):
        issue_enrollment_code(conn, **names, ttl_s=60, now_ns=1_795_599_000_000_000_000)


@pytest.mark.parametrize("key", ["site", "counter"])
@pytest.mark.parametrize("name,message", BAD_NAMES, ids=["long", "tab", "newline"])
def test_terminal_config_refuses_bad_names_naming_the_key(tmp_path, capsys, key, name, message):
    with pytest.raises(ConfigError, match=re.escape(f"[terminal] {key}: the name {message}")):
        parse_config({"terminal": {key: name}})
    path = tmp_path / "kiosk.toml"
    escaped = name.replace("\t", "\\t").replace("\n", "\\n")
    path.write_text(f'[terminal]\n{key} = "{escaped}"\n', encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        kiosk_main(["status", "--config", str(path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"[terminal] {key}:" in err and err.count("\n") == 1


def test_terminal_config_takes_a_name_of_the_longest_length():
    assert parse_config({"terminal": {"site": "x" * NAME_MAX}}).terminal.site == "x" * NAME_MAX

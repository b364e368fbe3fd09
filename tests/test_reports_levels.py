"""Reports at every level of the organisation tree (issue 11 §4), on both backends: a small province of
2 units × 2 offices × 2 counters built with `kiosk-server import-tree` and enrolment codes naming counters;
each level adds up to the one above it, a renamed unit keeps its ratings, small samples are ranked shrunk,
and ratings with no node are a line of their own."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from sqlalchemy import text

from cli_helpers import run_main
from dashboard_fixtures import log_in
from report_fixtures import rating_row, spread, upload_rows, write_pulled_db
from reports import FilterError, build_report, parse_period, sqlite_source
from server.cli import main
from server.settings import SPECS
from server_fixtures import *  # noqa: F403
from server_fixtures import EnrolledTerminal

SUMMARY = "/api/v1/reports/summary"
MONTH = {"period": "month", "on": "2026-11-10"}

PROVINCE_CSV = """code,name,kind,parent_code
01,Tỉnh Thử,province,
U1,Phường Một,unit,01
U2,Phường Hai,unit,01
U1-MC,Bộ phận Một cửa phường Một,office,U1
U1-MC2,Điểm tiếp nhận số 2 phường Một,office,U1
U2-MC,Bộ phận Một cửa phường Hai,office,U2
U2-MC2,Điểm tiếp nhận số 2 phường Hai,office,U2
U1-MC-Q1,Quầy 1,counter,U1-MC
U1-MC-Q2,Quầy 2,counter,U1-MC
U1-MC2-Q1,Quầy 1,counter,U1-MC2
U1-MC2-Q2,Quầy 2,counter,U1-MC2
U2-MC-Q1,Quầy 1,counter,U2-MC
U2-MC-Q2,Quầy 2,counter,U2-MC
U2-MC2-Q1,Quầy 1,counter,U2-MC2
U2-MC2-Q2,Quầy 2,counter,U2-MC2
"""

#: Where each terminal stands (a counter, or the office itself) and its November: (satisfied, counted).
TERMINALS = {"U1-MC-Q1": (50, 60), "U1-MC-Q2": (40, 45), "U1-MC": (9, 10), "U1-MC2-Q1": (30, 35),
             "U1-MC2-Q2": (20, 30), "U2-MC-Q1": (0, 1), "U2-MC-Q2": (26, 40), "U2-MC2-Q1": (58, 60),
             "U2-MC2-Q2": (57, 60)}


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(monkeypatch):
    for spec in SPECS:
        for name in (spec.env, *spec.env_aliases):
            monkeypatch.delenv(name, raising=False)


def import_tree(tmp_path, db_url, csv_text, capsys):
    path = tmp_path / "tree.csv"
    path.write_text(csv_text, encoding="utf-8")
    status, out, err = run_main(main, ["import-tree", str(path), "--db", db_url], capsys)
    assert status == 0, err


@pytest.fixture
def province(server, server_db_url, tmp_path, capsys):
    """The province, a terminal at each place of TERMINALS, and November's ratings uploaded."""
    import_tree(tmp_path, server_db_url, PROVINCE_CSV, capsys)
    terminals = {}
    for place in TERMINALS:
        status, code, err = run_main(main, ["enroll-code", "--node", place, "--db", server_db_url], capsys)
        assert status == 0, err
        answer = server.post("/api/v1/enroll", json={"code": code.strip()})
        assert answer.status_code == 201, answer.text
        terminals[place] = EnrolledTerminal(answer.json()["terminal_id"], answer.json()["device_token"])
    rows = []
    for salt, (place, (content, counted)) in enumerate(TERMINALS.items()):
        levels = ["very_satisfied"] * content + ["dissatisfied"] * (counted - content)
        rows += [rating_row(place, "", None, level, at) for level, at in zip(levels, spread(counted, salt=salt))]
    upload_rows(server, terminals, rows)
    ids = {row["code"]: row["id"] for row in server.rows("nodes")}
    return server, server.admin_headers(), ids, terminals


def report(server, headers, **params) -> dict:
    answer = server.get(SUMMARY, params={**MONTH, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()["report"]
    assert body["reconciles"] is True, [c for c in body["checks"] if not c["ok"]]
    return body


def lines(body: dict) -> dict[str, tuple[int, int]]:
    return {g["label"]: (g["content"] if "content" in g else g["very_satisfied"] + g["satisfied"], g["counted"])
            for g in body["groups"]}


def test_each_level_ranks_the_level_below_and_adds_up_to_it(province):
    server, headers, ids, _terminals = province
    whole = report(server, headers, node=ids["01"])
    assert (whole["group_by"], whole["node"]["name"], whole["total"]["counted"]) == ("unit", "Tỉnh Thử", 341)
    assert lines(whole) == {"Phường Một": (149, 180), "Phường Hai": (141, 161)}
    assert [g["node_id"] for g in whole["groups"]] == [ids["U2"], ids["U1"]]  # 87.6 % before 82.8 %
    checks = {c["what"]: (c["parts"], c["whole"]) for c in whole["checks"]}
    assert checks["cộng các dòng theo xã/phường = tổng số lượt được tính"] == (341, 341)
    assert checks["số dòng xã/phường bằng đúng tổng các dòng bộ phận một cửa của mình"] == (2, 2)
    assert checks["số dòng bộ phận một cửa bằng đúng tổng các dòng quầy của mình"] == (4, 4)
    assert checks["số dòng quầy bằng đúng tổng các dòng thiết bị của mình"] == (9, 9)

    # Each unit's report is its line in the province's; its offices add up to it.
    for code in ("U1", "U2"):
        unit = report(server, headers, node=ids[code])
        assert unit["group_by"] == "office" and unit["node"]["path"][0]["name"] == "Tỉnh Thử"
        own = next(g for g in whole["groups"] if g["node_id"] == ids[code])
        assert unit["total"]["counted"] == own["counted"] == sum(g["counted"] for g in unit["groups"])
    offices = lines(report(server, headers, node=ids["U1"]))
    assert offices == {"Bộ phận Một cửa phường Một": (99, 115), "Điểm tiếp nhận số 2 phường Một": (50, 65)}
    # An office's counters, and the terminal standing at the office itself: "no counter", so the sum closes.
    counters = lines(report(server, headers, node=ids["U1-MC"]))
    assert counters == {"Quầy 1": (50, 60), "Quầy 2": (40, 45),
                        "không thuộc quầy nào (Bộ phận Một cửa phường Một)": (9, 10)}
    # A unit report may rank its counters too (a counter's line is its own node: two "Quầy 1" stay apart).
    by_counter = report(server, headers, node=ids["U1"], group_by="counter")
    assert sorted(g["counted"] for g in by_counter["groups"]) == [10, 30, 35, 45, 60]
    terminals = report(server, headers, node=ids["U1-MC-Q1"])
    assert terminals["group_by"] == "terminal" and [g["counted"] for g in terminals["groups"]] == [60]


def test_a_small_sample_is_ranked_by_its_shrunk_rate(province):
    server, headers, ids, _terminals = province
    unit = report(server, headers, node=ids["U2"], group_by="counter")
    ranked = [(g["label"], g["counted"], g["too_few"], g["shrunk_rate"]) for g in unit["groups"]]
    # One dissatisfied rating of one is 0 %, but it ranks above 26 of 40 (65 %): it says little yet.
    assert ranked == [("Quầy 1", 60, False, 93.6), ("Quầy 2", 60, False, 92.5), ("Quầy 1", 1, True, 84.8),
                      ("Quầy 2", 40, False, 74.7)]
    assert [g["node_id"] for g in unit["groups"]][2] == ids["U2-MC-Q1"]


def test_a_renamed_unit_shows_its_new_name_and_keeps_its_ratings(province, server_db_url, tmp_path, capsys):
    server, headers, ids, _terminals = province
    import_tree(tmp_path, server_db_url, PROVINCE_CSV.replace("U2,Phường Hai,", "U2,Phường Hai Mới,"), capsys)
    whole = report(server, headers, node=ids["01"])
    assert lines(whole) == {"Phường Một": (149, 180), "Phường Hai Mới": (141, 161)}
    # Its counters and terminals (the workbook's sheet per unit) follow the new name too.
    assert set(whole["sites"]) == {"Phường Một", "Phường Hai Mới"}
    assert sum(c["counted"] for c in whole["sites"]["Phường Hai Mới"]["counters"]) == 161
    book = openpyxl.load_workbook(io.BytesIO(server.get(
        SUMMARY, params={**MONTH, "node": ids["01"], "format": "xlsx"}, headers=headers).content))
    assert "Phường Hai Mới" in book.sheetnames and "Phường Hai" not in book.sheetnames
    assert any(c.value == "Tỉnh Thử" for row in book["Tổng hợp"].iter_rows() for c in row)
    assert report(server, headers, node=ids["U2"])["node"]["name"] == "Phường Hai Mới"


def test_ratings_with_no_node_are_a_line_of_their_own(province):
    server, headers, ids, terminals = province
    # Ratings that reached the server with no unit (e.g. before it knew its tree): unit, office, counter 0.
    with server.engine.begin() as conn:
        for table in ("ratings", "rating_tallies"):
            conn.execute(text(f"UPDATE {table} SET unit_id = 0, office_id = 0, counter_id = 0 "
                              "WHERE terminal_id = :t"), {"t": terminals["U2-MC2-Q2"].id})
        # The rollups are counted from the tallies: edited by hand, they are unbuilt (reports read the tallies
        # until the refresher rebuilds them), as REBUILD_TALLIES_SQL does.
        conn.execute(text("DELETE FROM rollup_state"))
    whole = report(server, headers, node=ids["01"])
    assert lines(whole) == {"Phường Một": (149, 180), "Phường Hai": (84, 101), "không thuộc đơn vị nào (Tỉnh Thử)": (57, 60)}
    assert sum(g["counted"] for g in whole["groups"]) == whole["total"]["counted"] == 341
    assert report(server, headers, node=ids["U2"])["total"]["counted"] == 101


def test_the_old_filters_still_work_and_a_bad_node_is_refused(province):
    server, headers, ids, _terminals = province
    by_site = report(server, headers)
    assert by_site["group_by"] == "site" and by_site["node"] is None
    assert lines(by_site) == {"Phường Một": (149, 180), "Phường Hai": (141, 161)}
    assert report(server, headers, site="Phường Một", group_by="counter")["total"]["counted"] == 180
    assert report(server, headers, group_by="unit")["total"]["counted"] == 341
    for params, field in (({"node": 999_999}, "node"), ({"node": ids["U1"], "group_by": "unit"}, "group_by")):
        answer = server.get(SUMMARY, params={**MONTH, **params}, headers=headers)
        assert answer.status_code == 422 and answer.json()["field"] == field, answer.text


def test_the_dashboard_picks_a_node_and_ranks_its_children(province):
    server, _headers, ids, _terminals = province
    session = log_in(server, server.person())
    html = session.get(server.url + "/", params={**MONTH, "node": ids["U1"]}, timeout=30).text
    crumbs = re.search(r'<nav class="breadcrumb" id="breadcrumb"[^>]*>(.*?)</nav>', html, re.S).group(1)
    assert "Tỉnh Thử" in crumbs and "<strong><bdi>Phường Một</bdi></strong>" in crumbs
    groups = re.search(r'<table class="rates" id="groups">(.*?)</table>', html, re.S).group(1)
    assert f"node={ids['U1-MC']}" in groups and "Điểm tiếp nhận số 2 phường Một" in groups
    assert f'<option value="{ids["U1"]}" selected>' in html
    assert session.get(server.url + "/export/report.csv", params={**MONTH, "node": ids["U1"]},
                       timeout=30).content.decode("utf-8-sig").count("Bộ phận Một cửa phường Một") >= 1


def test_a_pulled_file_has_no_tree_and_says_so(tmp_path):
    path = tmp_path / "pulled.db"
    write_pulled_db(path, [rating_row("t", "Phường Một", "Quầy 1", "satisfied", spread(1)[0])])
    with pytest.raises(FilterError, match="a pulled file keeps site and counter names"):
        build_report(sqlite_source(path), parse_period("month", on="2026-11-10"), node=1)
    assert build_report(sqlite_source(path), parse_period("month", on="2026-11-10")).total.counted == 1


def test_the_paragraph_names_the_node(province):
    server, headers, ids, _terminals = province
    assert report(server, headers, node=ids["01"])["total"]["counted"] == 341
    with server.engine.connect() as conn:
        from reports import sqlalchemy_source
        from reports.paragraph import summary_vi

        period = parse_period("month", on="2026-11-10")
        whole = summary_vi(build_report(sqlalchemy_source(conn), period, node=ids["01"], group_by="children"))
        counter = summary_vi(build_report(sqlalchemy_source(conn), period, node=ids["U1-MC-Q1"], group_by=None))
    assert whole.startswith("Trong kỳ (Tháng 11/2026), bộ phận Một cửa các xã, phường của Tỉnh Thử nhận được 341")
    assert counter.startswith("Trong kỳ (Tháng 11/2026), Quầy 1, Bộ phận Một cửa phường Một, Phường Một nhận được 60")


def test_the_answer_keeps_its_documented_shape(province):
    server, headers, ids, _terminals = province
    from server.routes.reports import ReportAnswer

    answer = server.get(SUMMARY, params={**MONTH, "node": ids["U1"], "group_by": "counter"}, headers=headers)
    assert ReportAnswer.model_validate(answer.json()).report.node.path[-1].name == "Phường Một"
    assert answer.json()["report"]["filters"] == {"site": None, "counter": None, "terminal": None}


def test_kiosk_admin_report_asks_the_server_for_a_node(province, tmp_path):
    from click.testing import CliRunner

    from admin.cli import cli

    server, headers, ids, _terminals = province
    token = headers["Authorization"].split()[1]
    result = CliRunner().invoke(cli, ["report", "--server", server.url, "--token", token, "--period", "month", "--on",
                                      "2026-11-10", "--node", str(ids["U1"]), "--format", "summary"])
    assert result.exit_code == 0, result.output
    assert "bộ phận Một cửa Phường Một nhận được 180 lượt" in result.output
    table = CliRunner().invoke(cli, ["report", "--server", server.url, "--token", token, "--on", "2026-11-10",
                                     "--node", str(ids["U1"]), "--by", "counter"])
    assert table.exit_code == 0 and "không thuộc quầy nào (Bộ phận Một cửa phường Một)" in table.output
    path = tmp_path / "pulled.db"
    write_pulled_db(path, [rating_row("t", "Phường Một", "Quầy 1", "satisfied", spread(1)[0])])
    refused = CliRunner().invoke(cli, ["report", "--db", str(path), "--node", str(ids["U1"])])
    assert refused.exit_code == 2 and "--node: a pulled file has no organisation tree" in refused.output


def test_every_level_downloads_as_csv_and_xlsx(province):
    server, headers, ids, _terminals = province
    for group_by in ("unit", "office", "counter", "terminal"):
        for fmt in ("csv", "xlsx"):
            answer = server.get(SUMMARY, params={**MONTH, "node": ids["01"], "group_by": group_by, "format": fmt},
                                headers=headers)
            assert answer.status_code == 200, (group_by, fmt, answer.text)
        rows = server.get(SUMMARY, params={**MONTH, "node": ids["01"], "group_by": group_by,
                                                         "format": "csv"}, headers=headers)
        total = next(line for line in rows.content.decode("utf-8-sig").splitlines() if ",Tổng cộng," in line)
        assert ",341," in total, group_by

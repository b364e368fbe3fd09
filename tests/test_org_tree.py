"""The organisation tree (issue 11 §1), on both backends: import from CSV all or nothing, enrolment codes
naming a node, moving a terminal, ratings keeping the place they were given at, renaming."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from cli_helpers import run_main
from server.cli import main
from server_fixtures import *  # noqa: F403
from server_fixtures import EnrolledTerminal

PROVINCE_CSV = """code,name,kind,parent_code
01,Thành phố Hà Nội,province,
00004,Phường Ba Đình,unit,01
00008,Phường Ngọc Hà,unit,01
BD-MC,Bộ phận Một cửa phường Ba Đình,office,00004
BD-Q1,Quầy 1,counter,BD-MC
BD-Q2,Quầy 2,counter,BD-MC
NH-MC,Bộ phận Một cửa phường Ngọc Hà,office,00008
NH-Q1,Quầy 1,counter,NH-MC
"""


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(no_server_settings):
    """No HAILONG_* setting of whoever runs the tests (server_fixtures.no_server_settings, for every test here)."""


def run(args, capsys):
    return run_main(main, args, capsys)


def import_csv(tmp_path, db_url, text, capsys, *extra):
    path = tmp_path / "tree.csv"
    path.write_text(text, encoding="utf-8")
    return run(["import-tree", str(path), "--db", db_url, *extra], capsys)


def node_id(server, code: str) -> int:
    row, = server.rows("nodes", code=code)
    return row["id"]


def test_import_builds_the_tree_and_a_second_import_changes_only_what_changed(server, server_db_url, tmp_path,
                                                                               capsys):
    status, out, err = import_csv(tmp_path, server_db_url, PROVINCE_CSV, capsys)
    assert status == 0, err
    assert "8 added, 0 renamed, 0 moved, 0 unchanged" in out
    assert server.count("nodes") == 8
    office = server.rows("nodes", code="BD-MC")[0]
    assert (office["kind"], office["parent_id"]) == ("office", node_id(server, "00004"))
    renamed = PROVINCE_CSV.replace("Phường Ngọc Hà,unit", "Phường Ngọc Hà (mới),unit")
    status, out, err = import_csv(tmp_path, server_db_url, "\ufeff" + renamed, capsys)  # Excel's BOM too
    assert status == 0, err
    assert "0 added, 1 renamed, 0 moved, 7 unchanged" in out
    status, out, _ = run(["tree", "--db", server_db_url], capsys)
    assert status == 0 and "Phường Ngọc Hà (mới)  [unit 00008]" in out
    assert out.index("Thành phố Hà Nội") < out.index("Phường Ba Đình") < out.index("Quầy 1")


@pytest.mark.parametrize("bad_line, words", [
    ("BD-Q3,Quầy 3,window,BD-MC", "line 10: kind 'window' is not one of province, unit, office, counter"),
    (",Quầy 3,counter,BD-MC", "line 10: the code is empty"),
    ("BD-Q1,Quầy 3,counter,BD-MC", "line 10: the code BD-Q1 is already on line 6"),
    ("BD-Q3,Quầy 3,counter,NOPE", "line 10: parent_code NOPE is neither in the file nor on the server"),
    ("BD-Q3,Quầy 3,counter,00004", "line 10: a counter's parent must be a office, but 00004 (Phường Ba Đình) is a unit"),
    ("BD-Q3,,counter,BD-MC", "line 10: the name is empty"),
    ("BD-Q3,Quầy 3,counter,", "line 10: a counter needs parent_code"),
    ("BD-Q3,Quầy 3", "line 10: has 2 columns"),
])
def test_a_bad_line_is_named_and_nothing_of_the_file_is_imported(server, server_db_url, tmp_path, capsys,
                                                                  bad_line, words):
    status, out, err = import_csv(tmp_path, server_db_url, PROVINCE_CSV + bad_line + "\n", capsys)
    assert status == 2, out
    assert words in err
    assert server.count("nodes") == 0  # the eight good lines before it are not imported either


def test_a_node_cannot_change_kind_and_the_whole_file_is_refused(server, server_db_url, tmp_path, capsys):
    assert import_csv(tmp_path, server_db_url, PROVINCE_CSV, capsys)[0] == 0
    changed = PROVINCE_CSV.replace("Phường Ngọc Hà,unit", "Phường Ngọc Hà (mới),unit") + "BD-Q2,Quầy 2,office,00004\n"
    status, _, err = import_csv(tmp_path, server_db_url, changed, capsys)
    assert status == 2 and "the code BD-Q2 is already on line 7" in err
    changed = PROVINCE_CSV.replace("BD-Q2,Quầy 2,counter,BD-MC", "BD-Q2,Quầy 2,office,00004")
    changed = changed.replace("Phường Ngọc Hà,unit", "Phường Ngọc Hà (mới),unit")
    status, _, err = import_csv(tmp_path, server_db_url, changed, capsys)
    assert status == 2 and "line 7: the code BD-Q2 is a counter on the server" in err and "nothing was imported" in err
    assert server.rows("nodes", code="00008")[0]["name"] == "Phường Ngọc Hà"  # the rename before it was undone


def test_dry_run_says_what_would_change_and_changes_nothing(server, server_db_url, tmp_path, capsys):
    status, out, err = import_csv(tmp_path, server_db_url, PROVINCE_CSV, capsys, "--dry-run")
    assert status == 0, err
    assert "would change: 8 added" in out and server.count("nodes") == 0


def test_tree_csv_goes_back_in_unchanged(server, server_db_url, tmp_path, capsys):
    assert import_csv(tmp_path, server_db_url, PROVINCE_CSV, capsys)[0] == 0
    server.enroll(site="UBND xã Cũ", counter="Quầy A")  # a node made the old way, without a code
    status, written, _ = run(["tree", "--csv", "--db", server_db_url], capsys)
    assert status == 0 and "UBND xã Cũ" in written and ",#" in written
    status, out, err = import_csv(tmp_path, server_db_url, written, capsys)
    assert status == 0, err
    assert "0 added, 0 renamed, 0 moved" in out


def test_enrolment_code_names_a_node_and_ratings_keep_the_place_they_were_given_at(server, server_db_url,
                                                                                      tmp_path, capsys):
    assert import_csv(tmp_path, server_db_url, PROVINCE_CSV, capsys)[0] == 0
    status, out, err = run(["enroll-code", "--node", "BD-Q1", "--db", server_db_url], capsys)
    assert status == 0, err
    assert "Phường Ba Đình / Quầy 1" in err
    answer = server.post("/api/v1/enroll", json={"code": out.strip()})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["site"], body["counter"]) == ("Phường Ba Đình", "Quầy 1")
    terminal = EnrolledTerminal(body["terminal_id"], body["device_token"])
    assert server.upload(terminal, make_batch([make_rating(terminal.id) for _ in range(3)])).status_code == 200

    status, out, err = run(["move", terminal.id, "NH-Q1", "--db", server_db_url], capsys)
    assert status == 0, err
    assert "now stands at Phường Ngọc Hà / Quầy 1" in out
    # The server remembers the terminal's token and place; the move still reaches the next batch.
    later = [make_rating(terminal.id, monotonic_ns=7_000_000_000 + i) for i in range(2)]
    assert server.upload(terminal, make_batch(later)).status_code == 200

    by_unit = {}
    for row in server.rows("ratings"):
        by_unit.setdefault(row["unit_id"], []).append((row["site"], row["counter"], row["office_id"],
                                                       row["counter_id"], row["province_id"]))
    province = node_id(server, "01")
    assert by_unit == {
        node_id(server, "00004"): [("Phường Ba Đình", "Quầy 1", node_id(server, "BD-MC"), node_id(server, "BD-Q1"),
                                    province)] * 3,
        node_id(server, "00008"): [("Phường Ngọc Hà", "Quầy 1", node_id(server, "NH-MC"), node_id(server, "NH-Q1"),
                                    province)] * 2}
    tallies = {(row["unit_id"], row["counter_id"]): row["n"] for row in server.rows("rating_tallies")}
    assert tallies == {(node_id(server, "00004"), node_id(server, "BD-Q1")): 3,
                       (node_id(server, "00008"), node_id(server, "NH-Q1")): 2}

    # Renaming a unit changes its name, not which ratings it holds; the terminal's names follow the tree.
    renamed = PROVINCE_CSV.replace("00008,Phường Ngọc Hà,", "00008,Phường Ngọc Hà mới,")
    assert import_csv(tmp_path, server_db_url, renamed, capsys)[0] == 0
    assert server.rows("terminals", id=terminal.id)[0]["site"] == "Phường Ngọc Hà mới"
    with server.engine.connect() as conn:
        from server.schema import ratings

        held = conn.execute(select(func.count()).where(ratings.c.unit_id == node_id(server, "00008"))).scalar()
    assert held == 2


def test_a_terminal_stands_at_a_counter_or_an_office_only(server, server_db_url, tmp_path, capsys):
    assert import_csv(tmp_path, server_db_url, PROVINCE_CSV, capsys)[0] == 0
    status, _, err = run(["enroll-code", "--node", "00004", "--db", server_db_url], capsys)
    assert status == 2 and "a terminal stands at a counter or an office, not at a unit" in err
    status, _, err = run(["enroll-code", "--node", "NOPE", "--db", server_db_url], capsys)
    assert status == 2 and "no node has the code or id 'NOPE'" in err
    status, _, err = run(["enroll-code", "--node", "BD-Q1", "--site", "X", "--db", server_db_url], capsys)
    assert status == 2 and "either --node or --site" in err
    assert server.count("enrollment_codes") == 0
    terminal = server.enroll()
    status, _, err = run(["move", terminal.id, "01", "--db", server_db_url], capsys)
    assert status == 2 and "not at a province" in err
    status, _, err = run(["move", "no-such-terminal", "BD-Q1", "--db", server_db_url], capsys)
    assert status == 1 and "no terminal has the id 'no-such-terminal'" in err


def test_sites_named_the_old_way_land_in_the_tree_and_a_later_import_gives_them_codes(server, server_db_url,
                                                                                       tmp_path, capsys):
    old = server.enroll(site="Phường Ba Đình", counter="Quầy 1")
    row, = server.rows("terminals", id=old.id)
    unit, = server.rows("nodes", kind="unit")
    assert unit["name"] == "Phường Ba Đình" and unit["code"] is None and row["unit_id"] == unit["id"]
    province, = server.rows("nodes", kind="province")
    assert province["name"] == "Tỉnh"
    # The import's rows find the nodes without codes by kind and name under the same parent.
    csv = PROVINCE_CSV.replace("Bộ phận Một cửa phường Ba Đình", "Bộ phận Một cửa")
    status, out, err = import_csv(tmp_path, server_db_url, csv, capsys)
    assert status == 0, err
    assert server.count("nodes") == 8
    assert server.rows("nodes", code="00004")[0]["id"] == unit["id"]
    assert server.rows("nodes", code="01")[0]["id"] == province["id"]
    assert server.rows("nodes", code="01")[0]["name"] == "Thành phố Hà Nội"
    assert server.rows("terminals", id=old.id)[0]["counter_id"] == node_id(server, "BD-Q1")


def test_the_api_lists_where_each_terminal_stands(server, server_db_url, tmp_path, capsys):
    assert import_csv(tmp_path, server_db_url, PROVINCE_CSV, capsys)[0] == 0
    terminal = server.enroll(site="Phường Ba Đình", counter="Quầy 9")
    listed, = server.get("/api/v1/terminals", headers=server.admin_headers()).json()["terminals"]
    assert listed["id"] == terminal.id
    assert listed["node_id"] == server.rows("terminals", id=terminal.id)[0]["node_id"]
    node, = server.rows("nodes", id=listed["node_id"])
    assert (node["kind"], node["name"]) == ("counter", "Quầy 9")


# -- reading only what is needed (issue 11 §5: a national tree has 18,626 nodes) -----------------------------

def whole_tree_reads(engine):
    """A list that gathers the statements reading the whole ``nodes`` table (``all_nodes``'s), while it lives."""
    from sqlalchemy import event

    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        flat = " ".join(statement.split()).lower()
        if "from nodes" in flat and "where" not in flat and "limit" not in flat:
            seen.append(flat)

    event.listen(engine, "before_cursor_execute", before)
    return seen, lambda: event.remove(engine, "before_cursor_execute", before)


def test_lineage_and_subtree_read_only_their_nodes_and_agree_with_the_whole_tree(server, server_db_url, tmp_path,
                                                                               capsys):
    from server import org_tree

    assert import_csv(tmp_path, server_db_url, PROVINCE_CSV, capsys)[0] == 0
    with server.engine.connect() as conn:
        tree = org_tree.all_nodes(conn)
        seen, stop = whole_tree_reads(server.engine)
        try:
            for node_id_ in tree:
                line = org_tree.lineage_nodes(conn, node_id_)
                assert org_tree.lineage(conn, node_id_) == org_tree.lineage(conn, node_id_, tree=tree)
                assert org_tree.path_words(line, node_id_) == org_tree.path_words(tree, node_id_)
                assert org_tree.subtree_ids(conn, node_id_) == org_tree.subtree_ids(conn, node_id_, tree=tree)
                assert set(org_tree.subtree_nodes(conn, node_id_)) == org_tree.subtree_ids(conn, node_id_, tree=tree)
                if tree[node_id_].kind in ("counter", "office"):
                    assert org_tree.placement(conn, node_id_) == org_tree.placement(conn, node_id_, tree=tree)
            with pytest.raises(org_tree.UnknownNode):
                org_tree.lineage(conn, 10**9)
        finally:
            stop()
    assert seen == []
    assert len(org_tree.lineage(server.engine.connect(), node_id(server, "NH-Q1"))) == 4


def test_enrolment_and_scope_checks_never_read_the_whole_tree(server, server_db_url, tmp_path, capsys):
    from server.access import Caller, node_in_scope
    from server.fleet_actions import issue_codes, move

    assert import_csv(tmp_path, server_db_url, PROVINCE_CSV, capsys)[0] == 0
    unit = Caller(99, "qt.ngoc.ha", "QT", "unit_admin", node_id(server, "00008"))
    whole = Caller(98, "qt.tinh", "QT", "province_admin", None)
    seen, stop = whole_tree_reads(server.engine)
    try:
        issued = issue_codes(server.engine, "NH-Q1", count=2, ttl_s=3600, caller=unit, now_ns=time.time_ns())
        answer = server.post("/api/v1/enroll", json={"code": issued.codes[0], "app_version": "0.1.0"})
        assert answer.status_code == 201, answer.text
        assert (answer.json()["site"], answer.json()["counter"]) == ("Phường Ngọc Hà", "Quầy 1")
        moved = move(server.engine, answer.json()["terminal_id"], "BD-Q2", caller=whole, now_ns=time.time_ns())
        assert moved.to_path == "Thành phố Hà Nội › Phường Ba Đình › Bộ phận Một cửa phường Ba Đình › Quầy 2"
        with server.engine.connect() as conn:
            inside = {code: node_in_scope(conn, unit, node_id(server, code)) for code in
                      ("01", "00004", "00008", "BD-MC", "NH-MC", "BD-Q1", "NH-Q1")}
            assert node_in_scope(conn, unit, 10**9) is False
    finally:
        stop()
    assert seen == []
    assert inside == {"01": False, "00004": False, "00008": True, "BD-MC": False, "NH-MC": True, "BD-Q1": False,
                      "NH-Q1": True}
    assert issued.path == "Thành phố Hà Nội › Phường Ngọc Hà › Bộ phận Một cửa phường Ngọc Hà › Quầy 1"
    placed = server.rows("terminals")[0]
    assert (placed["site"], placed["counter"], placed["counter_id"]) == ("Phường Ba Đình", "Quầy 2",
                                                                         node_id(server, "BD-Q2"))

"""The admin API of the organisation tree and the fleet's actions (issue 11 §1), on both backends over real
uvicorn: GET/POST /api/v1/tree (CSV, dry run, a bad line named and nothing imported), POST
/api/v1/enrollment-codes, POST /api/v1/terminals/{id}/move and /revoke."""

from __future__ import annotations

import pytest

from server_fixtures import *  # noqa: F403
from server_fixtures import EnrolledTerminal

TREE_CSV = """code,name,kind,parent_code
01,Thành phố Hà Nội,province,
00004,Phường Ba Đình,unit,01
00008,Phường Ngọc Hà,unit,01
BD-MC,Bộ phận Một cửa phường Ba Đình,office,00004
BD-Q1,Quầy 1,counter,BD-MC
BD-Q2,Quầy 2,counter,BD-MC
NH-MC,Bộ phận Một cửa phường Ngọc Hà,office,00008
NH-Q1,Quầy 1,counter,NH-MC
"""
#: Line 7 names a parent that is neither in the file nor on the server.
BAD_CSV = TREE_CSV.replace("BD-Q2,Quầy 2,counter,BD-MC", "BD-Q2,Quầy 2,counter,KHONG-CO")
CSV_HEADERS = {"Content-Type": "text/csv; charset=utf-8"}


def post_tree(server, text: str, headers: dict, **params):
    return server.post("/api/v1/tree", data=text.encode("utf-8"), headers={**headers, **CSV_HEADERS},
                       params=params)


def node_id(server, code: str) -> int:
    row, = server.rows("nodes", code=code)
    return row["id"]


@pytest.fixture
def admin(server) -> dict:
    return server.admin_headers()


@pytest.fixture
def tree(server, admin) -> None:
    answer = post_tree(server, TREE_CSV, admin)
    assert answer.status_code == 200, answer.text


def enrol_at(server, admin, node: str) -> EnrolledTerminal:
    answer = server.post("/api/v1/enrollment-codes", json={"node": node}, headers=admin)
    assert answer.status_code == 201, answer.text
    enrolled = server.post("/api/v1/enroll", json={"code": answer.json()["codes"][0], "app_version": "0.1.0"})
    assert enrolled.status_code == 201, enrolled.text
    return EnrolledTerminal(enrolled.json()["terminal_id"], enrolled.json()["device_token"])


def test_dry_run_says_what_would_change_then_the_import_does_it(server, admin):
    answer = post_tree(server, TREE_CSV, admin, dry_run="true")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["dry_run"], body["rows"], body["added"], body["renamed"]) == (True, 8, 8, 0)
    assert {change["code"] for change in body["changes"]} == {"01", "00004", "00008", "BD-MC", "BD-Q1", "BD-Q2",
                                                              "NH-MC", "NH-Q1"}
    assert server.count("nodes") == 0

    answer = post_tree(server, TREE_CSV, admin)
    assert answer.status_code == 200 and answer.json()["added"] == 8 and not answer.json()["dry_run"]
    assert server.count("nodes") == 8
    again = post_tree(server, TREE_CSV.replace("Quầy 2,counter", "Quầy số 2,counter"), admin, dry_run="true")
    assert (again.json()["renamed"], again.json()["unchanged"]) == (1, 7)
    assert again.json()["changes"] == [{"change": "renamed", "id": node_id(server, "BD-Q2"), "kind": "counter",
                                        "code": "BD-Q2", "name": "Quầy số 2",
                                        "path": "Thành phố Hà Nội › Phường Ba Đình › Bộ phận Một cửa phường Ba Đình"
                                                " › Quầy số 2"}]
    assert server.rows("nodes", code="BD-Q2")[0]["name"] == "Quầy 2"


def test_a_bad_line_is_named_and_nothing_is_imported(server, admin):
    answer = post_tree(server, BAD_CSV, admin)
    assert answer.status_code == 422
    body = answer.json()
    assert body["ok"] is False and body["field"] == "line 7"
    assert body["error"].startswith("line 7: parent_code KHONG-CO is neither in the file nor on the server")
    assert "nothing was imported" in body["error"]
    assert server.count("nodes") == 0
    assert post_tree(server, "code,name\n1,x\n", admin).json()["field"] == "line 1"
    not_utf8 = server.post("/api/v1/tree", data="code,name,kind,parent_code\n01,Hà Nam,province,\n".encode("latin-1"),
                           headers={**admin, **CSV_HEADERS})
    assert not_utf8.status_code == 422 and "UTF-8" in not_utf8.json()["error"]
    assert server.count("nodes") == 0


def test_the_tree_reads_back_as_json_and_as_the_csv_it_came_from(server, admin, tree):
    terminal = enrol_at(server, admin, "BD-Q1")
    assert terminal.id
    nodes = {node["code"]: node for node in server.get("/api/v1/tree", headers=admin).json()["nodes"]}
    assert (nodes["01"]["depth"], nodes["NH-Q1"]["depth"], nodes["BD-Q1"]["kind"]) == (0, 3, "counter")
    assert (nodes["BD-Q1"]["terminals_here"], nodes["00004"]["terminals"], nodes["01"]["terminals"],
            nodes["00008"]["terminals"]) == (1, 1, 1, 0)
    as_csv = server.get("/api/v1/tree", params={"format": "csv"}, headers=admin)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    again = post_tree(server, as_csv.text, admin, dry_run="true").json()
    assert (again["added"], again["renamed"], again["moved"], again["unchanged"]) == (0, 0, 0, 8)


@pytest.mark.parametrize("headers, status", [({}, 401), ({"Authorization": "Bearer hl_adm_nope"}, 401)])
def test_the_tree_needs_an_admin_token(server, headers, status):
    assert server.get("/api/v1/tree", headers=headers).status_code == status
    assert post_tree(server, TREE_CSV, headers).status_code == status
    assert server.post("/api/v1/enrollment-codes", json={"node": "BD-Q1"}, headers=headers).status_code == status
    assert server.count("nodes") == 0


def test_the_import_takes_only_csv(server, admin):
    answer = server.post("/api/v1/tree", json={"code": "01"}, headers=admin)
    assert answer.status_code == 415 and answer.json()["ok"] is False


def test_codes_enrol_then_a_move_counts_the_next_batch_at_the_new_counter_and_a_revoke_refuses_the_next(
        server, admin, tree):
    terminal = enrol_at(server, admin, "BD-Q1")
    assert server.upload(terminal, make_batch([make_rating(terminal.id) for _ in range(3)])).status_code == 200

    moved = server.post(f"/api/v1/terminals/{terminal.id}/move", json={"node": "NH-Q1"}, headers=admin)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["site"], moved.json()["counter"]) == ("Phường Ngọc Hà", "Quầy 1")
    later = [make_rating(terminal.id, monotonic_ns=7_000_000_000 + i) for i in range(2)]
    assert server.upload(terminal, make_batch(later)).status_code == 200
    counted = {}
    for row in server.rows("ratings"):
        counted[row["counter_id"]] = counted.get(row["counter_id"], 0) + 1
    assert counted == {node_id(server, "BD-Q1"): 3, node_id(server, "NH-Q1"): 2}

    revoked = server.post(f"/api/v1/terminals/{terminal.id}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    last = [make_rating(terminal.id, monotonic_ns=8_000_000_000)]
    assert server.upload(terminal, make_batch(last)).status_code == 401
    assert server.count("ratings") == 5


def test_codes_come_as_enrolment_strings_when_the_public_url_is_set(start_server):
    server = start_server(public_url="https://hailong.example.vn/")
    admin = server.admin_headers()
    assert post_tree(server, TREE_CSV, admin).status_code == 200
    answer = server.post("/api/v1/enrollment-codes", json={"node": "NH-Q1", "count": 3, "expires_s": 3600},
                         headers=admin)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert len(body["codes"]) == len(set(body["codes"])) == 3 and all(c.startswith("hl_enr_") for c in body["codes"])
    assert all(s.startswith("hailong1:") for s in body["strings"])
    assert body["path"].endswith("Phường Ngọc Hà › Bộ phận Một cửa phường Ngọc Hà › Quầy 1")
    assert server.count("enrollment_codes", node_id=node_id(server, "NH-Q1")) == 3


@pytest.mark.parametrize("request_body, field", [
    ({"node": "KHONG-CO"}, "node"),          # no such node
    ({"node": "00004"}, "node"),             # a unit: terminals stand at counters
    ({"node": "BD-Q1", "count": 0}, "count"),
    ({"node": "BD-Q1", "count": 501}, "count"),
    ({"node": "BD-Q1", "expires_s": 10}, "expires_s"),
    ({"node": "BD-Q1\u0000"}, "node"),
    ({"node": "BD-Q1", "colour": "red"}, "colour"),
])
def test_bad_code_requests_are_refused_naming_the_field_and_issue_nothing(server, admin, tree, request_body, field):
    answer = server.post("/api/v1/enrollment-codes", json=request_body, headers=admin)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert server.count("enrollment_codes") == 0


def test_moving_or_revoking_what_is_not_there(server, admin, tree):
    terminal = enrol_at(server, admin, "BD-Q1")
    assert server.post("/api/v1/terminals/nope/move", json={"node": "NH-Q1"}, headers=admin).status_code == 404
    assert server.post("/api/v1/terminals/nope/revoke", headers=admin).status_code == 404
    to_unit = server.post(f"/api/v1/terminals/{terminal.id}/move", json={"node": "00008"}, headers=admin)
    assert to_unit.status_code == 422 and to_unit.json()["field"] == "node"
    assert server.rows("terminals", id=terminal.id)[0]["counter_id"] == node_id(server, "BD-Q1")
    device = server.post(f"/api/v1/terminals/{terminal.id}/revoke", headers=terminal.headers)
    assert device.status_code == 403
    assert server.rows("terminals", id=terminal.id)[0]["revoked_at"] is None


def token_of(server, username: str, role: str, scope_code: str | None = None) -> dict:
    """Admin headers of an account with ``role``, scoped to the node of ``scope_code`` (None: the whole server)."""
    from server.accounts import issue_admin_token
    from server.db import write_transaction

    person = server.person(username, role=role, scope_node_id=node_id(server, scope_code) if scope_code else None)
    with server.engine.connect() as conn, write_transaction(conn):
        token = issue_admin_token(conn, name=username, account_id=person.id, now_ns=server.app.state.clock())
    return {"Authorization": f"Bearer {token}"}


def test_a_technician_enrols_moves_and_revokes_inside_their_unit_only(server, admin, tree):
    theirs, other = enrol_at(server, admin, "NH-Q1"), enrol_at(server, admin, "BD-Q1")
    post_tree(server, TREE_CSV + "NH-Q2,Quầy 2,counter,NH-MC\n", admin)
    tech = token_of(server, "ky.thuat", "technician", "00008")

    nodes = {node["code"] for node in server.get("/api/v1/tree", headers=tech).json()["nodes"]}
    assert nodes == {"01", "00008", "NH-MC", "NH-Q1", "NH-Q2"}
    assert [t["id"] for t in server.get("/api/v1/terminals", headers=tech).json()["terminals"]] == [theirs.id]
    assert server.post("/api/v1/enrollment-codes", json={"node": "NH-Q2"}, headers=tech).status_code == 201
    outside = server.post("/api/v1/enrollment-codes", json={"node": "BD-Q1"}, headers=tech)
    assert outside.status_code == 422 and outside.json()["field"] == "node"
    assert server.post(f"/api/v1/terminals/{theirs.id}/move", json={"node": "BD-Q2"},
                       headers=tech).status_code == 422
    assert server.post(f"/api/v1/terminals/{other.id}/move", json={"node": "NH-Q2"}, headers=tech).status_code == 404
    assert server.post(f"/api/v1/terminals/{other.id}/revoke", headers=tech).status_code == 404
    assert server.post(f"/api/v1/terminals/{theirs.id}/move", json={"node": "NH-Q2"},
                       headers=tech).status_code == 200
    assert server.post(f"/api/v1/terminals/{theirs.id}/revoke", headers=tech).status_code == 200
    refused = post_tree(server, TREE_CSV, tech)
    assert refused.status_code == 403 and refused.json()["ok"] is False
    assert server.rows("terminals", id=other.id)[0]["revoked_at"] is None
    assert server.rows("terminals", id=other.id)[0]["counter_id"] == node_id(server, "BD-Q1")


@pytest.mark.parametrize("role, scope", [("inspector", None), ("viewer", None), ("unit_admin", "00004")])
def test_who_may_not_change_the_tree_or_the_fleet_gets_403_and_changes_nothing(server, admin, tree, role, scope):
    terminal = enrol_at(server, admin, "BD-Q1")
    headers = token_of(server, f"user.{role}", role, scope)
    assert post_tree(server, TREE_CSV.replace("Quầy 2", "Quầy hai"), headers).status_code == 403
    writes = role != "unit_admin"  # a unit admin enrols, moves and revokes in their unit
    expected = 403 if writes else 201
    assert server.post("/api/v1/enrollment-codes", json={"node": "BD-Q2"}, headers=headers).status_code == expected
    expected = 403 if writes else 200
    assert server.post(f"/api/v1/terminals/{terminal.id}/move", json={"node": "BD-Q2"},
                       headers=headers).status_code == expected
    assert server.post(f"/api/v1/terminals/{terminal.id}/revoke", headers=headers).status_code == expected
    assert server.get("/api/v1/tree", headers=headers).status_code == 200
    assert server.rows("nodes", code="BD-Q2")[0]["name"] == "Quầy 2"
    if writes:
        assert server.count("enrollment_codes") == 1
        assert server.rows("terminals", id=terminal.id)[0]["revoked_at"] is None

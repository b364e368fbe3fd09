"""Issue 11 §3: account and role changes, tree imports and moves leave one audit entry each, with the right actor,
action, subject and scope, never a secret, and the chain still verifies. Both backends."""

from __future__ import annotations

import json
import re

import pytest
import requests
from sqlalchemy import select

from dashboard_fixtures import dash, log_in  # noqa: F401 (dash: a fixture)
from server.schema import audit_log, nodes
from server_fixtures import *  # noqa: F403
from test_people import csrf_of, form_post, turn_totp_on
from test_people_cli import run

pytestmark = pytest.mark.usefixtures("no_server_settings")

PASSWORD = "một câu thật dài làm mật khẩu"
TREE_CSV = """code,name,kind,parent_code
01,Thành phố Hà Nội,province,
09552,Phường Phúc La,unit,01
09556,Phường Hà Cầu,unit,01
PL-MC,Bộ phận Một cửa phường Phúc La,office,09552
PL-Q1,Quầy 1,counter,PL-MC
HC-MC,Bộ phận Một cửa phường Hà Cầu,office,09556
HC-Q1,Quầy 1,counter,HC-MC
"""
#: What is recorded besides the actions tested here (each start's settings, dashboard logins).
AROUND = {"settings_change", "login", "logout"}


def entries(server) -> list[dict]:
    with server.engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()]
    return [{**r, "details": json.loads(r["details"])} for r in rows if r["action"] not in AROUND]


def node_id(server, code: str) -> int:
    with server.engine.connect() as conn:
        return conn.execute(select(nodes.c.id).where(nodes.c.code == code)).scalar_one()


def import_tree(capsys, monkeypatch, db_url: str, tmp_path, *more: str) -> tuple[int, str, str]:
    path = tmp_path / "tinh.csv"
    path.write_text(TREE_CSV, encoding="utf-8")
    return run(capsys, monkeypatch, "import-tree", str(path), *more, "--db", db_url)


def check_chain(capsys, monkeypatch, db_url: str) -> None:
    code, out, err = run(capsys, monkeypatch, "audit", "verify", "--db", db_url)
    assert code == 0 and "chain intact" in out, err


def test_tree_import_and_move_from_the_cli(start_server, server_db_url, capsys, monkeypatch, tmp_path):
    server = start_server(alert_check_interval_s=0)
    assert import_tree(capsys, monkeypatch, server_db_url, tmp_path, "--dry-run")[0] == 0
    assert entries(server) == []  # a dry run changes nothing and records nothing
    assert import_tree(capsys, monkeypatch, server_db_url, tmp_path)[0] == 0
    imported, = entries(server)
    assert (imported["action"], imported["subject"], imported["row_count"], imported["scope_node_id"]) == \
        ("tree_import", "tinh.csv", 7, None)
    assert imported["details"] == {"added": 7, "renamed": 0, "moved": 0, "unchanged": 0, "terminals_placed": 0}
    assert imported["actor"].startswith("kiosk-server CLI (") and imported["role"] == "cli"

    terminal = server.enroll()
    was = server.rows("terminals", id=terminal.id)[0]["node_id"]
    assert run(capsys, monkeypatch, "move", terminal.id, "HC-Q1", "--db", server_db_url)[0] == 0
    assert run(capsys, monkeypatch, "move", terminal.id, "no-such-node", "--db", server_db_url)[0] == 2
    moved = [r for r in entries(server) if r["action"] == "move"]
    assert [(r["subject"], r["scope_node_id"], r["details"]) for r in moved] == [
        (terminal.id, node_id(server, "HC-Q1"), {"from": was, "to": node_id(server, "HC-Q1")})]
    check_chain(capsys, monkeypatch, server_db_url)


def test_account_changes_from_the_cli(start_server, server_db_url, capsys, monkeypatch, tmp_path):
    server = start_server(alert_check_interval_s=0)
    import_tree(capsys, monkeypatch, server_db_url, tmp_path)
    unit = node_id(server, "09552")
    steps = [("create-admin", "an.admin", "--password-stdin"),
             ("create-account", "binh.xem", "--role", "viewer", "--scope", "09552", "--password-stdin"),
             ("create-account", "chi.thanhtra", "--role", "inspector", "--name", "Chị Thanh Tra", "--password-stdin"),
             ("disable-account", "binh.xem"), ("enable-account", "binh.xem"),
             ("reset-password", "binh.xem"), ("reset-password", "binh.xem", "--password-stdin", "--drop-totp")]
    for args in steps:
        code, out, err = run(capsys, monkeypatch, *args, "--db", server_db_url, stdin=PASSWORD + "\n")
        assert code == 0, (args, err)
        if args[0] == "reset-password" and "--password-stdin" not in args:
            one_time = out.strip()
    recorded = [r for r in entries(server) if r["action"] != "tree_import"]
    assert [(r["action"], r["subject"], r["scope_node_id"]) for r in recorded] == [
        ("account_create", "an.admin", None), ("account_create", "binh.xem", unit),
        ("account_create", "chi.thanhtra", None), ("account_change", "binh.xem", unit),
        ("account_change", "binh.xem", unit), ("password_reset", "binh.xem", unit),
        ("password_reset", "binh.xem", unit)]
    assert [r["details"] for r in recorded] == [
        {"role": "province_admin", "scope": None}, {"role": "viewer", "scope": unit},
        {"role": "inspector", "scope": None}, {"disabled": True, "was_disabled": False},
        {"disabled": False, "was_disabled": True}, {"one_time": True, "drop_totp": False},
        {"one_time": False, "drop_totp": True}]
    assert all(r["actor"].startswith("kiosk-server CLI (") and r["role"] == "cli" for r in recorded)
    assert PASSWORD not in repr(recorded) and one_time not in repr(recorded)
    check_chain(capsys, monkeypatch, server_db_url)


@pytest.mark.parametrize("args, option", [
    (["create-account", "x.unit", "--role", "unit_admin"], "--scope"),
    (["create-account", "x.tech", "--role", "technician"], "--scope"),
    (["create-account", "x.view", "--role", "viewer"], "--scope"),
    (["create-account", "x.god", "--role", "god"], "--role"),
    (["create-account", "x.view", "--role", "viewer", "--scope", "no-such-node"], "--scope"),
    (["create-account", "x.view", "--role", "viewer", "--scope", "#999999"], "--scope"),
    (["create-account", "Có Dấu", "--role", "inspector"], "USERNAME"),
])
def test_create_account_refuses_a_wrong_role_or_scope_naming_the_option(start_server, server_db_url, capsys,
                                                                        monkeypatch, tmp_path, args, option):
    server = start_server(alert_check_interval_s=0)
    import_tree(capsys, monkeypatch, server_db_url, tmp_path)
    code, _out, err = run(capsys, monkeypatch, *args, "--password-stdin", "--db", server_db_url,
                          stdin=PASSWORD + "\n")
    assert code == 2 and option in err and "Traceback" not in err, err
    assert server.rows("accounts") == [] and [r["action"] for r in entries(server)] == ["tree_import"]


@pytest.mark.parametrize("role, scope", [("province_admin", None), ("unit_admin", "09552"), ("viewer", "#2"),
                                         ("technician", "09556"), ("inspector", None)])
def test_create_account_makes_each_role(start_server, server_db_url, capsys, monkeypatch, tmp_path, role, scope):
    server = start_server(alert_check_interval_s=0)
    import_tree(capsys, monkeypatch, server_db_url, tmp_path)
    code, out, err = run(capsys, monkeypatch, "create-account", "nguoi.moi", "--role", role,
                         *(["--scope", scope] if scope else []), "--password-stdin", "--db", server_db_url,
                         stdin=PASSWORD + "\n")
    assert code == 0 and f"{role} nguoi.moi" in out, err
    row, = server.rows("accounts", username="nguoi.moi")
    expected = None if scope is None else (int(scope[1:]) if scope.startswith("#") else node_id(server, scope))
    assert (row["role"], row["scope_node_id"], row["must_change_password"]) == (role, expected, False)
    log_in(server, Person(row["id"], "nguoi.moi", PASSWORD))


def test_account_changes_on_the_dashboard(dash, server_db_url, capsys, monkeypatch, tmp_path):
    import_tree(capsys, monkeypatch, server_db_url, tmp_path)
    unit, other = node_id(dash, "09552"), node_id(dash, "09556")
    admin = dash.person()
    session = log_in(dash, admin)
    before = len(entries(dash))
    made = form_post(dash, session, "/accounts", "/accounts/new", username="dao.xem", display_name="Đào Xem",
                     role="viewer", scope=str(unit))
    assert made.status_code == 201
    one_time = re.search(r'id="shown-password">([^<]+)<', made.text).group(1)
    target = dash.rows("accounts", username="dao.xem")[0]["id"]
    refused = form_post(dash, session, "/accounts", "/accounts/new", username="dao.xem", display_name="X",
                        role="viewer", scope="")
    assert refused.status_code == 422  # refused: nothing recorded
    for action, data in (("disable", {}), ("enable", {}), ("role", {"role": "technician", "scope": str(other)})):
        assert form_post(dash, session, "/accounts", f"/accounts/{target}/{action}", **data).status_code == 303
    reset = form_post(dash, session, "/accounts", f"/accounts/{target}/reset")
    assert reset.status_code == 200
    second = re.search(r'id="shown-password">([^<]+)<', reset.text).group(1)

    recorded = entries(dash)[before:]
    assert [(r["action"], r["subject"], r["scope_node_id"]) for r in recorded] == [
        ("account_create", "dao.xem", unit), ("account_change", "dao.xem", unit),
        ("account_change", "dao.xem", unit), ("role_change", "dao.xem", other), ("password_reset", "dao.xem", other)]
    assert recorded[3]["details"] == {"from": {"role": "viewer", "scope": unit},
                                      "to": {"role": "technician", "scope": other}}
    assert all((r["actor"], r["actor_account_id"], r["role"], r["address"]) ==
               (admin.username, admin.id, "province_admin", "127.0.0.1") for r in recorded)
    assert one_time not in repr(recorded) and second not in repr(recorded)
    check_chain(capsys, monkeypatch, server_db_url)


def test_ones_own_password_and_second_factor_on_the_dashboard(dash, server_db_url, capsys, monkeypatch, tmp_path):
    import_tree(capsys, monkeypatch, server_db_url, tmp_path)
    unit = node_id(dash, "09552")
    person = dash.person("le.donvi", role="unit_admin", scope_node_id=unit)
    session = log_in(dash, person)
    new = "mật khẩu mới của đơn vị"
    assert form_post(dash, session, "/account", "/account/password", old=person.password, new=new,
                     repeat=new).status_code == 303
    assert form_post(dash, session, "/account", "/account/password", old="sai", new=new + "!",
                     repeat=new + "!").status_code == 422  # refused: nothing recorded
    secret = turn_totp_on(dash, session)
    assert form_post(dash, session, "/account", "/account/totp/off", password=new).status_code == 303
    recorded = entries(dash)
    recorded = recorded[[r["action"] for r in recorded].index("account_change"):]
    assert [(r["action"], r["subject"], r["scope_node_id"], r["details"]) for r in recorded] == [
        ("account_change", "le.donvi", unit, {"password": "changed"}),
        ("account_change", "le.donvi", unit, {"totp": "on"}), ("account_change", "le.donvi", unit, {"totp": "off"})]
    assert all((r["actor"], r["actor_account_id"], r["role"]) == ("le.donvi", person.id, "unit_admin")
               for r in recorded)
    assert new not in repr(recorded) and secret not in repr(recorded) and person.password not in repr(recorded)
    check_chain(capsys, monkeypatch, server_db_url)


# -- the tree and the fleet from the admin API and the dashboard (server/fleet_actions.py) ---------------------

def enrol(server, code: str) -> str:
    answer = server.post("/api/v1/enroll", json={"code": code, "app_version": "0.1.0"})
    assert answer.status_code == 201, answer.text
    return answer.json()["terminal_id"]


def test_tree_codes_moves_and_revocations_through_the_api(server, capsys, monkeypatch, server_db_url):
    admin = server.admin_headers()
    csv_headers = {**admin, "Content-Type": "text/csv; charset=utf-8"}
    assert server.post("/api/v1/tree", data=TREE_CSV.encode(), headers=csv_headers,
                       params={"dry_run": "true"}).status_code == 200
    assert entries(server) == []  # a dry run is not recorded
    assert server.post("/api/v1/tree", data=TREE_CSV.encode(), headers=csv_headers).status_code == 200
    issued = server.post("/api/v1/enrollment-codes", json={"node": "PL-Q1", "count": 2}, headers=admin)
    assert issued.status_code == 201
    terminal_id = enrol(server, issued.json()["codes"][0])
    assert server.post(f"/api/v1/terminals/{terminal_id}/move", json={"node": "HC-Q1"},
                       headers=admin).status_code == 200
    assert server.post(f"/api/v1/terminals/{terminal_id}/move", json={"node": "no-such"},
                       headers=admin).status_code == 422  # refused: not recorded
    assert server.post(f"/api/v1/terminals/{terminal_id}/revoke", headers=admin).status_code == 200

    pl, hc = node_id(server, "PL-Q1"), node_id(server, "HC-Q1")
    recorded = [r for r in entries(server) if r["action"] != "enroll"]
    assert [(r["action"], r["subject"], r["row_count"], r["scope_node_id"]) for r in recorded] == [
        ("tree_import", None, 7, None),
        ("enroll_code", "Thành phố Hà Nội › Phường Phúc La › Bộ phận Một cửa phường Phúc La › Quầy 1", 2, pl),
        ("move", terminal_id, None, hc), ("revoke", terminal_id, None, hc)]
    assert recorded[0]["details"] == {"added": 7, "renamed": 0, "moved": 0, "unchanged": 0, "terminals_placed": 0}
    codes = recorded[1]["details"]["codes"]
    assert len(codes) == 2 and all(code not in repr(recorded) for code in issued.json()["codes"])
    enrolled, = [r for r in entries(server) if r["action"] == "enroll"]
    assert enrolled["details"]["code"] in codes  # the enrolment names the code issued here
    assert recorded[2]["details"] == {"from": pl, "to": hc}
    assert all((r["actor"], r["address"]) == ("test admin", "127.0.0.1") for r in recorded)
    check_chain(capsys, monkeypatch, server_db_url)


def test_tree_codes_moves_and_revocations_on_the_dashboard(dash, capsys, monkeypatch, server_db_url):
    admin = dash.person()
    session = log_in(dash, admin)
    html = session.get(dash.url + "/tree", timeout=30).text
    imported = session.post(dash.url + "/tree/import", data={"csrf": csrf_of(html), "action": "import"},
                            files={"file": ("tinh.csv", TREE_CSV.encode(), "text/csv")}, timeout=30)
    assert imported.status_code == 200, imported.text
    unit, pl, hc = node_id(dash, "09552"), node_id(dash, "PL-Q1"), node_id(dash, "HC-Q1")
    tech = dash.person("kt.phucla", role="technician", scope_node_id=unit)
    tech_session = log_in(dash, tech)
    issued = form_post(dash, tech_session, "/tree/codes", "/tree/codes", node="PL-Q1", count="1",
                       ttl_s=str(86400))
    assert issued.status_code == 200, issued.text
    code = re.search(r"hl_enr_[a-z2-7]+", issued.text).group(0)
    terminal_id = enrol(dash, code)
    page = f"/fleet/terminal/{terminal_id}"
    assert form_post(dash, tech_session, page, page + "/move", node="HC-Q1").status_code == 422  # not its unit
    assert form_post(dash, session, page, page + "/move", node="HC-Q1").status_code == 303
    assert form_post(dash, session, page, page + "/revoke", confirm="yes").status_code == 303

    recorded = [r for r in entries(dash) if r["action"] != "enroll"]
    assert [(r["action"], r["actor"], r["role"], r["subject"], r["scope_node_id"]) for r in recorded] == [
        ("tree_import", admin.username, "province_admin", "tinh.csv", None),
        ("enroll_code", "kt.phucla", "technician",
         "Thành phố Hà Nội › Phường Phúc La › Bộ phận Một cửa phường Phúc La › Quầy 1", pl),
        ("move", admin.username, "province_admin", terminal_id, hc),
        ("revoke", admin.username, "province_admin", terminal_id, hc)]
    assert recorded[1]["actor_account_id"] == tech.id and recorded[1]["row_count"] == 1
    assert recorded[2]["details"] == {"from": pl, "to": hc}
    assert all(r["address"] == "127.0.0.1" for r in recorded) and code not in repr(recorded)
    check_chain(capsys, monkeypatch, server_db_url)

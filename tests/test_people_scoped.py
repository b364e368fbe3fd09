"""Unit admins manage the accounts of their own subtree (issue 11 §2), over real HTTP on both backends.

A small province (two units, A and B, an office and a counter each). A unit admin of A lists, makes, resets,
disables, enables and re-roles the accounts of A's subtree; an account of B or of the whole server answers 404
as if it did not exist; a role or scope above its own reach (province admin, inspector, the whole server) is
refused 403 with the reason; every change is in the audit trail with who, which account and what changed.
The rules: :mod:`server.account_reach`, README "Accounts and logging in".
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from sqlalchemy import select

from dashboard_fixtures import dash, log_in, post_login  # noqa: F401
from server_fixtures import *  # noqa: F403
from test_people import csrf_of, form_post

TREE = """code,name,kind,parent_code
T99,Tỉnh Thử Nghiệm,province,
U01,Phường An Khánh,unit,T99
O01,Bộ phận Một cửa An Khánh,office,U01
C01,Quầy An Khánh,counter,O01
U02,Xã Bình Minh,unit,T99
O02,Bộ phận Một cửa Bình Minh,office,U02
C02,Quầy Bình Minh,counter,O02
"""
ACCOUNT_ACTIONS = ("account_create", "account_change", "role_change", "password_reset")


class Province:
    """The tree, a unit admin of A and the accounts around it."""

    def __init__(self, server):
        from server.db import write_transaction
        from server.org_tree import apply_tree, find_node, parse_tree

        self.server = server
        with server.engine.connect() as conn, write_transaction(conn):
            apply_tree(conn, parse_tree(TREE), now_ns=server.clock())
            self.node = {code: find_node(conn, code).id for code in ("T99", "U01", "O01", "C01", "U02", "O02", "C02")}
        self.admin = server.person("ua.an.khanh", role="unit_admin", scope_node_id=self.node["U01"])
        self.inside = server.person("xem.quay.a", role="viewer", scope_node_id=self.node["C01"])
        self.peer = server.person("ua.khac.a", role="unit_admin", scope_node_id=self.node["U01"])
        self.inspector = server.person("thanh.tra.a", role="inspector", scope_node_id=self.node["U01"])
        self.outside = server.person("xem.b", role="viewer", scope_node_id=self.node["U02"])
        self.province = server.person("qt.tinh", role="province_admin")
        self.session = log_in(server, self.admin)

    def post(self, action: str, **data) -> requests.Response:
        return form_post(self.server, self.session, "/accounts", action, **data)

    def account(self, person) -> dict:
        return self.server.rows("accounts", id=person.id)[0]

    def trail(self) -> list[dict]:
        from server.schema import audit_log

        with self.server.engine.connect() as conn:
            rows = conn.execute(select(audit_log).where(audit_log.c.action.in_(ACCOUNT_ACTIONS))
                                .order_by(audit_log.c.id)).mappings().all()
        return [{**row, "details": json.loads(row["details"]) if row["details"] else None} for row in rows]


@pytest.fixture
def province(dash):
    return Province(dash)


def error_of(answer: requests.Response) -> str:
    found = re.search(r'id="accounts-error">⚠ ([^<]+)<', answer.text)
    return found.group(1) if found else ""


def test_a_unit_admin_sees_only_its_subtrees_accounts_and_can_give_only_what_it_has(province):
    page = province.session.get(province.server.url + "/accounts", timeout=30)
    assert page.status_code == 200
    listed = set(re.findall(r'<tr id="account-([^"]+)"', page.text))
    assert listed == {"ua.an.khanh", "xem.quay.a", "ua.khac.a", "thanh.tra.a"}  # not B's, not the province's
    assert "Xã Bình Minh" not in page.text and "Toàn bộ máy chủ" not in page.text
    create = page.text.split('id="new-account"', 1)[1].split("</form>", 1)[0]
    assert re.findall(r'<option value="([^"]+)"', create.split('name="role"')[1].split("</select>")[0]) == [
        "unit_admin", "viewer", "technician"]
    assert re.findall(r'<option value="([^"]*)"', create.split('name="scope"')[1].split("</select>")[0]) == [
        "U01", "O01", "C01"]  # A's subtree, by path; no whole server, nothing of B
    # Forms for the accounts it may change; the inspector (above its reach) and itself have none.
    assert {int(n) for n in re.findall(r'action="/accounts/(\d+)/reset"', page.text)} == {
        province.inside.id, province.peer.id}
    assert "Vượt quyền của bạn" in page.text.split('id="account-thanh.tra.a"')[1].split("</tr>")[0]


def test_a_unit_admin_makes_resets_disables_and_re_roles_inside_its_subtree_and_each_is_recorded(province):
    server, node = province.server, province.node
    before = len(province.trail())
    made = province.post("/accounts/new", username="ky.thuat.a", display_name="Kỹ thuật A", role="technician",
                         scope="O01")
    assert made.status_code == 201, error_of(made)
    one_time = re.search(r'id="shown-password">([^<]+)<', made.text).group(1)
    new = server.rows("accounts", username="ky.thuat.a")[0]
    assert (new["role"], new["scope_node_id"], new["must_change_password"]) == ("technician", node["O01"], True)
    answer = post_login(server, requests.Session(), Person(new["id"], "ky.thuat.a", one_time))
    assert answer.status_code == 303 and answer.headers["Location"] == "/account"

    target = province.inside
    old_session = log_in(server, target)
    reset = province.post(f"/accounts/{target.id}/reset")
    assert reset.status_code == 200 and "Chỉ hiện lần này" in reset.text
    second = re.search(r'id="shown-password">([^<]+)<', reset.text).group(1)
    assert old_session.get(server.url + "/", allow_redirects=False, timeout=30).status_code == 303  # ended
    assert post_login(server, requests.Session(), Person(target.id, target.username, second)).status_code == 303

    assert province.post(f"/accounts/{target.id}/disable").status_code == 303
    assert province.account(target)["disabled_at"] is not None
    assert post_login(server, requests.Session(), Person(target.id, target.username, second)).status_code == 401
    assert province.post(f"/accounts/{target.id}/enable").status_code == 303
    assert province.account(target)["disabled_at"] is None
    moved = province.post(f"/accounts/{target.id}/role", role="unit_admin", scope="O01")
    assert moved.status_code == 303, error_of(moved)
    assert (province.account(target)["role"], province.account(target)["scope_node_id"]) == ("unit_admin", node["O01"])

    recorded = province.trail()[before:]
    assert [(r["action"], r["subject"], r["scope_node_id"], r["details"]) for r in recorded] == [
        ("account_create", "ky.thuat.a", node["O01"], {"role": "technician", "scope": node["O01"]}),
        ("password_reset", "xem.quay.a", node["C01"], {"one_time": True, "drop_totp": False}),
        ("account_change", "xem.quay.a", node["C01"], {"disabled": True, "was_disabled": False}),
        ("account_change", "xem.quay.a", node["C01"], {"disabled": False, "was_disabled": True}),
        ("role_change", "xem.quay.a", node["O01"], {"from": {"role": "viewer", "scope": node["C01"]},
                                                   "to": {"role": "unit_admin", "scope": node["O01"]}})]
    assert {(r["actor"], r["actor_account_id"], r["role"], r["address"]) for r in recorded} == {
        ("ua.an.khanh", province.admin.id, "unit_admin", "127.0.0.1")}
    assert one_time not in repr(recorded) and second not in repr(recorded)


@pytest.mark.parametrize("action", ["reset", "disable", "enable", "role"])
def test_an_account_outside_the_subtree_answers_as_if_it_did_not_exist(province, action):
    before = len(province.trail())
    data = {"role": "viewer", "scope": "U01"} if action == "role" else {}
    answers = {who: province.post(f"/accounts/{account_id}/{action}", **data) for who, account_id in (
        ("B", province.outside.id), ("whole server", province.province.id), ("nobody", 10**6))}
    assert {who: answer.status_code for who, answer in answers.items()} == {"B": 404, "whole server": 404,
                                                                           "nobody": 404}
    assert error_of(answers["B"]) == f"Không có tài khoản mang mã số {province.outside.id}."
    assert error_of(answers["nobody"]) == f"Không có tài khoản mang mã số {10**6}."
    assert "xem.b" not in answers["B"].text and "Xã Bình Minh" not in answers["B"].text
    outside, wide = province.account(province.outside), province.account(province.province)
    assert (outside["role"], outside["disabled_at"], outside["must_change_password"]) == ("viewer", None, False)
    assert (wide["role"], wide["scope_node_id"], wide["disabled_at"]) == ("province_admin", None, None)
    assert len(province.trail()) == before  # refused: nothing recorded


@pytest.mark.parametrize("action, data, status, words", [
    ("new", {"role": "province_admin", "scope": "U01"}, 403, ["Quản trị tỉnh", "xem nhật ký", "ua.an.khanh"]),
    ("new", {"role": "inspector", "scope": "C01"}, 403, ["Thanh tra", "xem nhật ký"]),
    ("new", {"role": "viewer", "scope": ""}, 403, ["toàn bộ máy chủ", "rộng hơn phạm vi của bạn"]),
    ("new", {"role": "viewer", "scope": "U02"}, 422, ["Không có nút “U02” trong phạm vi của bạn"]),
    ("new", {"role": "viewer", "scope": "T99"}, 422, ["Không có nút “T99” trong phạm vi của bạn"]),
    ("role inside", {"role": "province_admin", "scope": "C01"}, 403, ["Quản trị tỉnh", "xem nhật ký"]),
    ("role inside", {"role": "viewer", "scope": "U02"}, 422, ["Không có nút “U02” trong phạm vi của bạn"]),
    ("role inside", {"role": "technician", "scope": ""}, 403, ["toàn bộ máy chủ"]),
    ("role inspector", {"role": "viewer", "scope": "U01"}, 403, ["thanh.tra.a", "Thanh tra", "xem nhật ký"]),
    ("reset inspector", {}, 403, ["thanh.tra.a", "Thanh tra"]),
    ("disable inspector", {}, 403, ["thanh.tra.a", "Thanh tra"]),
    ("disable self", {}, 422, ["Không thể tự thay đổi tài khoản của mình"]),
    ("role self", {"role": "unit_admin", "scope": "O01"}, 422, ["Không thể tự thay đổi tài khoản của mình"]),
])
def test_a_unit_admin_cannot_reach_above_itself_and_the_refusal_says_why(province, action, data, status, words):
    verb, _, whom = action.partition(" ")
    target = {"inside": province.inside, "inspector": province.inspector, "self": province.admin}.get(whom)
    before = ({p.id: province.account(p) for p in (province.inside, province.inspector, province.admin)},
              len(province.trail()))
    path = "/accounts/new" if verb == "new" else f"/accounts/{target.id}/{verb}"
    answer = province.post(path, **({"username": "nguoi.moi", "display_name": "Người Mới"} if verb == "new" else {}),
                           **data)
    assert answer.status_code == status and all(word in error_of(answer) for word in words), error_of(answer)
    assert ({p.id: province.account(p) for p in (province.inside, province.inspector, province.admin)},
            len(province.trail())) == before
    assert province.server.rows("accounts", username="nguoi.moi") == []


def test_a_node_scoped_province_admin_gives_any_role_inside_its_node_but_not_the_whole_server(province):
    admin = province.server.person("qt.a", role="province_admin", scope_node_id=province.node["U01"])
    session = log_in(province.server, admin)
    for username, role in (("qt.quay.a", "province_admin"), ("tt.quay.a", "inspector")):
        made = form_post(province.server, session, "/accounts", "/accounts/new", username=username,
                         display_name=username, role=role, scope="C01")
        assert made.status_code == 201, error_of(made)
    wide = form_post(province.server, session, "/accounts", "/accounts/new", username="qt.toan.bo",
                     display_name="X", role="province_admin", scope="")
    assert wide.status_code == 403 and "toàn bộ máy chủ" in error_of(wide)
    # The inspector of A is inside its reach now (a province admin reads the audit trail too).
    assert form_post(province.server, session, "/accounts", f"/accounts/{province.inspector.id}/disable",
                     ).status_code == 303
    assert form_post(province.server, session, "/accounts",
                     f"/accounts/{province.outside.id}/disable").status_code == 404


def test_an_inspector_reads_the_accounts_of_its_scope_and_changes_none(province):
    session = log_in(province.server, province.inspector)
    page = session.get(province.server.url + "/accounts", timeout=30)
    assert page.status_code == 200 and "Chỉ xem" in page.text
    assert set(re.findall(r'<tr id="account-([^"]+)"', page.text)) == {
        "ua.an.khanh", "xem.quay.a", "ua.khac.a", "thanh.tra.a"}
    assert re.findall(r'action="/accounts/', page.text) == []  # no forms
    refused = session.post(province.server.url + f"/accounts/{province.inside.id}/disable",
                           data={"csrf": csrf_of(page.text)}, allow_redirects=False, timeout=30)
    assert refused.status_code == 403 and "không được quản lý tài khoản" in refused.text
    assert province.account(province.inside)["disabled_at"] is None


def test_a_large_subtree_gets_a_code_field_checked_by_the_server(province, monkeypatch):
    monkeypatch.setattr("server.account_reach.MAX_SCOPE_CHOICES", 2)  # A's subtree has 3 nodes
    page = province.session.get(province.server.url + "/accounts", timeout=30).text
    create = page.split('id="new-account"', 1)[1].split("</form>", 1)[0]
    assert re.search(r'<input name="scope" value="U01"', create) and "<option value=\"O01\"" not in page
    made = province.post("/accounts/new", username="xem.o01", display_name="Xem O01", role="viewer", scope=" O01 ")
    assert made.status_code == 201, error_of(made)
    assert province.server.rows("accounts", username="xem.o01")[0]["scope_node_id"] == province.node["O01"]
    for ref in ("C02", f"#{province.node['U02']}", "KHONG.CO"):
        refused = province.post("/accounts/new", username="xem.khac", display_name="X", role="viewer", scope=ref)
        assert refused.status_code == 422 and f"Không có nút “{ref}” trong phạm vi của bạn" in error_of(refused)

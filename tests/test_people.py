"""People's accounts over real HTTP, on both backends: logging in, the lock-out, TOTP, password change and reset,
disabling, the accounts page, and admin tokens that belong to accounts (also those of before the upgrade)."""

from __future__ import annotations

import logging
import re

import pyotp
import pytest
import requests
from sqlalchemy import text

from dashboard_fixtures import dash, log_in, post_login  # noqa: F401
from server_fixtures import *  # noqa: F403
from test_tree_migration import before_tree_url  # noqa: F401

WRONG = "Tên đăng nhập hoặc mật khẩu không đúng."


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def form_post(server, session: requests.Session, page: str, action: str, **data) -> requests.Response:
    """Open ``page`` in ``session`` and send one of its forms to ``action`` with its CSRF token."""
    html = session.get(server.url + page, allow_redirects=False, timeout=30).text
    return session.post(server.url + action, data={"csrf": csrf_of(html), **data}, allow_redirects=False, timeout=30)


def everything_stored(server) -> str:
    """Every row of every table, as text: to look for a secret in."""
    from server.schema import metadata

    with server.engine.connect() as conn:
        return "\n".join(str(row) for table in metadata.sorted_tables
                         for row in conn.execute(text(f"SELECT * FROM {table.name}")))


def totp_code(server, secret: str, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(server.clock.now_ns / 1e9 + 30 * steps)


def turn_totp_on(server, session: requests.Session) -> str:
    """Enrol the session's account in TOTP through the pages; returns the secret."""
    html = session.get(server.url + "/account/totp", timeout=30).text
    assert "<svg" in html and "otpauth://totp/" in html
    secret = re.search(r'id="totp-secret">([^<]+)<', html).group(1).replace(" ", "")
    pending = re.search(r'name="pending" value="([^"]+)"', html).group(1)
    answer = session.post(server.url + "/account/totp", allow_redirects=False, timeout=30,
                          data={"csrf": csrf_of(html), "pending": pending, "code": totp_code(server, secret)})
    assert answer.status_code == 303 and answer.headers["Location"] == "/account?done=totp-on"
    return secret


# -- passwords are hashes ---------------------------------------------------------------------------------

def test_passwords_are_argon2_hashes_never_the_text_in_the_database_or_the_log(dash, caplog):
    caplog.set_level(logging.DEBUG)
    person = dash.person("nguyen.an")
    session = log_in(dash, person)
    typed_wrong = "mật khẩu gõ nhầm vào ô tên"
    post_login(dash, requests.Session(), Person(0, typed_wrong, "x" * 12))  # a password typed as the user name
    new = "một câu dài làm mật khẩu mới"
    assert form_post(dash, session, "/account", "/account/password", old=person.password, new=new,
                     repeat=new).status_code == 303
    stored = dash.rows("accounts", username="nguyen.an")[0]["password_hash"]
    assert stored.startswith("$argon2id$v=19$") and new not in stored
    haystack = everything_stored(dash) + "\n".join(r.getMessage() for r in caplog.records)
    assert [p for p in (person.password, new, typed_wrong) if p in haystack] == []
    assert any("dashboard login failed" in r.getMessage() and "an unknown user name" in r.getMessage()
               for r in caplog.records)


# -- logging in ---------------------------------------------------------------------------------------------

def test_a_good_login_is_recorded_and_the_page_greets_the_person(dash):
    person = dash.person("tran.binh", display_name="Trần Bình")
    session = log_in(dash, person, next_path="/fleet")
    assert "Trần Bình" in session.get(dash.url + "/fleet", timeout=30).text
    row = dash.rows("accounts", username="tran.binh")[0]
    assert row["last_login_at"] is not None and row["failed_logins"] == 0
    assert len(dash.rows("dashboard_sessions", account_id=person.id)) == 1


def test_wrong_passwords_lock_the_account_then_time_or_a_reset_opens_it(dash):
    from server.dashboard.logins import ACCOUNT_FIRST_LOCK_S, ACCOUNT_FREE_FAILURES

    person = dash.person("le.cuong")
    for i in range(ACCOUNT_FREE_FAILURES):
        answer = post_login(dash, requests.Session(), person, password=f"đoán sai {i}")
        assert answer.status_code == 401 and WRONG in answer.text and "tạm khoá" not in answer.text
        dash.clock.advance(60)  # slowly: the lock-out per address stays out of the way
    answer = post_login(dash, requests.Session(), person, password="đoán sai lần nữa")
    assert answer.status_code == 401 and "Tài khoản tạm khoá" in answer.text and "15 phút" in answer.text
    dash.clock.advance(60)
    refused = post_login(dash, requests.Session(), person)  # even the right password is not looked at
    assert refused.status_code == 429 and "Tài khoản tạm khoá" in refused.text
    assert int(refused.headers["Retry-After"]) == ACCOUNT_FIRST_LOCK_S - 60
    assert dash.rows("accounts", id=person.id)[0]["failed_logins"] == ACCOUNT_FREE_FAILURES + 1
    dash.clock.advance(ACCOUNT_FIRST_LOCK_S)
    log_in(dash, person)  # the lock ran out; a good login forgives
    assert dash.rows("accounts", id=person.id)[0]["failed_logins"] == 0


def test_the_account_lock_doubles_and_a_reset_lifts_it(dash):
    from server.dashboard.logins import ACCOUNT_FIRST_LOCK_S, ACCOUNT_FREE_FAILURES, AccountLogins
    from server.db import write_transaction
    from server.people import reset_password

    person = dash.person("pham.dung")
    logins = AccountLogins(dash.engine, clock=dash.clock)
    locks = []
    for _ in range(ACCOUNT_FREE_FAILURES + 3):
        dash.clock.advance(locks[-1] if locks else 0)
        locks.append(logins.attempt(person.username, "sai mật khẩu rồi").locked_s)
    assert locks == [0] * ACCOUNT_FREE_FAILURES + [ACCOUNT_FIRST_LOCK_S, 2 * ACCOUNT_FIRST_LOCK_S,
                                                   4 * ACCOUNT_FIRST_LOCK_S]
    assert logins.attempt(person.username, person.password).kind == "locked"
    with dash.engine.connect() as conn, write_transaction(conn):
        one_time = reset_password(conn, person.id, now_ns=dash.clock())
    assert logins.attempt(person.username, one_time).ok


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(dash):
    person = dash.person("vo.em")
    unknown = post_login(dash, requests.Session(), Person(0, "khong.co.ai", person.password))
    wrong = post_login(dash, requests.Session(), person, password="không phải mật khẩu")
    assert unknown.status_code == wrong.status_code == 401
    assert re.search(r'id="login-error">([^<]+)<', unknown.text).group(1) == \
        re.search(r'id="login-error">([^<]+)<', wrong.text).group(1) == "⚠ " + WRONG


# -- TOTP ---------------------------------------------------------------------------------------------------

def test_totp_is_asked_checked_and_never_accepted_twice(dash):
    person = dash.person("hoang.giang")
    secret = turn_totp_on(dash, log_in(dash, person))
    assert dash.rows("accounts", id=person.id)[0]["totp_secret"] == secret
    needed = post_login(dash, requests.Session(), person)
    assert needed.status_code == 401 and "nhập mã 6 số" in needed.text and 'id="code"' in needed.text
    wrong_code = str((int(totp_code(dash, secret)) + 1) % 1_000_000).zfill(6)
    wrong = post_login(dash, requests.Session(), person, code=wrong_code)
    assert wrong.status_code == 401 and "Mã xác thực không đúng" in wrong.text
    dash.clock.advance(30)  # a fresh step: the code made when it was turned on is used up
    code = totp_code(dash, secret)
    assert post_login(dash, requests.Session(), person, code=code).status_code == 303
    replayed = post_login(dash, requests.Session(), person, code=code)
    assert replayed.status_code == 401 and "đã được dùng" in replayed.text
    dash.clock.advance(30)
    late = totp_code(dash, secret, -1)  # the step before now: still inside the window, but not newer than the last
    assert post_login(dash, requests.Session(), person, code=late).status_code == 401
    assert post_login(dash, requests.Session(), person, code=totp_code(dash, secret, 1)).status_code == 303  # +1 step
    dash.clock.advance(120)
    assert post_login(dash, requests.Session(), person, code=totp_code(dash, secret, -2)).status_code == 401  # too old


def test_totp_is_turned_on_only_with_a_good_code_and_off_only_with_the_password(dash):
    person = dash.person("do.hanh")
    session = log_in(dash, person)
    html = session.get(dash.url + "/account/totp", timeout=30).text
    pending = re.search(r'name="pending" value="([^"]+)"', html).group(1)
    answer = session.post(dash.url + "/account/totp", data={"csrf": csrf_of(html), "pending": pending,
                                                           "code": "000000"}, timeout=30)
    assert answer.status_code == 422 and "Mã xác thực không đúng" in answer.text
    other = dash.person("nguoi.khac")  # another account's enrolment form is not this one's
    forged = log_in(dash, other).get(dash.url + "/account/totp", timeout=30).text
    foreign = re.search(r'name="pending" value="([^"]+)"', forged).group(1)
    answer = session.post(dash.url + "/account/totp", data={"csrf": csrf_of(html), "pending": foreign,
                                                           "code": "123456"}, timeout=30)
    assert answer.status_code == 422 and "hết hạn" in answer.text
    assert dash.rows("accounts", id=person.id)[0]["totp_secret"] is None
    turn_totp_on(dash, session)
    refused = form_post(dash, session, "/account", "/account/totp/off", password="không đúng")
    assert refused.status_code == 422 and dash.rows("accounts", id=person.id)[0]["totp_secret"] is not None
    done = form_post(dash, session, "/account", "/account/totp/off", password=person.password)
    assert done.status_code == 303 and dash.rows("accounts", id=person.id)[0]["totp_secret"] is None
    log_in(dash, person)  # no code asked any more


# -- passwords changed and reset ------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, repeat, message", [
    ("sai", "một mật khẩu mới đủ dài", "một mật khẩu mới đủ dài", "Mật khẩu hiện tại không đúng."),
    (None, "ngắn", "ngắn", "Mật khẩu cần ít nhất 10 ký tự."),
    (None, "aaaaaaaaaaaa", "aaaaaaaaaaaa", "ít nhất 4 ký tự khác nhau"),
    (None, "một mật khẩu mới đủ dài", "một mật khẩu khác", "Hai lần nhập mật khẩu mới không giống nhau."),
    (None, "mật khẩu của ly.kim nè", "mật khẩu của ly.kim nè", "không được chứa tên đăng nhập"),
])
def test_a_bad_new_password_is_refused_with_a_sentence(dash, old, new, repeat, message):
    person = dash.person("ly.kim")
    session = log_in(dash, person)
    answer = form_post(dash, session, "/account", "/account/password", old=old or person.password, new=new,
                       repeat=repeat)
    assert answer.status_code == 422 and message in answer.text
    log_in(dash, person)  # the password did not change


def test_changing_the_password_ends_the_other_sessions_only(dash):
    person = dash.person("mai.lan")
    here, elsewhere = log_in(dash, person), log_in(dash, person)
    new = "mật khẩu mới của Mai Lan"
    assert form_post(dash, here, "/account", "/account/password", old=person.password, new=new,
                     repeat=new).status_code == 303
    assert "Đã đổi mật khẩu" in here.get(dash.url + "/account?done=password", timeout=30).text
    assert elsewhere.get(dash.url + "/fleet", allow_redirects=False, timeout=30).status_code == 303
    assert post_login(dash, requests.Session(), person).status_code == 401
    log_in(dash, Person(person.id, person.username, new))


def test_a_reset_gives_a_one_time_password_that_must_be_changed_first(dash):
    admin, person = dash.person(), dash.person("ngo.minh", role="viewer")
    old_session = log_in(dash, person)
    answer = form_post(dash, log_in(dash, admin), "/accounts", f"/accounts/{person.id}/reset")
    assert answer.status_code == 200 and "Chỉ hiện lần này" in answer.text
    one_time = re.search(r'id="shown-password">([^<]+)<', answer.text).group(1)
    assert old_session.get(dash.url + "/", allow_redirects=False, timeout=30).status_code == 303  # ended
    session = requests.Session()
    answer = post_login(dash, session, Person(person.id, person.username, one_time), next_path="/fleet")
    assert answer.status_code == 303 and answer.headers["Location"] == "/account"
    for path in ("/", "/fleet", "/export/fleet.csv"):
        answer = session.get(dash.url + path, allow_redirects=False, timeout=30)
        assert answer.status_code == 303 and answer.headers["Location"] == "/account"
    assert 'id="must-change"' in session.get(dash.url + "/account", timeout=30).text
    new = "mật khẩu riêng của Minh"
    assert form_post(dash, session, "/account", "/account/password", old=one_time, new=new,
                     repeat=new).status_code == 303
    assert session.get(dash.url + "/", allow_redirects=False, timeout=30).status_code == 200


# -- disabling, tokens, the accounts page ---------------------------------------------------------------------

def test_a_disabled_accounts_sessions_and_tokens_stop_at_once(dash):
    admin, person = dash.person(), dash.person("phan.nga", role="viewer")
    token = dash.admin_token("phan.nga")
    headers = {"Authorization": f"Bearer {token}"}
    session = log_in(dash, person)
    assert dash.get("/api/v1/ratings", headers=headers).status_code == 200
    admin_session = log_in(dash, admin)
    assert form_post(dash, admin_session, "/accounts", f"/accounts/{person.id}/disable").status_code == 303
    answer = dash.get("/api/v1/ratings", headers=headers)
    assert answer.status_code == 401 and "'phan.nga'" in answer.json()["error"] and "disabled" in answer.json()["error"]
    assert session.get(dash.url + "/", allow_redirects=False, timeout=30).status_code == 303
    refused = post_login(dash, requests.Session(), person)
    assert refused.status_code == 401 and "vô hiệu hoá" in refused.text
    assert form_post(dash, admin_session, "/accounts", f"/accounts/{person.id}/enable").status_code == 303
    assert dash.get("/api/v1/ratings", headers=headers).status_code == 200
    log_in(dash, person)


def test_a_token_carries_its_accounts_role_and_scope(dash):
    from server.accounts import caller_for_token, issue_admin_token
    from server.db import write_transaction
    from server.schema import nodes

    with dash.engine.connect() as conn:
        unit = conn.execute(text("SELECT id FROM nodes WHERE kind = 'province'")).scalar()
    if unit is None:
        from server.timekeeping import iso_from_ns
        with dash.engine.connect() as conn, write_transaction(conn):
            unit = conn.execute(nodes.insert().values(kind="province", name="Tỉnh thử", created_at=iso_from_ns(0),
                                                      updated_at=iso_from_ns(0)).returning(nodes.c.id)).scalar_one()
    person = dash.person("cao.oanh", role="unit_admin", scope_node_id=unit)
    with dash.engine.connect() as conn, write_transaction(conn):
        token = issue_admin_token(conn, name="script of Oanh", account_id=person.id, now_ns=dash.clock())
        caller, why = caller_for_token(conn, token)
    assert why is None and (caller.username, caller.role, caller.scope_node_id) == ("cao.oanh", "unit_admin", unit)


def test_the_accounts_page_is_for_province_admins_and_makes_accounts(dash):
    admin, viewer = dash.person(), dash.person("bui.phuong", role="viewer")
    assert log_in(dash, viewer).get(dash.url + "/accounts", timeout=30).status_code == 403
    session = log_in(dash, admin)
    made = form_post(dash, session, "/accounts", "/accounts/new", username="Dang.Quang", display_name="Đặng Quang",
                     role="technician", scope="")
    assert made.status_code == 201 and "dang.quang" in made.text
    one_time = re.search(r'id="shown-password">([^<]+)<', made.text).group(1)
    row = dash.rows("accounts", username="dang.quang")[0]
    assert (row["role"], row["must_change_password"], row["display_name"]) == ("technician", True, "Đặng Quang")
    answer = post_login(dash, requests.Session(), Person(row["id"], "dang.quang", one_time))
    assert answer.status_code == 303 and answer.headers["Location"] == "/account"
    for data, message in ((dict(username="dang.quang", display_name="X", role="viewer"), "đã có người dùng"),
                          (dict(username="có dấu", display_name="X", role="viewer"), "Tên đăng nhập gồm"),
                          (dict(username="ok.name", display_name="X", role="god"), "Vai trò không hợp lệ"),
                          (dict(username="ok.name", display_name="X", role="viewer", scope="999999"), "Không có nút")):
        answer = form_post(dash, session, "/accounts", "/accounts/new", **data)
        assert answer.status_code == 422 and message in answer.text, data
    assert form_post(dash, session, "/accounts", f"/accounts/{admin.id}/disable").status_code == 422  # not oneself
    assert form_post(dash, session, "/accounts", f"/accounts/{viewer.id}/role", role="inspector",
                     scope="").status_code == 303
    assert dash.rows("accounts", id=viewer.id)[0]["role"] == "inspector"


def test_a_session_ends_after_an_idle_hour_by_the_servers_clock(dash):
    session = log_in(dash, dash.person())
    dash.clock.advance(3599)
    assert session.get(dash.url + "/fleet", allow_redirects=False, timeout=30).status_code == 200
    dash.clock.advance(3600)
    answer = session.get(dash.url + "/fleet", allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/login")


# -- after the upgrade ----------------------------------------------------------------------------------------

def test_admin_tokens_of_before_the_upgrade_still_work_as_province_admins(before_tree_url, start_server):
    from test_tree_migration import DATA

    server = start_server(alert_check_interval_s=0)
    token = (DATA / "before-tree.token").read_text().strip()
    answer = server.get("/api/v1/terminals", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and len(answer.json()["terminals"]) == 4
    accounts = {row["username"]: row for row in server.rows("accounts")}
    assert {name: (row["role"], row["scope_node_id"], row["password_hash"]) for name, row in accounts.items()} == {
        "Phòng Nội vụ": ("province_admin", None, None), "Trung tâm PVHCC": ("province_admin", None, None)}
    # A token account has no password: it cannot log in to the dashboard, but its tokens act.
    assert post_login(server, requests.Session(), Person(0, "Trung tâm PVHCC", "anything at all")).status_code == 401
    new = server.admin_token("Trung tâm PVHCC")  # `admin-token --name` goes on adding tokens to that account
    assert server.get("/api/v1/alerts", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    assert len(server.rows("accounts")) == 2

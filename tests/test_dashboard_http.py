"""The dashboard over plain HTTP: login and its failures, sessions, CSRF, the figures, exports, no external URLs."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlparse

import pytest
import requests

from reports import PERIOD_KINDS
from dashboard_fixtures import SITE_A, SITE_B, dash, load_known_data_set, log_in, login_form, post_login  # noqa: F401
from server_fixtures import *  # noqa: F403

PAGES = ["/", "/fleet", "/alerts"]


def page_csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("path", [*PAGES, "/?period=year", "/export/report.csv", "/export/fleet.csv"])
def test_pages_redirect_to_login_without_a_session(dash, path):
    answer = dash.get(path, allow_redirects=False)
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert location.startswith("/login")
    if path != "/":
        assert requests.utils.unquote(location.split("next=")[1]) == path


def test_login_sets_a_strict_httponly_session_and_goes_where_asked(dash):
    session = requests.Session()
    answer = post_login(dash, session, dash.person(), next_path="/fleet")
    assert answer.status_code == 303 and answer.headers["Location"] == "/fleet"
    cookie = [c for c in answer.headers["Set-Cookie"].split(", hl_") if c.startswith("hl_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    assert session.get(dash.url + "/fleet", timeout=30).status_code == 200


@pytest.mark.parametrize("what", ["unknown", "empty", "wrong password", "admin token", "disabled"])
def test_login_refuses_anything_but_a_live_accounts_password(dash, what):
    from server.db import write_transaction
    from server.people import set_disabled

    person = dash.person()
    password = {"empty": "", "wrong password": person.password + "x", "admin token": dash.admin_token()}.get(what)
    if what == "unknown":
        person = Person(0, "nobody.here", person.password)
    if what == "disabled":
        with dash.engine.connect() as conn, write_transaction(conn):
            set_disabled(conn, person.id, True, now_ns=dash.clock())
    session = requests.Session()
    answer = post_login(dash, session, person, password=password)
    assert answer.status_code == 401
    message = {"unknown": "Tên đăng nhập hoặc mật khẩu không đúng.", "empty": "Hãy nhập tên đăng nhập và mật khẩu",
               "wrong password": "Tên đăng nhập hoặc mật khẩu không đúng.",
               "admin token": "Tên đăng nhập hoặc mật khẩu không đúng.",
               "disabled": "Tài khoản này đã bị vô hiệu hoá"}[what]
    assert message in answer.text
    assert "hl_session" not in session.cookies
    assert session.get(dash.url + "/", allow_redirects=False, timeout=30).status_code == 303


@pytest.mark.parametrize("csrf", ["missing", "wrong", "no cookie"])
def test_login_needs_the_forms_csrf_token(dash, csrf):
    session = requests.Session()
    real = login_form(dash, session)
    person = dash.person()
    data = {"username": person.username, "password": person.password,
            "csrf": {"missing": "", "wrong": real + "x", "no cookie": real}[csrf]}
    if csrf == "no cookie":
        session.cookies.clear()
    answer = session.post(dash.url + "/login", data=data, allow_redirects=False, timeout=30)
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert "hl_session" not in session.cookies


def test_disabling_the_account_ends_the_session_at_the_next_page(dash):
    from server.db import write_transaction
    from server.schema import accounts
    from sqlalchemy import update

    session = log_in(dash, dash.person())
    assert session.get(dash.url + "/alerts", timeout=30).status_code == 200
    with dash.engine.connect() as conn, write_transaction(conn):  # by hand: the rows of its sessions stay
        conn.execute(update(accounts).values(disabled_at="2026-11-25T09:00:00.000Z"))
    answer = session.get(dash.url + "/alerts", allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/login")


def test_a_forged_or_tampered_cookie_is_not_a_session(dash):
    session = log_in(dash, dash.person())
    value = session.cookies["hl_session"]
    for forged in (value[:-2] + ("AA" if not value.endswith("AA") else "BB"), "eyJ0IjoxLCJjIjoieCJ9.abc.def", ""):
        session.cookies.set("hl_session", forged)
        assert session.get(dash.url + "/", allow_redirects=False, timeout=30).status_code == 303


@pytest.mark.parametrize("path", ["/logout", "/alerts/check"])
def test_forms_need_the_sessions_csrf_token(dash, path):
    session = log_in(dash, dash.person())
    html = session.get(dash.url + "/alerts", timeout=30).text
    answer = session.post(dash.url + path, data={"csrf": "not-the-token"}, allow_redirects=False, timeout=30)
    assert answer.status_code == 403
    assert session.get(dash.url + "/alerts", allow_redirects=False, timeout=30).status_code == 200  # still in
    answer = session.post(dash.url + path, data={"csrf": page_csrf(html)}, allow_redirects=False, timeout=30)
    assert answer.status_code == 303


def test_logout_ends_the_session(dash):
    session = log_in(dash, dash.person())
    html = session.get(dash.url + "/", timeout=30).text
    answer = session.post(dash.url + "/logout", data={"csrf": page_csrf(html)}, allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["Location"] == "/login"
    assert session.get(dash.url + "/", allow_redirects=False, timeout=30).status_code == 303


def test_a_cookie_replayed_after_logout_opens_nothing(dash):
    session = log_in(dash, dash.person())
    saved = session.cookies["hl_session"]
    html = session.get(dash.url + "/fleet", timeout=30).text
    answer = session.post(dash.url + "/logout", data={"csrf": page_csrf(html)}, allow_redirects=False, timeout=30)
    assert answer.status_code == 303
    thief = requests.Session()
    thief.cookies.set("hl_session", saved)
    for path in [*PAGES, "/export/fleet.csv", "/export/alerts.csv", "/export/report.csv"]:
        answer = thief.get(dash.url + path, allow_redirects=False, timeout=30)
        assert answer.status_code == 303 and answer.headers["Location"].startswith("/login"), path
    answer = thief.post(dash.url + "/alerts/check", data={"csrf": page_csrf(html)}, allow_redirects=False,
                        timeout=30)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/login")
    assert dash.rows("dashboard_sessions") == []


def test_logging_out_ends_only_that_session(dash):
    person = dash.person()
    first, second = log_in(dash, person), log_in(dash, person)
    html = first.get(dash.url + "/", timeout=30).text
    first.post(dash.url + "/logout", data={"csrf": page_csrf(html)}, allow_redirects=False, timeout=30)
    assert second.get(dash.url + "/fleet", allow_redirects=False, timeout=30).status_code == 200


def test_a_session_ends_when_the_servers_clock_says_so(dash):
    session = log_in(dash, dash.person())
    for _ in range(12):  # a page opened every 59 min 59 s: never idle for an hour, ended by the 12 h
        dash.clock.advance(3599)
        assert session.get(dash.url + "/fleet", allow_redirects=False, timeout=30).status_code == 200
    dash.clock.advance(12)
    answer = session.get(dash.url + "/fleet", allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/login")
    log_in(dash, dash.person("another.admin"))  # a new login clears the expired rows
    assert len(dash.rows("dashboard_sessions")) == 1


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_the_server(dash, target):
    session = requests.Session()
    answer = post_login(dash, session, dash.person(), next_path=target)
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


def test_the_session_key_survives_a_restart_and_is_not_shared(start_server, server_db_url, tmp_path):
    from server import Settings, create_app

    first = start_server(alert_check_interval_s=0)
    session = log_in(first, first.person())
    first.live.stop()
    second = start_server(alert_check_interval_s=0)  # the same database
    session_url = second.url + "/fleet"
    assert session.get(session_url, allow_redirects=False, timeout=30).status_code == 200
    other = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'other.db'}"))  # another server's key
    try:
        assert other.state.dashboard_sessions.read(session.cookies["hl_session"]) is None
        assert second.app.state.dashboard_sessions.read(session.cookies["hl_session"]) is not None
    finally:
        other.state.engine.dispose()


def test_a_configured_session_key_is_used(start_server):
    key = "k" * 20 + "-a-long-random-key-0123456789"
    server = start_server(alert_check_interval_s=0, dashboard_secret=key)
    session = log_in(server, server.person())
    from itsdangerous import URLSafeTimedSerializer
    data = URLSafeTimedSerializer(key, salt="hailong-dashboard-session").loads(session.cookies["hl_session"])
    assert set(data) == {"s", "c"}
    # The server keeps only the hash of the session id.
    from server.accounts import secret_hash
    assert [row["id_hash"] for row in server.rows("dashboard_sessions")] == [secret_hash(data["s"])]


# -- what the pages show ----------------------------------------------------------------------------

def test_overview_shows_the_known_data_set(dash):
    load_known_data_set(dash, dash.clock)
    session = log_in(dash, dash.person())
    html = session.get(dash.url + "/", params={"group_by": "site"}, timeout=30).text  # the sites by name
    cells = dict(re.findall(r'<tr id="level-(\w+)"[^>]*>.*?class="num count">([^<]+)<', html, re.S))
    assert cells == {"very_satisfied": "27", "satisfied": "10", "dissatisfied": "3", "total": "40"}
    pcts = dict(re.findall(r'<tr id="level-(\w+)"[^>]*>.*?class="num pct">([^<]+)<', html, re.S))
    assert pcts == {"very_satisfied": "67,5%", "satisfied": "25,0%", "dissatisfied": "7,5%", "total": "100%"}
    assert '<span id="satisfaction-rate">92,5%</span>' in html and '<span id="filtered">1</span>' in html
    assert "Tháng 11/2026" in html and "(n=40)" in html
    assert "Trong kỳ (Tháng 11/2026)" in html and "40 lượt" in html
    groups = re.search(r'<table class="rates" id="groups">(.*?)</table>', html, re.S).group(1)
    assert groups.count("⚠ quá ít để so sánh") == 1 and "UBND phường Nam Hà" in groups.split("⚠ quá ít")[0] \
        .rsplit("<tr", 1)[1]  # site B: 4 ratings; A has 36
    assert html.count("<svg") == 4 and "Kiểm tra: các số cộng lại khớp với tổng" in html


def test_overview_filters_by_site_and_refuses_bad_dates_with_a_message(dash):
    load_known_data_set(dash, dash.clock)
    session = log_in(dash, dash.person())
    html = session.get(dash.url + "/", params={"period": "quarter", "site": SITE_B}, timeout=30).text
    assert "Quý IV/2026" in html and re.search(r'id="level-total".*?class="num count">4<', html, re.S)
    answer = session.get(dash.url + "/", params={"period": "range", "start": "2026-11-30", "end": "2026-11-01"},
                         timeout=30)
    assert answer.status_code == 422 and 'id="overview-error"' in answer.text and "before the start" in answer.text


def test_exports_reuse_the_reports(dash):
    load_known_data_set(dash, dash.clock)
    session = log_in(dash, dash.person())
    answer = session.get(dash.url + "/export/report.csv", params={"period": "month", "site": SITE_A}, timeout=30)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/csv")
    text = answer.content.decode("utf-8-sig")
    assert "36" in text and SITE_A in text
    answer = session.get(dash.url + "/export/report.xlsx", timeout=30)
    assert answer.status_code == 200 and answer.content[:2] == b"PK"
    import openpyxl
    workbook = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert len(workbook.sheetnames) >= 3  # the summary and one sheet per site
    fleet = list(csv.reader(io.StringIO(session.get(dash.url + "/export/fleet.csv", timeout=30)
                                        .content.decode("utf-8-sig"))))
    assert fleet[0][0] == "Thiết bị" and len(fleet) == 3
    silent = {row[1]: row[fleet[0].index("Im lặng quá lâu")] for row in fleet[1:]}
    assert silent == {SITE_A: "không", SITE_B: "có"}


def test_fleet_page_marks_the_silent_terminal_with_words(dash):
    a, b = load_known_data_set(dash, dash.clock)
    session = log_in(dash, dash.person())
    html = session.get(dash.url + "/fleet", timeout=30).text
    row_a = re.search(rf'<tr class="([^"]*)" id="terminal-{a.id}">(.*?)</tr>', html, re.S)
    row_b = re.search(rf'<tr class="([^"]*)" id="terminal-{b.id}">(.*?)</tr>', html, re.S)
    assert row_a[1] == "" and "✓ Bình thường" in row_a[2] and "25/11/2026 10:30" in row_a[2]
    assert row_b[1] == "silent" and "⚠ Im lặng quá 2 giờ" in row_b[2] and "25/11/2026 08:00" in row_b[2]
    assert ">3<" in row_a[2]  # the pending backlog it reported
    assert "⚠ 1 thiết bị im lặng quá lâu." in html


def test_alerts_page_lists_alerts_and_checks_on_demand(dash):
    a, b = load_known_data_set(dash, dash.clock)
    session = log_in(dash, dash.person())
    html = session.get(dash.url + "/alerts", timeout=30).text
    assert "✓ Không có cảnh báo nào đang có hiệu lực." in html
    answer = session.post(dash.url + "/alerts/check", data={"csrf": page_csrf(html)}, timeout=30)
    assert answer.url.endswith("/alerts?checked=1-0")
    assert "Thiết bị im lặng" in answer.text and f"Thiết bị {b.id} (Tỉnh › {SITE_B} › Bộ phận Một cửa › Quầy 2)" in answer.text


# -- works with no internet ---------------------------------------------------------------------------

_URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+(?::\d+)?""")
_SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # an XML name, never fetched


def foreign_urls(text: str, own: str) -> set[str]:
    own_host = urlparse(own).netloc
    found = set()
    for match in _URL.finditer(text.replace(_SVG_NAMESPACE, "")):
        url = match.group(0)
        if urlparse(url if "//" != url[:2] else "http:" + url).netloc != own_host:
            found.add(url)
    return found


def test_no_page_or_static_file_refers_to_another_host(dash):
    from server.dashboard import STATIC

    load_known_data_set(dash, dash.clock)
    session = requests.Session()
    texts = {"/login": session.get(dash.url + "/login", timeout=30).text}
    session = log_in(dash, dash.person())
    for path in [*PAGES, "/?period=year&group_by=counter", *(f"/?period={kind}" for kind in PERIOD_KINDS if kind != "range")]:
        answer = session.get(dash.url + path, timeout=30)
        assert answer.status_code == 200
        assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
        texts[path] = answer.text
    referenced = set()
    for html in texts.values():
        referenced |= set(re.findall(r'(?:href|src)="(/static/[^"]+)"', html))
    assert referenced >= {"/static/dashboard.css"}
    for path in sorted(referenced | {f"/static/{p.name}" for p in STATIC.iterdir()}):
        answer = session.get(dash.url + path, timeout=30)
        assert answer.status_code == 200, path
        texts[path] = answer.text
    offenders = {path: foreign_urls(text, dash.url) for path, text in texts.items()}
    assert {path: urls for path, urls in offenders.items() if urls} == {}
    # The check itself finds what it looks for.
    assert foreign_urls('<link href="https://cdn.example.com/x.css">', dash.url) == {"https://cdn.example.com"}
    assert foreign_urls("@import url(//fonts.example.net/a);", dash.url) == {"//fonts.example.net"}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_docs_load_only_from_this_server(dash, path):
    answer = dash.get(path)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert foreign_urls(answer.text, dash.url) == set()
    loaded = set(re.findall(r'(?:href|src|spec-url)="([^"]+)"', answer.text)) | \
        set(re.findall(r"url: '([^']+)'", answer.text))
    assert "/openapi.json" in loaded and any(url.endswith(".js") for url in loaded)
    for url in sorted(loaded):
        assert url.startswith("/"), url
        fetched = dash.get(url)
        assert fetched.status_code == 200 and len(fetched.content) > 100, url

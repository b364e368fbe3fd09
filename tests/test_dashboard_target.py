"""The dashboard as a target: login brute force, security headers, Secure cookies behind TLS, bidi names."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest
import requests

from dashboard_fixtures import dash, load_known_data_set, log_in, login_form  # noqa: F401
from reliability import record, scale
from server_fixtures import *  # noqa: F403

pytestmark = pytest.mark.reliability

COMMAND = "HAILONG_SOAK=1 .venv/bin/python -m pytest -m reliability tests/test_dashboard_target.py"
FIGURES: dict[str, int] = {}  # requests made as an attacker, summed over the backends; recorded once


def count(**figures: int) -> None:
    for name, figure in figures.items():
        FIGURES[name] = FIGURES.get(name, 0) + figure


@pytest.fixture(scope="module", autouse=True)
def record_figures():
    FIGURES.clear()
    yield
    if FIGURES:
        record("Dashboard as a target", command=COMMAND, **FIGURES)

WRONG = "đoán-sai-mật-khẩu-0001"  # a guessed password, tried for a user name that is no account's
GUESSED_USER = "guessed.user"
FREE_FAILURES = 5  # server.dashboard.login_throttle.FREE_FAILURES, checked below
BIDI = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def try_login(server, session: requests.Session, csrf: str, who) -> requests.Response:
    """Log in as ``who``: a :class:`Person` (the right password), or a guessed password for an unknown user."""
    username, password = (GUESSED_USER, who) if isinstance(who, str) else (who.username, who.password)
    return session.post(server.url + "/login", data={"username": username, "password": password, "csrf": csrf},
                        allow_redirects=False, timeout=30)


# -- login brute force --------------------------------------------------------------------------------

def test_wrong_logins_lock_the_address_out_for_longer_and_longer(dash, caplog):
    caplog.set_level(logging.WARNING, logger="hailong.server.dashboard")
    good = dash.person()
    session = requests.Session()
    csrf = login_form(dash, session)
    for _ in range(FREE_FAILURES):  # people mistype: these cost nothing
        assert try_login(dash, session, csrf, WRONG).status_code == 401
    assert try_login(dash, session, csrf, WRONG).status_code == 401  # one too many: locked for 1 s
    refused = try_login(dash, session, csrf, good)  # even the right password is not looked at
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "thử lại sau 1 giây" in refused.text and "hl_session" not in session.cookies
    dash.clock.advance(1)
    assert try_login(dash, session, csrf, WRONG).status_code == 401  # now locked for 2 s
    dash.clock.advance(1)
    assert try_login(dash, session, csrf, good).headers.get("Retry-After") == "1"
    dash.clock.advance(1)
    assert try_login(dash, session, csrf, good).status_code == 303
    # A success forgives the address.
    other = requests.Session()
    assert try_login(dash, other, login_form(dash, other), WRONG).status_code == 401

    failed = [r.getMessage() for r in caplog.records if "dashboard login failed from 127.0.0.1" in r.getMessage()]
    locked = [r.getMessage() for r in caplog.records if "dashboard login refused from 127.0.0.1" in r.getMessage()]
    assert len(failed) == FREE_FAILURES + 3 and len(locked) == 2
    assert ("unknown for an unknown user name (6 wrong from this address in a row; address locked out for 1 s)"
            in failed[FREE_FAILURES])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert WRONG not in logged and good.password not in logged and GUESSED_USER not in logged


def test_a_burst_of_wrong_logins_reaches_only_the_free_tries(dash, caplog):
    caplog.set_level(logging.WARNING, logger="hailong.server.dashboard")
    session = requests.Session()
    csrf = login_form(dash, session)
    burst = scale(200, 1000)
    statuses = [try_login(dash, session, csrf, f"guess-{i:04d}").status_code for i in range(burst)]
    checked = statuses.count(401)
    print(f"\nlogin brute force: {burst} wrong passwords in a burst, {checked} checked, "
          f"{statuses.count(429)} refused with 429 and a Retry-After")
    count(cases=burst, server_errors=sum(status >= 500 for status in statuses), brute_force_checked=checked)
    assert checked == FREE_FAILURES + 1 and statuses.count(429) == burst - checked
    assert sum("dashboard login" in r.getMessage() for r in caplog.records) == burst


def test_the_lock_out_doubles_up_to_its_cap_and_is_forgotten_after_an_hour_of_quiet(tmp_path):
    from server.dashboard import login_throttle
    from server.dashboard.login_throttle import MAX_LOCK_S, LoginThrottle
    from server.db import open_engine
    from server.settings import Settings

    assert login_throttle.FREE_FAILURES == FREE_FAILURES
    now = [0]
    engine = open_engine(Settings(db_url=f"sqlite:///{tmp_path / 'throttle.db'}"))
    throttle = LoginThrottle(engine, clock=lambda: now[0])
    locks = []
    for _ in range(FREE_FAILURES + 14):
        locks.append(throttle.failed("198.51.100.7"))
        now[0] += locks[-1] * 10**9
    assert locks[:FREE_FAILURES] == [0] * FREE_FAILURES
    assert locks[FREE_FAILURES:FREE_FAILURES + 5] == [1, 2, 4, 8, 16]
    assert max(locks) == locks[-1] == MAX_LOCK_S
    assert throttle.wait_s("203.0.113.1") == 0  # another address is not held up
    now[0] += 3600 * 10**9
    assert throttle.failures("198.51.100.7") == 0 and throttle.wait_s("198.51.100.7") == 0
    engine.dispose()


def test_a_restart_or_a_second_worker_does_not_forgive_a_locked_out_address(start_server):
    clock = FakeClock()
    first = start_server(clock=clock, alert_check_interval_s=0)
    good = first.person()
    session = requests.Session()
    csrf = login_form(first, session)
    for _ in range(FREE_FAILURES + 1):  # the last one locks 127.0.0.1 out for 1 s
        assert try_login(first, session, csrf, WRONG).status_code == 401
    second = start_server(clock=clock, alert_check_interval_s=0)  # another worker on the same database
    other = requests.Session()
    refused = try_login(second, other, login_form(second, other), good)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    first.live.stop()  # the first process is gone; what it counted is not
    third = start_server(clock=clock, alert_check_interval_s=0)
    assert try_login(third, other, login_form(third, other), good).status_code == 429
    assert try_login(second, other, login_form(second, other), WRONG).status_code == 429  # still not looked at
    clock.advance(1)
    assert try_login(third, other, login_form(third, other), WRONG).status_code == 401  # 7 in a row: 2 s now
    clock.advance(1)
    assert try_login(second, other, login_form(second, other), good).status_code == 429
    clock.advance(1)
    assert try_login(second, other, login_form(second, other), good).status_code == 303
    assert try_login(third, other, login_form(third, other), WRONG).status_code == 401  # forgiven everywhere
    assert second.rows("login_failures")[0]["failures"] == 1


# -- security headers --------------------------------------------------------------------------------

def _answers(dash) -> dict[str, requests.Response]:
    """One answer of every kind the server gives: pages, redirects, exports, static files, API, errors."""
    session = log_in(dash, dash.person())
    html = session.get(dash.url + "/alerts", timeout=30).text
    admin = dash.admin_headers()
    anonymous = requests.Session()
    answers = {path: session.get(dash.url + path, allow_redirects=False, timeout=30)
               for path in ["/", "/fleet", "/alerts", "/?period=year", "/export/report.csv", "/export/report.xlsx",
                            "/export/fleet.csv", "/export/alerts.csv", "/static/dashboard.css",
                            "/static/favicon.svg", "/docs/assets/swagger-ui-bundle.js", "/docs", "/redoc",
                            "/healthz", "/openapi.json", "/no/such/page"]}
    answers["login page"] = anonymous.get(dash.url + "/login", timeout=30)
    answers["redirect to login"] = anonymous.get(dash.url + "/fleet", allow_redirects=False, timeout=30)
    answers["wrong password"] = try_login(dash, anonymous, login_form(dash, anonymous), WRONG)
    answers["CSRF refused"] = session.post(dash.url + "/alerts/check", data={"csrf": "x"}, timeout=30)
    answers["form post"] = session.post(dash.url + "/alerts/check", data={"csrf": re.search(
        r'name="csrf" value="([^"]+)"', html).group(1)}, allow_redirects=False, timeout=30)
    answers["API, admin"] = requests.get(dash.url + "/api/v1/terminals", headers=admin, timeout=30)
    answers["API ratings CSV"] = requests.get(dash.url + "/api/v1/ratings", params={"format": "csv"},
                                              headers=admin, timeout=30)
    answers["API, no token"] = requests.post(dash.url + "/api/v1/batches", json={}, timeout=30)
    answers["API, bad body"] = requests.post(dash.url + "/api/v1/enroll", data="{", timeout=30)
    return answers


def test_every_answer_carries_the_security_headers(dash):
    answers = _answers(dash)
    assert answers["form post"].status_code == 303 and answers["CSRF refused"].status_code == 403
    assert answers["/export/report.xlsx"].status_code == 200 and answers["/static/favicon.svg"].status_code == 200
    missing = {}
    for what, answer in answers.items():
        policy = answer.headers.get("Content-Security-Policy", "")
        wrong = [name for name, ok in [
            ("nosniff", answer.headers.get("X-Content-Type-Options") == "nosniff"),
            ("no-referrer", answer.headers.get("Referrer-Policy") == "no-referrer"),
            ("frame-ancestors", "frame-ancestors 'none'" in policy),
            ("X-Frame-Options", answer.headers.get("X-Frame-Options") == "DENY"),
            ("script-src", re.search(r"script-src 'self'( 'sha256-[A-Za-z0-9+/=]+')*(;|$)", policy) is not None),
            ("no inline script", "unsafe" not in policy.split("script-src")[1].split(";")[0] if policy else False),
        ] if not ok]
        if wrong:
            missing[what] = (answer.status_code, wrong)
    print(f"\nsecurity headers: {len(answers)} kinds of answer, {len(missing)} without them")
    count(cases=len(answers), server_errors=sum(a.status_code >= 500 for a in answers.values()),
          answers_without_headers=len(missing))
    assert missing == {}


@pytest.mark.parametrize("path, inline_scripts", [("/docs", 1), ("/redoc", 0)])
def test_the_api_docs_may_run_only_their_own_scripts(dash, path, inline_scripts):
    answer = dash.get(path)
    policy = answer.headers["Content-Security-Policy"]
    bodies = re.findall(r"<script>(.*?)</script>", answer.text, re.S)
    assert len(bodies) == inline_scripts
    script_src = re.search(r"script-src ([^;]+)", policy).group(1).split()
    expected = ["'self'", *(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'"
                            for b in bodies)]
    assert script_src == expected
    assert "http" not in policy and "*" not in policy


# -- cookies behind TLS ------------------------------------------------------------------------------

@pytest.mark.parametrize("proto", ["https", "http"])
def test_cookies_are_secure_when_the_request_came_over_tls(dash, proto):
    # uvicorn trusts X-Forwarded-Proto from a proxy on loopback (its default), as behind nginx on the host.
    via = {"X-Forwarded-Proto": proto}
    form = requests.get(dash.url + "/login", headers=via, timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    assert ("Secure" in form.headers["Set-Cookie"]) == (proto == "https")
    person = dash.person()
    answer = requests.post(dash.url + "/login", data={"username": person.username, "password": person.password,
                                                      "csrf": csrf},
                           headers={**via, "Cookie": f"hl_login_csrf={form.cookies['hl_login_csrf']}"},
                           allow_redirects=False, timeout=30)
    assert answer.status_code == 303
    session_cookie = [c for c in answer.headers["Set-Cookie"].split(", hl_") if c.startswith("hl_session=")][0]
    assert ("Secure" in session_cookie) == (proto == "https")
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie


def self_signed_certificate(folder) -> tuple[str, str]:
    """(certificate, key) for 127.0.0.1, made with the openssl command."""
    cert, key = str(folder / "server.pem"), str(folder / "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def test_cookies_are_secure_over_a_real_tls_connection(start_server, tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    server = start_server(uvicorn={"ssl_certfile": cert, "ssl_keyfile": key})
    assert server.url.startswith("https://")
    session = requests.Session()
    form = session.get(server.url + "/login", verify=cert, timeout=30)
    assert "Secure" in form.headers["Set-Cookie"]
    person = server.person()
    answer = session.post(server.url + "/login", verify=cert, allow_redirects=False, timeout=30, data={
        "username": person.username, "password": person.password,
        "csrf": re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)})
    assert answer.status_code == 303
    session_cookie = [c for c in answer.headers["Set-Cookie"].split(", hl_") if c.startswith("hl_session=")][0]
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie
    assert session.get(server.url + "/fleet", verify=cert, allow_redirects=False, timeout=30).status_code == 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("options, believed", [([], True), (["--trusted-proxies", "192.0.2.10"], False)],
                         ids=["loopback proxy (default)", "another proxy"])
def test_serve_believes_x_forwarded_proto_only_from_its_trusted_proxies(tmp_path, options, believed):
    """`kiosk-server serve` as deployed: a request from 127.0.0.1 saying X-Forwarded-Proto: https is believed
    (Secure cookies) only when 127.0.0.1 is a trusted proxy, never from uvicorn's own reading of the environment."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_") and k != "FORWARDED_ALLOW_IPS"}
    process = subprocess.Popen([sys.executable, "-c", "from server.cli import main; main()", "serve", "--port",
                                str(port), "--db", f"sqlite:///{tmp_path / 'server.db'}", *options],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                form = requests.get(f"http://127.0.0.1:{port}/login", headers={"X-Forwarded-Proto": "https"},
                                    timeout=5)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert form.status_code == 200
        assert ("Secure" in form.headers["Set-Cookie"]) is believed
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


# -- CSRF on every form --------------------------------------------------------------------------------

class Forms(HTMLParser):
    """The forms of a page (method, action, fields with their values) and the same-origin links it has."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (attrs.get("method") or "get").lower(), "action": attrs.get("action") or "",
                               "fields": {}})
        elif tag in ("input", "select", "textarea", "button") and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""
        elif tag == "a" and (attrs.get("href") or "").startswith("/") and not attrs["href"].startswith("//"):
            self.links.append(attrs["href"])


def crawl(server, session: requests.Session, start: str, *, limit: int = 40) -> dict[str, list[dict]]:
    """Every HTML page reachable by links from ``start`` (at most ``limit``): its forms."""
    found, queue = {}, [start]
    while queue and len(found) < limit:
        path = queue.pop(0)
        if path in found:
            continue
        answer = session.get(server.url + path, allow_redirects=False, timeout=30)
        if not answer.headers.get("Content-Type", "").startswith("text/html"):
            continue
        parser = Forms()
        parser.feed(answer.text)
        found[path] = parser.forms
        queue += [link for link in parser.links if link not in found]
    return found


def test_every_form_on_every_page_refuses_a_post_without_its_csrf_token(dash):
    load_known_data_set(dash, dash.clock)
    good = dash.person()
    dash.person("other.person", role="viewer")  # so the accounts page has another account's forms
    anonymous = requests.Session()
    pages = {**crawl(dash, anonymous, "/login"), **crawl(dash, log_in(dash, good), "/")}
    assert {"/login", "/", "/fleet", "/alerts", "/account", "/account/totp", "/accounts"} <= set(pages)
    forms = {(form["action"], tuple(sorted(form["fields"]))): form
             for forms in pages.values() for form in forms if form["method"] == "post"}
    other = dash.person("other.person").id
    terminal_forms = {f"/fleet/terminal/{row['id']}/{verb}" for row in dash.rows("terminals")
                      for verb in ("move", "revoke")}
    assert {action for action, _fields in forms} == {
        "/login", "/logout", "/alerts/check", "/account/password", "/account/totp", "/accounts/new",
        f"/accounts/{other}/disable", f"/accounts/{other}/reset", f"/accounts/{other}/role",
        "/tree/import", "/tree/codes", "/settings/change", *terminal_forms}
    assert all("csrf" in fields for _action, fields in forms)  # every POST form carries the token
    def visitor(action: str) -> tuple[requests.Session, str]:
        """A browser that opened the form (a login page, or a logged-in page), and the form's CSRF token."""
        if action == "/login":
            session = requests.Session()
            return session, login_form(dash, session)
        session = log_in(dash, good)
        return session, re.search(r'name="csrf" value="([^"]+)"', session.get(dash.url + "/fleet").text).group(1)

    refused = {}
    for (action, _fields), form in forms.items():
        session, csrf = visitor(action)
        login = {"username": good.username, "password": good.password}
        values = {**form["fields"], "csrf": csrf, **(login if action == "/login" else {})}
        for label, sent in (("without", {k: v for k, v in values.items() if k != "csrf"}),
                            ("with a wrong", {**values, "csrf": csrf[:-4] + ("AAAA", "BBBB")[csrf.endswith("AAAA")]}),
                            ("with another visitor's", {**values, "csrf": visitor(action)[1]})):
            answer = session.post(dash.url + action, data=sent, allow_redirects=False, timeout=30)
            refused[f"{action} {label} token"] = answer.status_code
        # Nothing happened: no session started, the session not ended; then the right token works.
        assert "hl_session" not in session.cookies if action == "/login" else \
            session.get(dash.url + "/fleet", allow_redirects=False, timeout=30).status_code == 200
        control = session.post(dash.url + action, data=values, allow_redirects=False, timeout=30)
        # Past the CSRF check: done (303, or 200/201 showing a one-time password) or refused for its fields (422).
        assert control.status_code in (200, 201, 303, 422), (action, control.status_code, control.text[:300])
    print(f"\nCSRF: {len(pages)} pages, {len(forms)} POST forms, {len(refused)} forged posts, "
          f"{sum(status == 403 for status in refused.values())} refused")
    count(cases=len(refused), server_errors=sum(status >= 500 for status in refused.values()),
          csrf_forged_accepted=sum(status != 403 for status in refused.values()))
    assert refused == {what: 403 for what in refused}


# -- names that would turn themselves around ---------------------------------------------------------

def test_bidi_controls_cannot_disguise_a_name_on_any_page(dash):
    site = "UBND \u202egnol cuhp\u202c"  # would read "UBND phuc long" in a browser
    terminal = dash.enroll(site=site, counter="Quầy \u20661\u2069 \u200f")
    assert dash.upload(terminal, make_batch([make_rating(terminal.id)])).status_code == 200
    session = log_in(dash, dash.person("quan.tri", display_name="Quản trị \u202eviên"))
    pages = {path: session.get(dash.url + path, timeout=30).text
             for path in ["/", "/?period=month&group_by=counter", f"/?site={site}", "/fleet", "/alerts"]}
    # What a person reads: everything but the values forms send back (those must stay the stored name).
    shown = {path: re.sub(r'value="[^"]*"', "", text) for path, text in pages.items()}
    assert {path: BIDI.findall(text) for path, text in shown.items() if BIDI.search(text)} == {}
    assert "<bdi>UBND gnol cuhp</bdi>" in pages["/fleet"] and "<bdi>Quầy 1 </bdi>" in pages["/fleet"]
    assert "<bdi>UBND gnol cuhp</bdi>" in pages["/"]  # the comparison table
    assert ">UBND gnol cuhp</option>" in pages["/"]  # plain text inside a select
    assert "<bdi>Quản trị viên</bdi>" in pages["/fleet"]
    # The stored name is untouched; the filter still finds it.
    assert dash.rows("terminals")[0]["site"] == site
    assert f'value="{site}" selected' in pages[f"/?site={site}"]

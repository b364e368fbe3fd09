"""Suite 5 of issue 10, the auth matrix: every route of the real app × every kind of credential.

The routes are enumerated from ``app.routes``: a route added later without a
row in :data:`EXPECTED` fails :func:`test_every_route_of_the_app_has_a_row`.
Each cell is one request to a real uvicorn on loopback (SQLite and
PostgreSQL) carrying one credential where that route looks for one: the
``code`` of ``POST /api/v1/enroll``, the ``password`` of the login form
(with the user name of the credential's account),
otherwise ``Authorization: Bearer``; session cookies always as a cookie,
with their own CSRF token in forms (so it is the session, not the CSRF
check, that is tested). The answer is compared with :data:`EXPECTED`, which
is also the README's table ("Who can reach what"). With the access log and
the app's log captured, the run then looks for every secret it used
(tokens, codes, session ids, cookies, CSRF tokens, the signing key) in every
log line and every URL requested, redirected to or linked from a page.
"""

from __future__ import annotations

import logging
import re
import secrets as random_secrets
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from itsdangerous import URLSafeTimedSerializer

from dashboard_fixtures import log_in, login_form
from reliability import record, scale
from server_fixtures import *  # noqa: F403

pytestmark = pytest.mark.reliability

README = Path(__file__).parent.parent / "README.md"
HEADING = "### Who can reach what"
COMMAND = "HAILONG_SOAK=1 .venv/bin/python -m pytest -m reliability tests/test_auth_matrix.py"

#: The columns: what each credential is.
CREDENTIALS = {
    "none": "nothing",
    "garbage": "text that is no token at all",
    "expired code": "an enrolment code past its expiry",
    "used code": "an enrolment code already spent",
    "fresh code": "an unused enrolment code (control)",
    "revoked device": "the device token of a revoked terminal",
    "other terminal": "another live terminal's device token (the batch holds the first terminal's ratings)",
    "device": "the terminal's own device token (control)",
    "admin": "a live admin token (control)",
    "revoked admin": "a revoked admin token",
    "password": "a live account's user name and password (control)",
    "disabled account": "a disabled account's password, or its admin token (still live)",
    "session": "the cookie of a live dashboard session (control)",
    "expired session": "the cookie of a session past its lifetime by the server's clock",
    "forged cookie": "a live session's id and CSRF token signed with another key",
    "logged-out cookie": "the cookie of a session that logged out",
}
COOKIE_KINDS = ("session", "expired session", "forged cookie", "logged-out cookie")

#: Every route × every credential: the answer's status, or ``→/path`` for 303 See Other to that path.
EXPECTED = {
    "GET /healthz":
        "200 200 200 200 200 200 200 200 "
        "200 200 200 200 200 200 200 200",
    "GET /openapi.json":
        "200 200 200 200 200 200 200 200 "
        "200 200 200 200 200 200 200 200",
    "GET /docs":
        "200 200 200 200 200 200 200 200 "
        "200 200 200 200 200 200 200 200",
    "GET /redoc":
        "200 200 200 200 200 200 200 200 "
        "200 200 200 200 200 200 200 200",
    "GET /docs/assets/redoc.standalone.js":
        "200 200 200 200 200 200 200 200 "
        "200 200 200 200 200 200 200 200",
    "GET /docs/assets/{path}":
        "200 200 200 200 200 200 200 200 "
        "200 200 200 200 200 200 200 200",
    "GET /static/{path}":
        "200 200 200 200 200 200 200 200 "
        "200 200 200 200 200 200 200 200",
    "POST /api/v1/enroll":
        "422 401 410 409 201 401 401 401 "
        "401 401 401 401 422 422 422 422",
    "POST /api/v1/batches":
        "401 401 401 401 401 401 403 200 "
        "403 401 401 403 401 401 401 401",
    "GET /api/v1/ratings":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "GET /api/v1/terminals":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "GET /api/v1/reports/summary":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "GET /api/v1/alerts":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "POST /api/v1/alerts/check":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "GET /api/v1/audit":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "GET /login":
        "200 200 200 200 200 200 200 200 "
        "200 200 200 200 200 200 200 200",
    "POST /login":
        "401 401 401 401 401 401 401 401 "
        "401 401 →/ 401 401 401 401 401",
    "POST /logout":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login →/login →/login →/login →/login",
    "GET /":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "GET /fleet":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "GET /alerts":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "POST /alerts/check":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login →/alerts →/login →/login →/login",
    "GET /export/report.{fmt}":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "GET /export/fleet.csv":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "GET /export/alerts.csv":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "GET /account":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "POST /account/password":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 422 →/login →/login →/login",
    "GET /account/totp":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "POST /account/totp":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 422 →/login →/login →/login",
    "POST /account/totp/off":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 422 →/login →/login →/login",
    "GET /accounts":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "POST /accounts/new":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 422 →/login →/login →/login",
    "POST /accounts/{account_id}/disable":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login →/accounts →/login →/login →/login",
    "POST /accounts/{account_id}/enable":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login →/accounts →/login →/login →/login",
    "POST /accounts/{account_id}/reset":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "POST /accounts/{account_id}/role":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 422 →/login →/login →/login",
    "GET /api/v1/tree":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "POST /api/v1/tree":
        "401 401 401 401 401 401 403 403 "
        "415 401 401 401 401 401 401 401",
    "POST /api/v1/enrollment-codes":
        "401 401 401 401 401 401 403 403 "
        "415 401 401 401 401 401 401 401",
    "POST /api/v1/terminals/{terminal_id}/move":
        "401 401 401 401 401 401 403 403 "
        "415 401 401 401 401 401 401 401",
    "POST /api/v1/terminals/{terminal_id}/revoke":
        "401 401 401 401 401 401 403 403 "
        "404 401 401 401 401 401 401 401",
    "GET /tree":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "GET /export/tree.csv":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "POST /tree/import":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 422 →/login →/login →/login",
    "GET /tree/codes":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "POST /tree/codes":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 422 →/login →/login →/login",
    "POST /tree/codes/sheet.pdf":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 422 →/login →/login →/login",
    "GET /fleet/terminal/{terminal_id}":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 404 →/login →/login →/login",
    "POST /fleet/terminal/{terminal_id}/move":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 404 →/login →/login →/login",
    "POST /fleet/terminal/{terminal_id}/revoke":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 404 →/login →/login →/login",
    "GET /audit":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "GET /export/audit.csv":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    # Officers (issue 12): the registry's pages, its API (an officer that is not there: 404), the terminals' list.
    "GET /officers":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "POST /officers/new":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 422 →/login →/login →/login",
    "POST /officers/{officer_id}/edit":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 404 →/login →/login →/login",
    "POST /officers/{officer_id}/pin":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 404 →/login →/login →/login",
    "POST /officers/{officer_id}/photo":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 404 →/login →/login →/login",
    "GET /officers/{officer_id}/photo":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 404 →/login →/login →/login",
    "GET /api/v1/officers":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "POST /api/v1/officers":
        "401 401 401 401 401 401 403 403 "
        "415 401 401 401 401 401 401 401",
    "POST /api/v1/officers/{officer_id}":
        "401 401 401 401 401 401 403 403 "
        "415 401 401 401 401 401 401 401",
    "PUT /api/v1/officers/{officer_id}/photo":
        "401 401 401 401 401 401 403 403 "
        "415 401 401 401 401 401 401 401",
    "DELETE /api/v1/officers/{officer_id}/photo":
        "401 401 401 401 401 401 403 403 "
        "404 401 401 401 401 401 401 401",
    "GET /api/v1/terminal/officers":
        "401 401 401 401 401 401 200 200 "
        "403 401 401 403 401 401 401 401",
    # Remote terminal settings (issue 13): the page, the admin API (no JSON body: 415), the terminals' set.
    "GET /settings":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
    "POST /settings/change":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 422 →/login →/login →/login",
    "POST /settings/rollback":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 422 →/login →/login →/login",
    "GET /api/v1/settings":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "POST /api/v1/settings":
        "401 401 401 401 401 401 403 403 "
        "415 401 401 401 401 401 401 401",
    "GET /api/v1/settings/history":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "POST /api/v1/settings/rollback":
        "401 401 401 401 401 401 403 403 "
        "415 401 401 401 401 401 401 401",
    "GET /api/v1/terminal/settings":
        "401 401 401 401 401 401 200 200 "
        "403 401 401 403 401 401 401 401",
    # Releases (issue 13): the administrators' API (the body a form, not the archive or JSON: 415), the page, and
    # the terminals' download of a release no rollout offers (404: no such version).
    "POST /api/v1/releases":
        "401 401 401 401 401 401 403 403 "
        "415 401 401 401 401 401 401 401",
    "GET /api/v1/releases":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "POST /api/v1/releases/{version}/rollouts":
        "401 401 401 401 401 401 403 403 "
        "415 401 401 401 401 401 401 401",
    "POST /api/v1/releases/{version}/stop":
        "401 401 401 401 401 401 403 403 "
        "415 401 401 401 401 401 401 401",
    "GET /api/v1/rollouts":
        "401 401 401 401 401 401 403 403 "
        "200 401 401 401 401 401 401 401",
    "GET /api/v1/terminal/releases/{version}":
        "401 401 401 401 401 401 404 404 "
        "403 401 401 403 401 401 401 401",
    "GET /api/v1/terminal/releases/{version}/archive":
        "401 401 401 401 401 401 404 404 "
        "403 401 401 403 401 401 401 401",
    "GET /releases":
        "→/login →/login →/login →/login →/login →/login →/login →/login "
        "→/login →/login →/login →/login 200 →/login →/login →/login",
}
TABLE = {route: dict(zip(CREDENTIALS, cells.split(), strict=True)) for route, cells in EXPECTED.items()}

#: The concrete path requested for a route whose path has a parameter.
CONCRETE = {"GET /docs/assets/{path}": "/docs/assets/swagger-ui.css", "GET /static/{path}": "/static/favicon.svg",
            "GET /export/report.{fmt}": "/export/report.csv",
            # A terminal that is not there: revoking the matrix's own would change the cells after it.
            "POST /api/v1/terminals/{terminal_id}/move": "/api/v1/terminals/no-such-terminal/move",
            "POST /api/v1/terminals/{terminal_id}/revoke": "/api/v1/terminals/no-such-terminal/revoke",
            "GET /fleet/terminal/{terminal_id}": "/fleet/terminal/no-such-terminal",
            "POST /fleet/terminal/{terminal_id}/move": "/fleet/terminal/no-such-terminal/move",
            "POST /fleet/terminal/{terminal_id}/revoke": "/fleet/terminal/no-such-terminal/revoke",
            # An officer that is not there (0: no row has it).
            **{route: route.split(" ", 1)[1].replace("{officer_id}", "0") for route in (
                "POST /officers/{officer_id}/edit", "POST /officers/{officer_id}/pin", "POST /officers/{officer_id}/photo",
                "GET /officers/{officer_id}/photo", "POST /api/v1/officers/{officer_id}",
                "PUT /api/v1/officers/{officer_id}/photo", "DELETE /api/v1/officers/{officer_id}/photo")},
            # A release that is not there.
            **{route: route.split(" ", 1)[1].replace("{version}", "0.0.0") for route in (
                "POST /api/v1/releases/{version}/rollouts", "POST /api/v1/releases/{version}/stop",
                "GET /api/v1/terminal/releases/{version}", "GET /api/v1/terminal/releases/{version}/archive")}}


def app_routes(app) -> set[str]:
    """``METHOD path`` of every route ``app`` answers (HEAD aside: Starlette adds it to every GET)."""
    from fastapi.routing import iter_route_contexts

    found = set()
    for route in iter_route_contexts(app.routes):
        if route.methods is None:  # a Mount of static files
            found.add(f"GET {route.path}/{{path}}")
        else:
            found.update(f"{method} {route.path}" for method in route.methods if method != "HEAD")
    return found


def render_cell(cell: str) -> str:
    return f"→ {cell[1:]}" if cell.startswith("→") else cell


def markdown_table(table: dict[str, dict[str, str]] = TABLE) -> str:
    """The matrix as the README shows it."""
    lines = ["| route | " + " | ".join(CREDENTIALS) + " |", "| --- |" + " --- |" * len(CREDENTIALS)]
    lines += [f"| `{route}` | " + " | ".join(render_cell(cells[c]) for c in CREDENTIALS) + " |"
              for route, cells in table.items()]
    return "\n".join(lines)


def readme_table() -> str:
    """The table under :data:`HEADING` in the README (its lines that start with ``|``)."""
    text = README.read_text(encoding="utf-8")
    if HEADING not in text:
        return ""
    section = text.split(HEADING, 1)[1].split("\n#", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


# -- what needs no server -------------------------------------------------------------------------------

def test_every_route_of_the_app_has_a_row(tmp_path):
    from server import Settings, create_app

    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'routes.db'}"))
    try:
        routes = app_routes(app)
    finally:
        app.state.engine.dispose()
    assert {"missing rows": sorted(routes - set(EXPECTED)), "rows of no route": sorted(set(EXPECTED) - routes)} \
        == {"missing rows": [], "rows of no route": []}


def test_the_readme_shows_the_matrix():
    rendered = markdown_table()
    assert readme_table() == rendered, (
        f"README.md's table under {HEADING!r} differs from the test's; it must be exactly:\n\n{rendered}\n")


# -- a server with every kind of credential -------------------------------------------------------------

class LogLines(logging.Handler):
    """Every log line of the process (the access log and the app's), formatted as the server would write it."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines():
    """Capture every line of the root logger, with uvicorn's access log and our INFO lines let through."""
    handler = LogLines()
    root = logging.getLogger()
    saved = [(name, logging.getLogger(name).level, logging.getLogger(name).propagate)
             for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "hailong")]
    for name, _level, _propagate in saved:
        logging.getLogger(name).propagate = True  # uvicorn's own config stops its lines at its own handlers
        logging.getLogger(name).setLevel(logging.INFO)
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    for name, level, propagate in saved:
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).propagate = propagate


class Matrix:
    """The server and one of each credential; ``ask(route, credential)`` sends one cell's request."""

    def __init__(self, server):
        from server.accounts import revoke_admin_tokens
        from server.db import write_transaction
        from server.people import set_disabled

        self.server = server
        self.sessions = server.app.state.dashboard_sessions
        self.secrets: list[str] = [server.app.state.settings.dashboard_secret]
        self.urls: list[str] = []
        self.own, other, revoked = server.enroll(), server.enroll(), server.enroll()
        server.revoke(revoked.id)
        used = server.issue_code()
        assert server.post("/api/v1/enroll", json={"code": used}).status_code == 201
        expired = server.issue_code(ttl_s=60, now_ns=server.clock() - 3600 * 10**9)
        self.person = server.person("matrix.admin", password="matrix-password-2026")  # ASCII: also sent as a header
        self.target_id = server.person("matrix.target", role="viewer").id  # what the accounts forms change
        disabled = server.person("former.admin", password="mật khẩu của người đã nghỉ")
        admin = server.admin_token("matrix.admin")
        revoked_admin, disabled_admin = server.admin_token("revoked token"), server.admin_token("former.admin")
        with server.engine.connect() as conn, write_transaction(conn):
            revoke_admin_tokens(conn, "revoked token", now_ns=server.clock())
            set_disabled(conn, disabled.id, True, now_ns=server.clock())
        self.admin = admin
        self.tokens = {"garbage": "' OR '1'='1' -- ../../etc/passwd", "expired code": expired, "used code": used,
                       "revoked device": revoked.token, "other terminal": other.token, "device": self.own.token,
                       "admin": admin, "revoked admin": revoked_admin, "password": self.person.password,
                       "disabled account": disabled_admin}
        self.logins = {"password": self.person, "disabled account": disabled}  # POST /login: these log in as
        self.secrets += [self.own.token, other.token, revoked.token, used, expired, admin, revoked_admin,
                         self.person.password, disabled.password, disabled_admin]

        max_age_s = server.app.state.settings.session_max_age_s
        server.clock.advance(-max_age_s - 60)  # a session started 12 h 1 min ago by the server's clock
        expired_session = self.log_in()
        server.clock.advance(max_age_s + 60)
        live = self.log_in()
        session_id, csrf = self.sessions.read(live)
        forged = URLSafeTimedSerializer(random_secrets.token_urlsafe(48), salt="hailong-dashboard-session").dumps(
            {"s": session_id, "c": csrf})
        logged_out = self.log_in()
        answer = self.send("POST", "/logout", cookies={"hl_session": logged_out},
                           data={"csrf": self.sessions.read(logged_out)[1]})
        assert answer.status_code == 303
        self.cookies = {"expired session": expired_session, "forged cookie": forged, "logged-out cookie": logged_out}
        self.csrf = {cookie: self.sessions.read(cookie)[1] for cookie in (expired_session, logged_out)}
        self.csrf[forged] = csrf
        self.secrets.append(forged)
        self.live_session = live  # the forged cookie's original: it must outlive the matrix

    def log_in(self) -> str:
        """A new dashboard session's cookie (also forgives this address's wrong logins)."""
        session = log_in(self.server, self.person)
        self.urls += [self.server.url + "/login?next=%2F", self.server.url + "/login"]
        cookie = session.cookies["hl_session"]
        session_id, csrf = self.sessions.read(cookie)
        self.secrets += [cookie, session_id, csrf]
        return cookie

    def send(self, method: str, path: str, **kwargs) -> requests.Response:
        answer = requests.request(method, self.server.url + path, allow_redirects=False, timeout=30, **kwargs)
        self.urls += [answer.url, answer.headers.get("Location", "")]
        if answer.headers.get("Content-Type", "").startswith("text/html"):  # and every link a page offers
            self.urls += re.findall(r'(?:href|src|action)="([^"]*)"', answer.text)
        return answer

    def ask(self, route: str, credential: str) -> requests.Response:
        method, path = route.split(" ", 1)
        path = CONCRETE.get(route, path).replace("{account_id}", str(self.target_id))
        token = self.tokens.get(credential)
        if credential == "fresh code":
            token = self.server.issue_code()
            self.secrets.append(token)
        cookies, csrf = {}, "no-session"
        if credential == "session":
            cookies["hl_session"] = self.log_in()
        elif credential in COOKIE_KINDS:
            cookies["hl_session"] = self.cookies[credential]
        if "hl_session" in cookies:
            csrf = self.csrf.get(cookies["hl_session"]) or self.sessions.read(cookies["hl_session"])[1]
        kwargs: dict = {"headers": {}, "cookies": cookies}
        if route == "POST /api/v1/enroll":
            kwargs["json"] = {"app_version": "0.1.0", **({"code": token} if token else {})}
        elif route == "POST /login":
            self.log_in()  # each cell starts with no wrong logins counted against this address
            form = requests.Session()
            login_csrf = login_form(self.server, form)
            self.secrets.append(login_csrf)
            cookies["hl_login_csrf"] = login_csrf
            person = self.logins.get(credential, self.person)  # a token or code is tried as the password
            password = person.password if credential in self.logins else token or ""
            kwargs["data"] = {"username": person.username, "password": password, "csrf": login_csrf, "next": "/"}
        else:
            if token:
                kwargs["headers"]["Authorization"] = f"Bearer {token}"
            if route == "POST /api/v1/batches":
                kwargs["json"] = make_batch([make_rating(self.own.id)])
            elif method == "POST":
                kwargs["data"] = {"csrf": csrf}
        answer = self.send(method, path, **kwargs)
        if route == "POST /api/v1/enroll" and answer.status_code == 201:
            self.secrets.append(answer.json()["device_token"])
        return answer


def outcome(answer: requests.Response) -> str:
    """A cell as :data:`EXPECTED` writes it."""
    if answer.status_code == 303:
        return "→" + urlsplit(answer.headers["Location"]).path
    return str(answer.status_code)


FIGURES: dict[str, int] = {}  # summed over the backends, recorded once when the module is done


@pytest.fixture(scope="module", autouse=True)
def record_figures():
    FIGURES.clear()
    yield
    if FIGURES:
        record("Auth matrix", command=COMMAND, **FIGURES)


@pytest.fixture
def matrix(start_server, log_lines):
    server = start_server(clock=FakeClock(), alert_check_interval_s=0,
                          dashboard_secret=random_secrets.token_urlsafe(40),
                          uvicorn={"access_log": True, "log_config": None, "log_level": "info"})
    server.clock = server.app.state.clock
    return Matrix(server), log_lines


def test_every_route_with_every_credential(matrix):
    matrix, log_lines = matrix
    assert app_routes(matrix.server.app) == set(EXPECTED)
    rounds = scale(1, 5)
    found: dict[str, dict[str, str]] = {route: {} for route in EXPECTED}
    mismatches, server_errors, cells = [], 0, 0
    for _round in range(rounds):
        for route, expected in TABLE.items():
            for credential, status in expected.items():
                answer = matrix.ask(route, credential)
                cells += 1
                server_errors += answer.status_code >= 500
                found[route][credential] = outcome(answer)
                if found[route][credential] != status:
                    mismatches.append(f"{route} with {credential}: {found[route][credential]}, not {status}"
                                      f" ({answer.text[:200]!r})")
    # The forged cookie carried a live session's id, and tried to log out with it: that session still lives.
    assert matrix.sessions.user(matrix.live_session) is not None

    leaks = secrets_in(matrix.secrets, log_lines.lines, matrix.urls)
    for name, figure in (("cases", cells), ("server_errors", server_errors), ("mismatches", len(mismatches)),
                         ("log_lines", len(log_lines.lines)), ("urls", len(matrix.urls)),
                         ("secrets_leaked", len(leaks))):
        FIGURES[name] = FIGURES.get(name, 0) + figure
    FIGURES["backends"] = FIGURES.get("backends", 0) + 1
    print(f"\nauth matrix: {cells} cells, {len(mismatches)} mismatches, {server_errors} server errors; "
          f"{len(log_lines.lines)} log lines and {len(matrix.urls)} URLs scanned for "
          f"{len(set(matrix.secrets))} secrets: {len(leaks)} found")
    assert mismatches == [], "the server answered otherwise:\n" + "\n".join(mismatches) + \
        "\n\nwhat it answered, as a table:\n" + markdown_table(found)
    assert server_errors == 0
    assert any('"GET /fleet HTTP/1.1" 303' in line for line in log_lines.lines)  # the access log was seen
    assert any("dashboard login failed" in line for line in log_lines.lines)  # so was the app's
    assert leaks == []


def secrets_in(secrets: list[str], lines: list[str], urls: list[str]) -> list[str]:
    """Where any secret (or a 16-character piece of its random part) shows in a log line or a URL."""
    pieces = set()
    for secret in filter(None, secrets):
        core = re.sub(r"^hl_(adm|dev|enr)_", "", secret)
        pieces.update({core[:16], core[-16:]} if len(core) >= 16 else {core})
    places = [("log", line) for line in lines] + [("URL", url) for url in urls]
    return [f"{kind}: {text[:300]}" for kind, text in places for piece in pieces if piece in text]

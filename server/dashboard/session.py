"""Dashboard logins: an admin token typed once buys a session, kept by the server.

The session is a row of ``dashboard_sessions`` (admin token, expiry); the
cookie carries its random id and a CSRF token, signed with itsdangerous
(HMAC) and dated, so it cannot be forged. The row is what makes a session
live: every page looks it up, with its admin token, so logging out (the row
is deleted), revoking the token (its rows are deleted, and the token is
checked too) or reaching ``session_max_age_s`` by the server's clock ends it
at the next click, even for a copy of the cookie. The cookie is ``HttpOnly``
(no script reads it), ``SameSite=Strict`` (no other site's page sends it)
and ``Secure`` when the request came over HTTPS. Every form carries the CSRF
token, checked on POST (the login form, before there is a session, uses a
double-submit cookie). Only the SHA-256 hash of a session id is stored.

The signing key is ``dashboard_secret`` when set, else one generated on the
first start and kept in the ``server_secrets`` table, so sessions survive a
restart and no two servers share a key.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from collections.abc import Callable

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from ..accounts import secret_hash, token_actor
from ..audit import Actor, record
from ..db import write_transaction
from ..schema import admin_tokens, dashboard_sessions, server_secrets
from ..settings import Settings
from ..timekeeping import NS_PER_S, iso_from_ns

SESSION_COOKIE = "hl_session"
LOGIN_CSRF_COOKIE = "hl_login_csrf"
SECRET_NAME = "dashboard_session_key"


class LoginRequired(Exception):
    """The page needs a logged-in administrator; answered by a redirect to the login page."""


class CsrfRejected(Exception):
    """A form came without the CSRF token of the session that showed it."""


@dataclass(frozen=True)
class DashboardAdmin:
    """The administrator behind a request: the admin token's id and name, the session's CSRF token and id."""

    token_id: int
    name: str
    csrf: str
    session_id: str



def signing_key(engine: Engine, settings: Settings, now_ns: int) -> str:
    """``settings.dashboard_secret``, or the key kept in the database (made on the first call)."""
    if settings.dashboard_secret:
        return settings.dashboard_secret
    query = select(server_secrets.c.value).where(server_secrets.c.name == SECRET_NAME)
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
        if found:
            return found
        try:
            with write_transaction(conn):
                conn.execute(insert(server_secrets).values(name=SECRET_NAME, value=secrets.token_urlsafe(48),
                                                           created_at=iso_from_ns(now_ns)))
        except IntegrityError:
            pass  # another process made it first: use theirs
        return conn.execute(query).scalar_one()


class Sessions:
    """Starts, finds and ends the dashboard sessions of one app, and signs and reads their cookies.

    ``clock`` is the app's (nanoseconds since the epoch): expiry is the server's decision, by its clock.
    """

    def __init__(self, engine: Engine, key: str, *, max_age_s: int, clock: Callable[[], int]):
        self.engine = engine
        self.serializer = URLSafeTimedSerializer(key, salt="hailong-dashboard-session")
        self.max_age_s = max_age_s
        self.clock = clock

    def start(self, token_id: int, *, address: str | None = None) -> str:
        """A new session for the admin token ``token_id``, recorded in the audit trail (``login``, from ``address``);
        returns its cookie. Drops expired sessions."""
        session_id = secrets.token_urlsafe(32)
        now_ns = self.clock()
        with self.engine.connect() as conn, write_transaction(conn):
            conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.expires_at <= iso_from_ns(now_ns)))
            conn.execute(insert(dashboard_sessions).values(
                id_hash=secret_hash(session_id), admin_token_id=token_id, created_at=iso_from_ns(now_ns),
                expires_at=iso_from_ns(now_ns + self.max_age_s * NS_PER_S)))
            record(conn, actor=token_actor(conn, token_id=token_id), action="login", subject="dashboard",
                   details={"session": secret_hash(session_id)[:12]}, address=address, now_ns=now_ns)
        return self.serializer.dumps({"s": session_id, "c": secrets.token_urlsafe(24)})

    def read(self, cookie: str | None) -> tuple[str, str] | None:
        """(session id, CSRF token) of a well-signed cookie younger than the session's lifetime, else None.

        Says nothing about whether the session is still live: see :meth:`admin`.
        """
        if not cookie:
            return None
        try:
            data = self.serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:  # includes SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("s"), str) or not isinstance(data.get("c"), str):
            return None
        return data["s"], data["c"]

    def admin(self, cookie: str | None) -> DashboardAdmin | None:
        """The administrator of a live session (row present, unexpired, its admin token not revoked), else None."""
        found = self.read(cookie)
        if found is None:
            return None
        session_id, csrf = found
        query = (select(admin_tokens.c.id, admin_tokens.c.name, admin_tokens.c.revoked_at,
                        dashboard_sessions.c.expires_at)
                 .join(admin_tokens, admin_tokens.c.id == dashboard_sessions.c.admin_token_id)
                 .where(dashboard_sessions.c.id_hash == secret_hash(session_id)))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.revoked_at is not None or row.expires_at <= iso_from_ns(self.clock()):
            return None
        return DashboardAdmin(row.id, row.name, csrf, session_id)

    def end(self, admin: DashboardAdmin, *, address: str | None = None) -> None:
        """End ``admin``'s session (recorded: ``logout``): its cookie, and every copy of it, opens nothing from now on."""
        now_ns = self.clock()
        with self.engine.connect() as conn, write_transaction(conn):
            conn.execute(delete(dashboard_sessions)
                         .where(dashboard_sessions.c.id_hash == secret_hash(admin.session_id)))
            record(conn, actor=token_actor(conn, token_id=admin.token_id), action="logout", subject="dashboard",
                   details={"session": secret_hash(admin.session_id)[:12]}, address=address, now_ns=now_ns)

    def record_failure(self, token: str, kind: str, *, address: str | None, locked_for_s: int) -> None:
        """Record a refused login (``login_failed``): whose token it was when it is a revoked one, never the token."""
        with self.engine.connect() as conn, write_transaction(conn):
            actor = token_actor(conn, token=token) if kind == "revoked" else Actor("(unknown)")
            record(conn, actor=actor, action="login_failed", subject="dashboard",
                   details={"why": kind, "locked_for_s": locked_for_s}, address=address, now_ns=self.clock())


def admin_token_id(engine: Engine, token: str) -> tuple[int | None, str, str]:
    """(id, "", "live") of a live admin token, else (None, why not in Vietnamese, "empty"/"unknown"/"revoked")."""
    token = token.strip()
    if not token:
        return None, "Hãy nhập mã quản trị (admin token).", "empty"
    with engine.connect() as conn:
        row = conn.execute(select(admin_tokens.c.id, admin_tokens.c.revoked_at)
                           .where(admin_tokens.c.token_hash == secret_hash(token))).first()
    if row is None:
        return None, "Mã quản trị không đúng.", "unknown"
    if row.revoked_at is not None:
        return None, f"Mã quản trị này đã bị thu hồi lúc {row.revoked_at}.", "revoked"
    return row.id, "", "live"


def dashboard_admin(request: Request) -> DashboardAdmin:
    """The logged-in administrator (``Depends``), or :class:`LoginRequired`. Checks the session's row each time."""
    admin = request.app.state.dashboard_sessions.admin(request.cookies.get(SESSION_COOKIE))
    if admin is None:
        raise LoginRequired()
    return admin


def check_csrf(expected: str | None, sent: str | None) -> None:
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRejected()


def set_cookie(response, request: Request, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")

"""Dashboard logins: an admin token typed once buys a signed session cookie.

The cookie holds the admin token's row id and a CSRF token, signed with
itsdangerous (HMAC) and dated, so it cannot be forged or kept past
``session_max_age_s``. It is ``HttpOnly`` (no script reads it) and
``SameSite=Strict`` (no other site's page sends it). Every page looks the
token up again, so revoking it ends the session at the next click. Every form
carries the CSRF token, checked on POST (the login form, before there is a
session, uses a double-submit cookie).

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
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from ..accounts import secret_hash
from ..db import write_transaction
from ..schema import admin_tokens, server_secrets
from ..settings import Settings
from ..timekeeping import iso_from_ns

SESSION_COOKIE = "hl_session"
LOGIN_CSRF_COOKIE = "hl_login_csrf"
SECRET_NAME = "dashboard_session_key"


class LoginRequired(Exception):
    """The page needs a logged-in administrator; answered by a redirect to the login page."""


class CsrfRejected(Exception):
    """A form came without the CSRF token of the session that showed it."""


@dataclass(frozen=True)
class DashboardAdmin:
    """The administrator behind a request: the admin token's id and name, and the session's CSRF token."""

    token_id: int
    name: str
    csrf: str


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
    """Signs and reads session cookies for one app."""

    def __init__(self, key: str, *, max_age_s: int):
        self.serializer = URLSafeTimedSerializer(key, salt="hailong-dashboard-session")
        self.max_age_s = max_age_s

    def cookie_for(self, token_id: int) -> str:
        return self.serializer.dumps({"t": token_id, "c": secrets.token_urlsafe(24)})

    def read(self, cookie: str | None) -> tuple[int, str] | None:
        """(admin token id, CSRF token) of a valid, unexpired cookie, else None."""
        if not cookie:
            return None
        try:
            data = self.serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:  # includes SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("t"), int) or not isinstance(data.get("c"), str):
            return None
        return data["t"], data["c"]


def admin_token_id(engine: Engine, token: str) -> tuple[int | None, str]:
    """(id, "") of a live admin token, else (None, why not in Vietnamese)."""
    token = token.strip()
    if not token:
        return None, "Hãy nhập mã quản trị (admin token)."
    with engine.connect() as conn:
        row = conn.execute(select(admin_tokens.c.id, admin_tokens.c.revoked_at)
                           .where(admin_tokens.c.token_hash == secret_hash(token))).first()
    if row is None:
        return None, "Mã quản trị không đúng."
    if row.revoked_at is not None:
        return None, f"Mã quản trị này đã bị thu hồi lúc {row.revoked_at}."
    return row.id, ""


def dashboard_admin(request: Request) -> DashboardAdmin:
    """The logged-in administrator (``Depends``), or :class:`LoginRequired`. Re-checks revocation each time."""
    found = request.app.state.dashboard_sessions.read(request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise LoginRequired()
    token_id, csrf = found
    with request.app.state.engine.connect() as conn:
        row = conn.execute(select(admin_tokens.c.name, admin_tokens.c.revoked_at)
                           .where(admin_tokens.c.id == token_id)).first()
    if row is None or row.revoked_at is not None:
        raise LoginRequired()
    return DashboardAdmin(token_id, row.name, csrf)


def check_csrf(expected: str | None, sent: str | None) -> None:
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRejected()


def set_cookie(response, request: Request, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")

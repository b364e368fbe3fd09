"""Dashboard logins: a person's user name and password (and code) buy a session, kept by the server.

The session is a row of ``dashboard_sessions`` (account, expiry); the cookie
carries its random id and a CSRF token, signed with itsdangerous (HMAC) and
dated, so it cannot be forged. The row is what makes a session live: every
page looks it up, with its account, so logging out (the row is deleted),
disabling the account (checked on every page, and its rows are deleted),
``session_max_age_s`` after the login or ``session_idle_s`` without a page
opened, by the server's clock, ends it at the next click, even for a copy of
the cookie. The cookie is ``HttpOnly`` (no script reads it),
``SameSite=Strict`` (no other site's page sends it) and ``Secure`` when the
request came over HTTPS. Every form carries the CSRF token, checked on POST
(the login form, before there is a session, uses a double-submit cookie).
Only the SHA-256 hash of a session id is stored.

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

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..access import Caller
from ..accounts import secret_hash
from ..audit import Actor, actor_of, record
from ..db import write_transaction, write_transaction_unless_busy
from ..people import Account, find_account
from ..schema import accounts, dashboard_sessions, server_secrets
from ..settings import Settings
from ..timekeeping import NS_PER_S, iso_from_ns, ns_from_iso

SESSION_COOKIE = "hl_session"
LOGIN_CSRF_COOKIE = "hl_login_csrf"
SECRET_NAME = "dashboard_session_key"


class LoginRequired(Exception):
    """The page needs a logged-in person; answered by a redirect to the login page."""


class PasswordChangeRequired(Exception):
    """The person logged in with a one-time password: nothing but a new password until it is changed."""


class NotAllowed(Exception):
    """The person is logged in but their role may not open this page; the message says so in Vietnamese."""


class CsrfRejected(Exception):
    """A form came without the CSRF token of the session that showed it."""


@dataclass(frozen=True)
class DashboardUser:
    """The person behind a request: who (:class:`~server.access.Caller`), the session's CSRF token and id,
    and whether the password they logged in with was a one-time one."""

    caller: Caller
    csrf: str
    session_id: str
    must_change_password: bool = False
    totp_on: bool = False

    @property
    def name(self) -> str:
        return self.caller.display_name



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

    ``clock`` is the app's (nanoseconds since the epoch): expiry is the server's decision, by its clock. A session
    lives ``max_age_s`` from the login at most, and ``idle_s`` (0: no limit) after the last page opened.
    """

    #: An open page moves the idle deadline only when it moved this much (not one write per click).
    IDLE_STEP_S = 60

    def __init__(self, engine: Engine, key: str, *, max_age_s: int, clock: Callable[[], int], idle_s: int = 0):
        self.engine = engine
        self.serializer = URLSafeTimedSerializer(key, salt="hailong-dashboard-session")
        self.max_age_s = max_age_s
        self.idle_s = idle_s
        self.clock = clock

    def _deadline(self, created_ns: int, now_ns: int) -> int:
        absolute = created_ns + self.max_age_s * NS_PER_S
        return min(absolute, now_ns + self.idle_s * NS_PER_S) if self.idle_s else absolute

    def start(self, account_id: int, *, address: str | None = None) -> str:
        """A new session for the account ``account_id``, recorded in the audit trail (``login``, from ``address``);
        returns its cookie. Drops expired sessions."""
        session_id = secrets.token_urlsafe(32)
        now_ns = self.clock()
        with self.engine.connect() as conn, write_transaction(conn):
            conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.expires_at <= iso_from_ns(now_ns)))
            conn.execute(insert(dashboard_sessions).values(
                id_hash=secret_hash(session_id), account_id=account_id, created_at=iso_from_ns(now_ns),
                last_used_at=iso_from_ns(now_ns), expires_at=iso_from_ns(self._deadline(now_ns, now_ns))))
            who = conn.execute(select(accounts.c.username, accounts.c.role, accounts.c.scope_node_id)
                               .where(accounts.c.id == account_id)).one()
            record(conn, actor=Actor(who.username, account_id=account_id, role=who.role,
                                     scope_node_id=who.scope_node_id),
                   action="login", subject="dashboard", details={"session": secret_hash(session_id)[:12]},
                   address=address, now_ns=now_ns)
        return self.serializer.dumps({"s": session_id, "c": secrets.token_urlsafe(24)})

    def read(self, cookie: str | None) -> tuple[str, str] | None:
        """(session id, CSRF token) of a well-signed cookie younger than the session's lifetime, else None.

        Says nothing about whether the session is still live: see :meth:`user`.
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

    def user(self, cookie: str | None) -> DashboardUser | None:
        """The person of a live session (row present, unexpired, the account enabled), else None."""
        found = self.read(cookie)
        if found is None:
            return None
        session_id, csrf = found
        id_hash = secret_hash(session_id)
        now_ns = self.clock()
        with self.engine.connect() as conn:
            row = conn.execute(select(dashboard_sessions.c.account_id, dashboard_sessions.c.created_at,
                                      dashboard_sessions.c.expires_at)
                               .where(dashboard_sessions.c.id_hash == id_hash)).first()
            if row is None or row.account_id is None or row.expires_at <= iso_from_ns(now_ns):
                return None
            account: Account | None = find_account(conn, account_id=row.account_id)
            if account is None or account.disabled_at is not None:
                return None
            deadline = self._deadline(ns_from_iso(row.created_at), now_ns)
            if deadline - ns_from_iso(row.expires_at) >= self.IDLE_STEP_S * NS_PER_S:
                # Not worth waiting for behind a storm of batches on SQLite's one writer: when the lock is busy the
                # page opens all the same and a later page moves the deadline (it is at least IDLE_STEP_S away).
                with write_transaction_unless_busy(conn) as writing:
                    if writing:
                        conn.execute(update(dashboard_sessions).where(dashboard_sessions.c.id_hash == id_hash)
                                     .values(expires_at=iso_from_ns(deadline), last_used_at=iso_from_ns(now_ns)))
        return DashboardUser(account.caller(), csrf, session_id, account.must_change_password, account.totp_on)

    def end(self, user: DashboardUser, *, address: str | None = None) -> None:
        """End ``user``'s session (recorded: ``logout``): its cookie, and every copy of it, opens nothing from now on."""
        with self.engine.connect() as conn, write_transaction(conn):
            conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.id_hash == secret_hash(user.session_id)))
            record(conn, actor=actor_of(user.caller), action="logout", subject="dashboard",
                   details={"session": secret_hash(user.session_id)[:12]}, address=address, now_ns=self.clock())

    def record_failure(self, username: str, why: str, *, address: str | None, locked_for_s: int = 0) -> None:
        """Record a refused login (``login_failed``): the user name typed and why, never the password."""
        with self.engine.connect() as conn, write_transaction(conn):
            account = find_account(conn, username=username) if username else None
            actor = actor_of(account.caller()) if account is not None else Actor(username or "(unknown)")
            record(conn, actor=actor, action="login_failed", subject="dashboard",
                   details={"why": why, "locked_for_s": locked_for_s}, address=address, now_ns=self.clock())


def signed_in_user(request: Request) -> DashboardUser:
    """The logged-in person (``Depends``), even one who must still change a one-time password; else
    :class:`LoginRequired`. Only for the pages that person may see: their account page and logging out."""
    user = request.app.state.dashboard_sessions.user(request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise LoginRequired()
    return user


def dashboard_user(request: Request) -> DashboardUser:
    """The logged-in person (``Depends``) for every other page: :class:`LoginRequired` without a live session,
    :class:`PasswordChangeRequired` while the password is a one-time one. Checks the session's row each time."""
    user = signed_in_user(request)
    if user.must_change_password:
        raise PasswordChangeRequired()
    return user


def check_csrf(expected: str | None, sent: str | None) -> None:
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRejected()


def set_cookie(response, request: Request, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")

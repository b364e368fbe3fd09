"""Logging in with a user name and a password (and a TOTP code when the account has one), with a lock-out per account.

After :data:`ACCOUNT_FREE_FAILURES` wrong passwords (or codes) in a row an
account is locked for :data:`ACCOUNT_FIRST_LOCK_S`, twice as long after each
further wrong one, up to :data:`ACCOUNT_MAX_LOCK_S`; while it is locked the
password is not even checked. A good login, or an administrator's reset,
forgives it (:func:`server.people.reset_password`). The count is kept in the database (``login_failures``, key
``account:<id>``) beside the lock-out per client address, which stays: the
address limit slows one machine guessing many accounts, this one many
machines guessing one account.

An unknown user name and a wrong password get the same answer (and take the
same time: a hash is checked either way), so the form does not tell which
user names exist. Only after the right password does it say that the account
is disabled or needs a code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from ..db import write_transaction
from ..passwords import hash_password, needs_rehash, verify_password
from ..people import Account, find_account, lockout_key, use_totp_code
from ..schema import accounts
from .login_throttle import LoginThrottle

ACCOUNT_FREE_FAILURES = 5
ACCOUNT_FIRST_LOCK_S = 15 * 60
ACCOUNT_MAX_LOCK_S = 24 * 3600

WRONG = "Tên đăng nhập hoặc mật khẩu không đúng."

#: A hash to check when the user name is unknown, so that answer takes as long as a wrong password's.
_DUMMY_HASH: list[str] = []


@dataclass(frozen=True)
class LoginOutcome:
    """What a login attempt came to: ``kind`` (ok, empty, unknown, wrong_password, locked, disabled,
    totp_needed, totp_wrong), the account when known, the Vietnamese sentence for the form, a lock in seconds."""

    kind: str
    account: Account | None = None
    message: str = ""
    locked_s: int = 0

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def _minutes(seconds: int) -> str:
    return f"{math.ceil(seconds / 60)} phút" if seconds >= 60 else f"{seconds} giây"


class AccountLogins:
    """Checks user name, password and code against the accounts; counts wrong ones per account.

    Call from a worker thread (it hashes and opens connections). ``clock`` is the app's (ns since the epoch).
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], int]):
        self.engine = engine
        self.clock = clock
        self.throttle = LoginThrottle(engine, clock=clock, free_failures=ACCOUNT_FREE_FAILURES,
                                      first_lock_s=ACCOUNT_FIRST_LOCK_S, max_lock_s=ACCOUNT_MAX_LOCK_S)

    def attempt(self, username: str, password: str, code: str = "") -> LoginOutcome:
        if not username.strip() or not password:
            return LoginOutcome("empty", message="Hãy nhập tên đăng nhập và mật khẩu.")
        with self.engine.connect() as conn:
            account = find_account(conn, username=username)
            stored = None if account is None else conn.execute(
                select(accounts.c.password_hash).where(accounts.c.id == account.id)).scalar()
        if account is None:
            verify_password(_dummy_hash(), password)
            return LoginOutcome("unknown", message=WRONG)
        key = lockout_key(account.id)
        wait_s = self.throttle.wait_s(key)
        if wait_s:
            return LoginOutcome("locked", account, self._locked(wait_s), wait_s)
        if not verify_password(stored, password):
            return self._failed(account, "wrong_password", WRONG)
        if account.disabled_at is not None:
            return LoginOutcome("disabled", account, "Tài khoản này đã bị vô hiệu hoá. Hãy liên hệ quản trị viên.")
        if account.totp_on:
            if not code.strip():
                return LoginOutcome("totp_needed", account,
                                    "Tài khoản này bật xác thực hai bước: nhập mã 6 số đang hiện trong ứng dụng.")
            with self.engine.connect() as conn, write_transaction(conn):
                good = use_totp_code(conn, account.id, code, now_ns=self.clock())
            if not good:
                return self._failed(account, "totp_wrong", "Mã xác thực không đúng hoặc đã được dùng. "
                                                           "Hãy nhập mã mới đang hiện trong ứng dụng.")
        self.throttle.succeeded(key)
        if needs_rehash(stored):  # the hashing parameters were raised since: store the stronger hash
            with self.engine.connect() as conn, write_transaction(conn):
                conn.execute(update(accounts).where(accounts.c.id == account.id)
                             .values(password_hash=hash_password(password)))
        return LoginOutcome("ok", account)

    def locked_s(self, account_id: int) -> int:
        return self.throttle.wait_s(lockout_key(account_id))

    def _failed(self, account: Account, kind: str, message: str) -> LoginOutcome:
        lock_s = self.throttle.failed(lockout_key(account.id))
        if lock_s:
            message = f"{message} {self._locked(lock_s)}"
        return LoginOutcome(kind, account, message, lock_s)

    @staticmethod
    def _locked(wait_s: int) -> str:
        return (f"Tài khoản tạm khoá vì nhập sai nhiều lần: thử lại sau {_minutes(wait_s)}, "
                "hoặc nhờ quản trị viên đặt lại mật khẩu.")


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password("no account has this password"))
    return _DUMMY_HASH[0]

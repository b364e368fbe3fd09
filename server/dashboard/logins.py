"""Logging in with a user name and a password (and a TOTP code when the account has one), with a lock-out per account.

After :data:`ACCOUNT_FREE_FAILURES` wrong passwords (or codes) in a row an
account is locked for :data:`ACCOUNT_FIRST_LOCK_S`, twice as long after each
further wrong one, up to :data:`ACCOUNT_MAX_LOCK_S`; while it is locked the
password is not even checked. A good login, or an administrator's reset,
forgives it (:func:`server.people.reset_password`). The count and the lock
are the account's (``accounts.failed_logins``, ``locked_until``), beside the
lock-out per client address (``login_failures``), which stays: the address
limit slows one machine guessing many accounts, this one many machines
guessing one account.

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
from ..people import Account, find_account, locked_for_s, use_totp_code
from ..schema import accounts
from ..timekeeping import NS_PER_S, iso_from_ns

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
        wait_s = locked_for_s(account, self.clock())
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
        values = {"failed_logins": 0, "locked_until": None, "last_login_at": iso_from_ns(self.clock())}
        if needs_rehash(stored):  # the hashing parameters were raised since: store the stronger hash
            values["password_hash"] = hash_password(password)
        with self.engine.connect() as conn, write_transaction(conn):
            conn.execute(update(accounts).where(accounts.c.id == account.id).values(**values))
        return LoginOutcome("ok", account)

    def _failed(self, account: Account, kind: str, message: str) -> LoginOutcome:
        lock_s = self._count_failure(account.id)
        if lock_s:
            message = f"{message} {self._locked(lock_s)}"
        return LoginOutcome(kind, account, message, lock_s)

    def _count_failure(self, account_id: int) -> int:
        """Count a wrong password or code (one UPDATE: two workers never lose one); the lock it earns, in seconds."""
        now_ns = self.clock()
        with self.engine.connect() as conn, write_transaction(conn):
            failures = conn.execute(update(accounts).where(accounts.c.id == account_id)
                                    .values(failed_logins=accounts.c.failed_logins + 1)
                                    .returning(accounts.c.failed_logins)).scalar_one()
            lock_s = 0 if failures <= ACCOUNT_FREE_FAILURES else min(
                ACCOUNT_MAX_LOCK_S, ACCOUNT_FIRST_LOCK_S * 2 ** min(failures - ACCOUNT_FREE_FAILURES - 1, 16))
            if lock_s:
                conn.execute(update(accounts).where(accounts.c.id == account_id)
                             .values(locked_until=iso_from_ns(now_ns + lock_s * NS_PER_S)))
        return lock_s

    @staticmethod
    def _locked(wait_s: int) -> str:
        return (f"Tài khoản tạm khoá vì nhập sai nhiều lần: thử lại sau {_minutes(wait_s)}, "
                "hoặc nhờ quản trị viên đặt lại mật khẩu.")


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password("no account has this password"))
    return _DUMMY_HASH[0]

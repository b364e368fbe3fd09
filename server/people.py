"""People's accounts: create, list, change and reset passwords, disable and enable, role and scope, TOTP.

An account has a user name (what a person types to log in), a name to show,
a role (:data:`server.access.ROLES`) and a scope (a node of the organisation
tree; None: the whole server). Its password is kept only as an Argon2 hash
(:mod:`server.passwords`). A password an administrator set — a new account's
first one, or a reset — is one-time (``must_change_password``): the dashboard
asks for a new one before anything else. Disabling an account ends
its sessions and stops its API tokens at once (both are checked against
``disabled_at`` on every request).

Functions take an open connection; the caller commits (``write_transaction``).
Refusals are :class:`AccountRefused`, whose message is Vietnamese (shown on the
dashboard and by the CLI) and whose ``field`` names the input.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from sync.names import name_problem

from . import second_factor
from .access import ROLES, Caller
from .errors import ServerError
from .passwords import hash_password, password_problem, verify_password
from .schema import accounts, dashboard_sessions, nodes
from .timekeeping import NS_PER_S, iso_from_ns, ns_from_iso

USERNAME_MAX = 64  # accounts.username
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


class AccountRefused(ServerError, ValueError):
    """An account change that cannot be made; the message says why in Vietnamese, ``field`` names the input."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field

    #: The HTTP status a page answers it with.
    status = 422


class UnknownAccount(AccountRefused, LookupError):
    """No account has this id (or, for a scoped administrator, none inside its scope: the same answer)."""

    status = 404


@dataclass(frozen=True)
class Account:
    """An account as the dashboard and the CLI show it (never its hash or its TOTP secret)."""

    id: int
    username: str
    display_name: str
    role: str
    scope_node_id: int | None
    created_at: str
    disabled_at: str | None
    password_changed_at: str | None
    must_change_password: bool  # a password set by an administrator (one-time), not replaced yet
    failed_logins: int
    locked_until: str | None
    last_login_at: str | None
    has_password: bool
    totp_on: bool
    sees_officers: bool = False  # a viewer that may see officers' names and results (issue 12)

    def caller(self) -> Caller:
        return Caller(self.id, self.username, self.display_name, self.role, self.scope_node_id, self.sees_officers)


_COLUMNS = (accounts.c.id, accounts.c.username, accounts.c.display_name, accounts.c.role, accounts.c.scope_node_id,
            accounts.c.created_at, accounts.c.disabled_at, accounts.c.password_changed_at,
            accounts.c.must_change_password, accounts.c.failed_logins, accounts.c.locked_until,
            accounts.c.last_login_at, accounts.c.password_hash.is_not(None).label("has_password"),
            accounts.c.totp_secret.is_not(None).label("totp_on"), accounts.c.sees_officers)


def _account(row) -> Account:
    return Account(**{**row._mapping, "has_password": bool(row.has_password), "totp_on": bool(row.totp_on),
                      "must_change_password": bool(row.must_change_password),
                      "sees_officers": bool(row.sees_officers)})


def find_account(conn: Connection, *, username: str | None = None, account_id: int | None = None) -> Account | None:
    """The account with this id, or this user name: as typed (an account made from an admin token's name keeps
    its capitals and spaces), else in lower case with spaces trimmed. None when there is none."""
    if account_id is not None:
        row = conn.execute(select(*_COLUMNS).where(accounts.c.id == account_id)).first()
        return _account(row) if row else None
    for name in dict.fromkeys(((username or "").strip(), normal_username(username or ""))):
        row = conn.execute(select(*_COLUMNS).where(accounts.c.username == name)).first()
        if row:
            return _account(row)
    return None


def list_accounts(conn: Connection) -> list[Account]:
    """Every account, by user name."""
    return [_account(row) for row in conn.execute(select(*_COLUMNS).order_by(accounts.c.username))]


def locked_for_s(account: Account, now_ns: int) -> int:
    """Whole seconds the account is still locked out for after wrong logins (0: it may log in)."""
    if not account.locked_until:
        return 0
    return max(0, math.ceil((ns_from_iso(account.locked_until) - now_ns) / NS_PER_S))


def normal_username(username: str) -> str:
    return username.strip().lower()


def username_problem(username: str) -> str | None:
    """Why ``username`` cannot be a new account's user name (Vietnamese), or None."""
    if not USERNAME_PATTERN.fullmatch(username):
        return ("Tên đăng nhập gồm 2–64 ký tự: chữ thường không dấu, chữ số, dấu chấm, gạch dưới, gạch ngang; "
                "bắt đầu bằng chữ hoặc số (ví dụ nguyen.van.an).")
    return None


def one_time_password() -> str:
    """A password for an administrator to hand over (it must be changed at the first login): 3 groups of 4."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or copied from paper
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


def _check_role_scope(conn: Connection, role: str, scope_node_id: int | None) -> None:
    if role not in ROLES:
        raise AccountRefused(f"Vai trò không hợp lệ: {role!r} (một trong {', '.join(ROLES)}).", field="role")
    if scope_node_id is not None and conn.execute(select(nodes.c.id).where(nodes.c.id == scope_node_id)).first() is None:
        raise AccountRefused(f"Không có nút nào mang mã số {scope_node_id} trong cây tổ chức.", field="scope")


def create_account(conn: Connection, *, username: str, display_name: str, role: str, scope_node_id: int | None,
                   password: str | None, now_ns: int, one_time: bool = True, check_username: bool = True) -> Account:
    """A new account; ``password`` None makes one that only API tokens use. Returns it.

    ``one_time``: the password was chosen by an administrator, so its owner must change it at the first login.
    ``check_username`` False only for accounts made from an API token's name (``admin-token --name``).
    """
    username = normal_username(username) if check_username else username.strip()
    display_name = display_name.strip() or username
    if check_username and (problem := username_problem(username)):
        raise AccountRefused(problem, field="username")
    if (problem := name_problem(display_name)) is not None:
        raise AccountRefused(f"Tên hiển thị không hợp lệ (the name {problem}).", field="display_name")
    _check_role_scope(conn, role, scope_node_id)
    if password is not None and (problem := password_problem(password, username=username)):
        raise AccountRefused(problem, field="password")
    now = iso_from_ns(now_ns)
    try:
        with conn.begin_nested():
            new_id = conn.execute(insert(accounts).values(
                username=username, display_name=display_name, role=role, scope_node_id=scope_node_id,
                password_hash=hash_password(password) if password is not None else None,
                must_change_password=one_time and password is not None,
                password_changed_at=None if password is None else now, failed_logins=0, created_at=now)
                .returning(accounts.c.id)).scalar_one()
    except IntegrityError:
        raise AccountRefused(f"Tên đăng nhập {username!r} đã có người dùng.", field="username") from None
    return find_account(conn, account_id=new_id)


def _require(conn: Connection, account_id: int) -> Account:
    found = find_account(conn, account_id=account_id)
    if found is None:
        raise UnknownAccount(f"Không có tài khoản mang mã số {account_id}.")
    return found


def end_sessions(conn: Connection, account_id: int) -> None:
    """Log the account out everywhere (every dashboard session of it ends)."""
    conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.account_id == account_id))


def change_password(conn: Connection, account_id: int, *, old: str, new: str, repeat: str, now_ns: int) -> None:
    """The owner's own change: needs the current password; the new one must meet the rule and be new."""
    stored = conn.execute(select(accounts.c.password_hash, accounts.c.username)
                          .where(accounts.c.id == account_id)).first()
    if stored is None or not verify_password(stored.password_hash, old):
        raise AccountRefused("Mật khẩu hiện tại không đúng.", field="old")
    if new != repeat:
        raise AccountRefused("Hai lần nhập mật khẩu mới không giống nhau.", field="repeat")
    if new == old:
        raise AccountRefused("Mật khẩu mới phải khác mật khẩu hiện tại.", field="new")
    if problem := password_problem(new, username=stored.username):
        raise AccountRefused(problem, field="new")
    set_password(conn, account_id, new, now_ns=now_ns, one_time=False)


def set_password(conn: Connection, account_id: int, password: str, *, now_ns: int, one_time: bool) -> None:
    """Store a new hash of ``password`` (the rule is the caller's to check)."""
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(
        password_hash=hash_password(password), must_change_password=one_time, password_changed_at=iso_from_ns(now_ns)))


def reset_password(conn: Connection, account_id: int, *, now_ns: int, drop_totp: bool = False) -> str:
    """An administrator's reset: a new one-time password (returned, to hand over), every session ended,
    the lock-out lifted."""
    _require(conn, account_id)
    password = one_time_password()
    set_password(conn, account_id, password, now_ns=now_ns, one_time=True)
    if drop_totp:
        conn.execute(update(accounts).where(accounts.c.id == account_id).values(totp_secret=None, totp_last_step=None))
    end_sessions(conn, account_id)
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(failed_logins=0, locked_until=None))
    return password


def set_disabled(conn: Connection, account_id: int, disabled: bool, *, now_ns: int) -> Account:
    """Disable (sessions end, tokens refused at once) or enable an account. Disabling twice keeps the first date."""
    found = _require(conn, account_id)
    if disabled and found.disabled_at is None:
        conn.execute(update(accounts).where(accounts.c.id == account_id).values(disabled_at=iso_from_ns(now_ns)))
        end_sessions(conn, account_id)
    elif not disabled and found.disabled_at is not None:
        conn.execute(update(accounts).where(accounts.c.id == account_id).values(disabled_at=None))
    return _require(conn, account_id)


def set_role_scope(conn: Connection, account_id: int, *, role: str, scope_node_id: int | None,
                   sees_officers: bool | None = None) -> Account:
    """Give an account another role or scope (and, when given, its ``sees_officers`` flag: a viewer's view of
    officers' names and results); its sessions end, so the next page is seen with the new ones."""
    _require(conn, account_id)
    _check_role_scope(conn, role, scope_node_id)
    values = {"role": role, "scope_node_id": scope_node_id}
    if sees_officers is not None:
        values["sees_officers"] = sees_officers
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))
    end_sessions(conn, account_id)
    return _require(conn, account_id)


def live_province_admins(conn: Connection) -> int:
    """How many enabled province admins with a password there are (the last one may not lock itself out)."""
    return len(conn.execute(select(accounts.c.id).where(
        accounts.c.role == "province_admin", accounts.c.disabled_at.is_(None), accounts.c.scope_node_id.is_(None),
        accounts.c.password_hash.is_not(None))).all())


# -- the second factor -----------------------------------------------------------------------------------

def turn_totp_on(conn: Connection, account_id: int, secret: str, code: str, *, now_ns: int) -> None:
    """Store ``secret`` once ``code`` shows the person's app makes its codes (that code is then used up)."""
    step = second_factor.accepted_step(secret, code, now_s=now_ns / 1e9, last_step=None)
    if step is None:
        raise AccountRefused("Mã xác thực không đúng: hãy nhập mã 6 số đang hiện trong ứng dụng.", field="code")
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(totp_secret=secret, totp_last_step=step))


def turn_totp_off(conn: Connection, account_id: int, *, password: str) -> None:
    """The owner turns the second factor off; it takes the current password."""
    stored = conn.execute(select(accounts.c.password_hash).where(accounts.c.id == account_id)).scalar()
    if not verify_password(stored, password):
        raise AccountRefused("Mật khẩu hiện tại không đúng.", field="password")
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(totp_secret=None, totp_last_step=None))


def use_totp_code(conn: Connection, account_id: int, code: str, *, now_ns: int) -> bool:
    """Whether ``code`` is good for the account now and not used before; if so it is used up.

    The last accepted step moves forward by a conditional UPDATE: of two logins racing with one code, one wins.
    """
    row = conn.execute(select(accounts.c.totp_secret, accounts.c.totp_last_step)
                       .where(accounts.c.id == account_id)).first()
    if row is None or not row.totp_secret:
        return False
    step = second_factor.accepted_step(row.totp_secret, code, now_s=now_ns / 1e9, last_step=row.totp_last_step)
    if step is None:
        return False
    moved = conn.execute(update(accounts).where(
        accounts.c.id == account_id, or_(accounts.c.totp_last_step.is_(None), accounts.c.totp_last_step < step))
        .values(totp_last_step=step))
    return moved.rowcount == 1

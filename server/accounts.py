"""Who may talk to the server: enrolment codes, terminals and their device tokens, admin tokens.

An admin token belongs to an account (:mod:`server.people`) and acts with its
role and scope; a disabled account's tokens are refused.

Tokens and codes are random, shown once, and stored only as SHA-256 hashes.
Device tokens start ``hl_dev_``, admin tokens ``hl_adm_``, enrolment codes
``hl_enr_``: the prefix tells a person what they are holding; the server
never trusts it.

The CLI and the routes call these functions with an open connection.

    >>> code = new_secret(ENROLLMENT_PREFIX)
    >>> code.startswith("hl_enr_") and len(secret_hash(code)) == 64
    True
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import Connection, false, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync.names import name_problem

from .access import Caller
from .errors import ServerError, UnknownTerminal
from .org_tree import SCOPE_COLUMN, node_for_place, placement
from .people import USERNAME_MAX, create_account, find_account
from .schema import accounts, admin_tokens, enrollment_codes, nodes, terminals
from .timekeeping import NS_PER_S, iso_from_ns

DEVICE_PREFIX = "hl_dev_"
ADMIN_PREFIX = "hl_adm_"
ENROLLMENT_PREFIX = "hl_enr_"


class EnrollmentRefused(ServerError, PermissionError):
    """An enrolment code that is unknown, used or expired; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def new_secret(prefix: str) -> str:
    """A prefixed secret with 256 random bits (enrolment codes: 160 bits, lowercase base32, easy to type)."""
    if prefix == ENROLLMENT_PREFIX:
        return prefix + base64.b32encode(secrets.token_bytes(20)).decode().lower()
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """The stored form of a token or code: hex SHA-256 of its text (codes are case-insensitive)."""
    secret = secret.strip()
    if secret.lower().startswith(ENROLLMENT_PREFIX):
        secret = secret.lower()
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def code_label(secret: str) -> str:
    """The first 12 hex digits of a code's or token's hash: names it in the audit trail, reveals nothing of it.

        >>> len(code_label("hl_enr_abc"))
        12
    """
    return secret_hash(secret)[:12]


# -- enrolment -----------------------------------------------------------------------------------

def issue_enrollment_code(conn: Connection, *, site: str | None = None, counter: str | None = None,
                          node_id: int | None = None, ttl_s: int, now_ns: int) -> str:
    """Store a one-time enrolment code for a terminal at ``node_id`` (a counter or an office); return the code.

    Named the old way (``site``/``counter`` instead of a node), the place is found or made in the tree
    (:func:`~server.org_tree.node_for_place`).
    """
    if node_id is None:
        if site is None or not site.strip():
            raise ValueError("site: must not be empty")
        for field, value in (("site", site), ("counter", counter)):
            problem = name_problem(value.strip()) if value is not None else None
            if problem is not None:  # the name reaches the terminal's screen and every report
                raise ValueError(f"{field}: the name {problem}")
    if ttl_s <= 0:
        raise ValueError("expires: must be in the future")
    if node_id is None:
        node_id = node_for_place(conn, site, counter, now_ns=now_ns)
    placed = placement(conn, node_id)
    code = new_secret(ENROLLMENT_PREFIX)
    conn.execute(insert(enrollment_codes).values(
        code_hash=secret_hash(code), site=placed["site"], counter=placed["counter"], node_id=node_id,
        created_at=iso_from_ns(now_ns), expires_at=iso_from_ns(now_ns + ttl_s * NS_PER_S)))
    return code


@dataclass(frozen=True)
class NewTerminal:
    terminal_id: str
    device_token: str
    site: str
    counter: str | None


def enroll_terminal(conn: Connection, code: str, *, app_version: str | None, now_ns: int) -> NewTerminal:
    """Spend ``code`` on a new terminal; the caller commits. Raises :class:`EnrollmentRefused`.

    The code is marked used by one conditional UPDATE, so two terminals racing
    with the same code cannot both win.
    """
    now = iso_from_ns(now_ns)
    code_hash = secret_hash(code)
    row = conn.execute(select(enrollment_codes).where(enrollment_codes.c.code_hash == code_hash)).first()
    if row is None:
        raise EnrollmentRefused(401, "this enrolment code is not known to the server; check it or ask "
                                     "the administrator for a new one")
    if row.used_at is not None:
        raise EnrollmentRefused(409, f"this enrolment code was already used on {row.used_at} "
                                     f"(terminal {row.terminal_id}); ask the administrator for a new one")
    if row.expires_at <= now:
        raise EnrollmentRefused(410, f"this enrolment code expired on {row.expires_at}; "
                                     "ask the administrator for a new one")
    device_token = new_secret(DEVICE_PREFIX)
    # Where it will stand, as the tree says now (a node renamed since the code was printed shows its new name).
    placed = (placement(conn, row.node_id) if row.node_id is not None
              else {"site": row.site, "counter": row.counter})
    for _attempt in range(5):
        terminal_id = _terminal_id(placed["site"], placed["counter"])
        try:
            with conn.begin_nested():
                conn.execute(insert(terminals).values(
                    id=terminal_id, token_hash=secret_hash(device_token), enrolled_at=now,
                    app_version=app_version, **placed))
            break
        except IntegrityError:
            continue  # the random suffix collided: draw another
    else:
        raise ServerError("could not find a free terminal id")
    claimed = conn.execute(update(enrollment_codes)
                           .where(enrollment_codes.c.code_hash == code_hash, enrollment_codes.c.used_at.is_(None))
                           .values(used_at=now, terminal_id=terminal_id))
    if claimed.rowcount != 1:
        raise EnrollmentRefused(409, "this enrolment code was just used by another terminal")
    return NewTerminal(terminal_id, device_token, placed["site"], placed["counter"])


def _terminal_id(site: str, counter: str | None) -> str:
    """``ubnd-phuong-phuc-la-quay-1-k3x9q2``: readable, unique by its random suffix."""
    text = f"{site} {counter or ''}".replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:48].rstrip("-") or "terminal"
    suffix = base64.b32encode(secrets.token_bytes(5)).decode().lower()[:6]
    return f"{slug}-{suffix}"


# -- lookups ---------------------------------------------------------------------------------------

#: A terminal's place, as ingest copies it into each rating: its names, and its lineage in the tree.
PLACE_COLUMNS = ("site", "counter", "province_id", "unit_id", "office_id", "counter_id")


@dataclass(frozen=True)
class Terminal:
    """An authenticated terminal, as the routes see it: its id and where it stands (see PLACE_COLUMNS)."""

    id: str
    site: str
    counter: str | None
    province_id: int | None = None
    unit_id: int | None = None
    office_id: int | None = None
    counter_id: int | None = None

    @property
    def place(self) -> tuple:
        return (self.site, self.counter, self.province_id, self.unit_id, self.office_id, self.counter_id)


def terminal_for_token(conn: Connection, token: str) -> tuple[Terminal | None, str | None]:
    """(terminal, None) for a live device token, else (None, revoked_at or None)."""
    row = conn.execute(select(terminals.c.id, terminals.c.revoked_at, *[terminals.c[name] for name in PLACE_COLUMNS])
                       .where(terminals.c.token_hash == secret_hash(token))).first()
    if row is None:
        return None, None
    if row.revoked_at is not None:
        return None, row.revoked_at
    return Terminal(row.id, *(row._mapping[name] for name in PLACE_COLUMNS)), None


def admin_for_token(conn: Connection, token: str) -> tuple[str | None, str | None]:
    """(admin name, None) for a live admin token, else (None, revoked_at or None)."""
    row = conn.execute(select(admin_tokens.c.name, admin_tokens.c.revoked_at)
                       .where(admin_tokens.c.token_hash == secret_hash(token))).first()
    if row is None:
        return None, None
    if row.revoked_at is not None:
        return None, row.revoked_at
    return row.name, None


def token_actor(conn: Connection, *, token_id: int | None = None, token: str | None = None):
    """The :class:`~server.audit.Actor` of an admin token (by id or by the token): its name, and the account it
    belongs to with that account's role and scope (role ``admin`` for a token of no account)."""
    from .audit import Actor

    query = (select(admin_tokens.c.name, admin_tokens.c.account_id, accounts.c.role, accounts.c.scope_node_id)
             .select_from(admin_tokens.outerjoin(accounts, accounts.c.id == admin_tokens.c.account_id)))
    query = query.where(admin_tokens.c.id == token_id if token is None else admin_tokens.c.token_hash == secret_hash(token))
    row = conn.execute(query).one()
    return Actor(row.name, account_id=row.account_id, role=row.role or "admin", scope_node_id=row.scope_node_id)
def caller_for_token(conn: Connection, token: str) -> tuple[Caller | None, str | None]:
    """(the token's account as a Caller, None) for a live token of an enabled account; else (None, why in
    English: revoked, disabled) or (None, None) for a token that is no admin token."""
    row = conn.execute(select(admin_tokens.c.revoked_at, accounts.c.id, accounts.c.username, accounts.c.display_name,
                              accounts.c.role, accounts.c.scope_node_id, accounts.c.disabled_at,
                              accounts.c.sees_officers)
                       .join(accounts, accounts.c.id == admin_tokens.c.account_id)
                       .where(admin_tokens.c.token_hash == secret_hash(token))).first()
    if row is None:
        return None, None
    if row.revoked_at is not None:
        return None, f"this admin token was revoked on {row.revoked_at}"
    if row.disabled_at is not None:
        return None, (f"the account {row.username!r} this token belongs to was disabled on {row.disabled_at}; "
                      "ask a province administrator to enable it")
    return Caller(row.id, row.username, row.display_name, row.role, row.scope_node_id, bool(row.sees_officers)), None


# -- administration ----------------------------------------------------------------------------------

def issue_admin_token(conn: Connection, *, name: str, now_ns: int, account_id: int | None = None) -> str:
    """Store a new admin token for ``name`` (a person or a script); return the token.

    The token acts as the account ``account_id``. Without one, as the account whose user name is ``name``,
    made as a province admin with no password (it logs in nowhere; only its tokens act) when there is none:
    how ``admin-token --name`` worked before accounts, and still works. The name follows the rule of every
    name (:func:`sync.names.name_problem`): it is shown on the dashboard and printed by the CLI."""
    if not name.strip():
        raise ValueError("name: must not be empty")
    problem = name_problem(name.strip())
    if problem is not None:
        raise ValueError(f"name: the name {problem}")
    if account_id is None:
        account_id = _account_named(conn, name.strip(), now_ns=now_ns)
    token = new_secret(ADMIN_PREFIX)
    conn.execute(insert(admin_tokens).values(name=name.strip(), token_hash=secret_hash(token),
                                             created_at=iso_from_ns(now_ns), account_id=account_id))
    return token


def _account_named(conn: Connection, name: str, *, now_ns: int) -> int:
    found = find_account(conn, username=name)
    found = found.id if found else None
    if found is None and len(name) > USERNAME_MAX:
        raise ValueError(f"name: at most {USERNAME_MAX} characters (it becomes the token's account's user name)")
    if found is None:
        found = create_account(conn, username=name, display_name=name, role="province_admin", scope_node_id=None,
                               password=None, now_ns=now_ns, check_username=False).id
    return found


def revoke_terminal(conn: Connection, terminal_id: str, *, now_ns: int) -> str:
    """Cut a terminal off: its token stops working at once. Returns when it was revoked.

    Revoking twice keeps the first date. Its ratings stay.
    """
    row = conn.execute(select(terminals.c.revoked_at).where(terminals.c.id == terminal_id)).first()
    if row is None:
        raise UnknownTerminal(f"no terminal has the id {terminal_id!r} (see `kiosk-server terminals`)")
    if row.revoked_at is not None:
        return row.revoked_at
    revoked_at = iso_from_ns(now_ns)
    conn.execute(update(terminals).where(terminals.c.id == terminal_id).values(revoked_at=revoked_at))
    return revoked_at


TERMINAL_FIELDS = ("id", "site", "counter", "node_id", "enrolled_at", "revoked_at", "last_seen_at", "app_version",
                   "pending", "clock_synced", "clock_offset_s", "last_error", "kept_aside", "kept_aside_causes",
                   "settings_version", "settings_error", "update_state", "update_version", "update_error")
LINEAGE_FIELDS = ("province_id", "unit_id", "office_id", "counter_id")


def list_terminals(conn: Connection, *, within: int | None = None, limit: int | None = None,
                   offset: int = 0) -> list[dict]:
    """Terminals with their health, by site, counter and id: every one, or those standing ``within`` a node
    (a province, unit, office or counter id), ``limit`` of them from ``offset`` — filtered and paged in SQL.

    ``kept_aside_causes`` is a dict {cause: count} (or None), as the terminal sent it. Each row also has its
    lineage (``province_id``, ``unit_id``, ``office_id``, ``counter_id``).
    """
    columns = [terminals.c[name] for name in (*TERMINAL_FIELDS, *LINEAGE_FIELDS)]
    query = terminals_within(select(*columns), conn, within)
    query = query.order_by(terminals.c.site, terminals.c.counter, terminals.c.id).offset(offset or None)
    rows = conn.execute(query.limit(limit) if limit is not None else query)
    listed = [dict(row._mapping) for row in rows]
    for row in listed:
        row["kept_aside_causes"] = json.loads(row["kept_aside_causes"]) if row["kept_aside_causes"] else None
    return listed


def count_terminals(conn: Connection, *, within: int | None = None) -> int:
    """How many terminals :func:`list_terminals` lists with the same ``within`` (every page together)."""
    return conn.execute(terminals_within(select(func.count()).select_from(terminals), conn, within)).scalar_one()


def terminals_within(query, conn: Connection, node_id: int | None):
    """``query`` narrowed to the terminals standing at ``node_id`` or below it (its lineage column on their row)."""
    if node_id is None:
        return query
    kind = conn.execute(select(nodes.c.kind).where(nodes.c.id == node_id)).scalar()
    if kind is None:
        return query.where(false())
    return query.where(terminals.c[SCOPE_COLUMN[kind]] == node_id)


def kept_aside_causes_words(causes: dict[str, int] | None) -> str:
    """The causes of ratings kept aside in one line, for the CLI and the fleet CSV.

        >>> kept_aside_causes_words({"refused by the server: monotonic_ns: negative": 3, "cannot be sent: x": 1})
        'refused by the server: monotonic_ns: negative (3); cannot be sent: x (1)'
        >>> kept_aside_causes_words(None)
        'cause not reported'
    """
    if not causes:
        return "cause not reported"
    return "; ".join(f"{cause} ({n})" for cause, n in causes.items())


def revoke_admin_tokens(conn: Connection, name: str, *, now_ns: int) -> int:
    """Revoke every live admin token issued to ``name``; return how many. (Dashboard sessions belong to
    accounts, not tokens: disable the account to end them.)"""
    result = conn.execute(update(admin_tokens)
                          .where(admin_tokens.c.name == name.strip(), admin_tokens.c.revoked_at.is_(None))
                          .values(revoked_at=iso_from_ns(now_ns)))
    return result.rowcount

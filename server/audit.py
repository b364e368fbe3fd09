"""The audit trail: one row per action that reads ratings out of the server or changes who may do what.

Append-only and tamper-evident. Each entry's ``hash`` is SHA-256 over a
canonical JSON of its own fields and ``prev_hash``, the hash of the entry
before it (the first entry's ``prev_hash`` is :data:`GENESIS`); ids are
given here, the last id + 1, so they have no gaps. Editing an entry, deleting
one, or moving one breaks the chain at that entry, and
``kiosk-server audit verify`` (:mod:`server.audit_verify`) names it.

Appends are serialized: on PostgreSQL by a transaction-scoped advisory lock
taken before the last hash is read, on SQLite by the write lock that
:func:`server.db.write_transaction` holds. So :func:`record` must run inside
``write_transaction``, and where the action writes something itself, in the
same one: the entry and the action commit together or not at all.

    with engine.connect() as conn, write_transaction(conn):
        revoked_at = revoke_terminal(conn, terminal_id, now_ns=now_ns)
        record(conn, actor=cli_actor, action="revoke", subject=terminal_id, now_ns=now_ns)

The vocabulary of actions is :data:`ACTIONS`; add a word there (and its
Vietnamese label in :data:`ACTION_LABELS_VI`) before recording it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, text

from .db import AUDIT_APPEND_LOCK
from .schema import audit_log
from .timekeeping import iso_from_ns

log = logging.getLogger("hailong.audit")

#: The ``prev_hash`` of the first entry.
GENESIS = "0" * 64
#: Written before the canonical JSON that is hashed, so a later format can be told apart.
HASH_FORMAT = b"hailong-audit-1\n"

#: What may be recorded, and what each action means: ``subject``, ``rows`` and ``details`` as the call sites fill them.
ACTIONS: dict[str, str] = {
    "login": "a dashboard login that opened a session",
    "login_failed": "a dashboard login refused (unknown, revoked or empty credential; never the secret typed); "
                    "refusals during a lock-out are only in the server's log",
    "logout": "a dashboard session ended by its owner",
    "pull": "a page of GET /api/v1/ratings with at least one rating: rows = ratings served, details = after, next",
    "export": "a report or list downloaded (API or dashboard): subject = what, rows = ratings counted or rows "
              "written, details = format and filters",
    "enroll_code": "enrolment codes issued: subject = where, rows = how many, details = code hash prefixes, expiry",
    "enroll": "a terminal enrolled with a code: actor = the new terminal, subject = its id, details = the code's "
              "hash prefix (matches enroll_code)",
    "move": "a terminal moved to another node: subject = terminal, details = from, to (node ids), scope = the new node",
    "revoke": "a terminal's device token revoked: subject = terminal id",
    "account_create": "an account made: subject = username, details = role, scope (scope: the account's node)",
    "account_change": "an account changed (disabled or enabled; its password or second factor changed by its "
                      "owner): subject = username, details = what, never the secret",
    "role_change": "an account's role or scope changed: subject = username, details = from, to",
    "password_reset": "an account's password reset by an administrator: subject = username",
    "token_issue": "an admin/API token issued: subject = whose, details = token id",
    "token_revoke": "admin/API tokens revoked: subject = whose, rows = how many",
    "tree_import": "the organisation tree imported (not a dry run): subject = file name, rows = nodes in the file, "
                   "details = counts added, renamed, moved, unchanged",
    "settings_change": "the server started with settings different from the last recorded ones: details = changes",
    "officer_create": "an officer added to a unit: subject = unit node id and staff code, scope = the unit, "
                      "details = name, counters",
    "officer_change": "an officer changed (name, counters, disabled or enabled, PIN set or cleared, photo set or "
                      "removed): subject = unit node id and staff code, details = what (never the PIN)",
    "dossier_purge": "dossier codes older than dossier_retention_days blanked: rows = ratings and invitations "
                     "blanked, details = cutoff, days, counts",
    "terminal_settings_change": "the terminals' remote settings of a scope changed: subject = the scope (the fleet, "
                                "a node, a terminal), scope = its node, details = change id, set, unset, note",
    "terminal_settings_rollback": "a scope's remote settings rolled back to an earlier change's values (as a new "
                                  "change): subject = the scope, details = change id, restores, note",
    "release_upload": "a signed software release uploaded: subject = version, details = arch, size, sha256, key id, "
                      "whether the signature was checked",
    "release_rollout": "a rollout of a release started: subject = version, scope = the node (none: the fleet), "
                       "details = rollout id, wave share, terminals, first wave",
    "release_stop": "a rollout stopped, by an administrator or by itself (a first-wave terminal reported the "
                    "release rolled back or failed): subject = version, details = rollout id, reason, by_itself",
}

#: The dashboard's words for the actions.
ACTION_LABELS_VI: dict[str, str] = {
    "login": "Đăng nhập", "login_failed": "Đăng nhập thất bại", "logout": "Đăng xuất", "pull": "Tải dữ liệu (API)",
    "export": "Xuất báo cáo/danh sách", "enroll_code": "Cấp mã đăng ký", "enroll": "Đăng ký thiết bị",
    "move": "Chuyển thiết bị", "revoke": "Thu hồi thiết bị", "account_create": "Tạo tài khoản",
    "account_change": "Sửa tài khoản", "role_change": "Đổi vai trò/phạm vi", "password_reset": "Đặt lại mật khẩu",
    "token_issue": "Cấp mã quản trị", "token_revoke": "Thu hồi mã quản trị", "tree_import": "Nhập cây tổ chức",
    "settings_change": "Thay đổi cấu hình", "officer_create": "Thêm cán bộ", "officer_change": "Sửa cán bộ",
    "dossier_purge": "Xoá mã hồ sơ quá hạn lưu", "terminal_settings_change": "Đổi cài đặt thiết bị",
    "terminal_settings_rollback": "Khôi phục cài đặt thiết bị",
    "dossier_purge": "Xoá mã hồ sơ quá hạn lưu", "release_upload": "Tải lên phiên bản phần mềm",
    "release_rollout": "Triển khai phiên bản", "release_stop": "Dừng triển khai phiên bản",
}

#: The columns of an entry, in the order the API's CSV and ``audit export`` write them.
ENTRY_FIELDS = ("id", "at", "actor", "actor_account_id", "role", "action", "scope_node_id", "subject", "rows",
                "details", "address", "prev_hash", "hash")


@dataclass(frozen=True)
class Actor:
    """Who acts: a name always (a username, ``kiosk-server CLI (user@host)``, a terminal id); an account and a
    role where there is one."""

    name: str
    account_id: int | None = None
    role: str | None = None
    scope_node_id: int | None = None  # the node its account is limited to: the entry's scope unless one is given


@dataclass(frozen=True)
class Appended:
    id: int
    hash: str


def actor_of(caller: Any) -> Actor:
    """The :class:`Actor` of a :class:`~server.access.Caller` (an account, from its token or its session)."""
    return Actor(caller.username, account_id=caller.account_id, role=caller.role, scope_node_id=caller.scope_node_id)


def may_read_audit(caller: Any) -> bool:
    """Whether ``caller`` may read and export the trail: province admins and inspectors (see server.access)."""
    from .access import may_read_audit as allowed

    return allowed(caller)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text as is: one text for one value.

        >>> canonical_json({"b": 1, "a": "phường"})
        '{"a":"phường","b":1}'
    """
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def entry_hash(entry: dict) -> str:
    """The hash an entry (its stored columns, ``details`` as the stored text) must carry."""
    hashed = {name: entry[name] for name in ("id", "at", "actor_account_id", "actor", "role", "action",
                                             "scope_node_id", "subject", "row_count", "details", "address",
                                             "prev_hash")}
    return hashlib.sha256(HASH_FORMAT + canonical_json(hashed).encode("utf-8", "surrogatepass")).hexdigest()


def record(conn: Connection, *, actor: Actor, action: str, subject: str | None = None, scope: int | None = None,
           rows: int | None = None, details: dict | None = None, address: str | None = None,
           now_ns: int | None = None) -> Appended:
    """Append one entry to the trail, inside the caller's ``write_transaction``; returns its id and hash.

    ``scope`` is the node the action was limited to (default: the actor's scope); ``rows`` how many ratings or
    rows it read or wrote; ``address`` the client's, for HTTP; ``now_ns`` the app's clock (default: the system's).
    ``action`` is a word of :data:`ACTIONS` (anything else is a ValueError: a typo at a call site must not
    write an entry nobody will search for). ``details`` is a JSON object; never put a secret in it.
    """
    if action not in ACTIONS:
        raise ValueError(f"action: {action!r} is not in the audit vocabulary (server/audit.py ACTIONS)")
    lock_chain(conn)
    last = conn.execute(select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)).first()
    entry = {"id": (last.id if last else 0) + 1, "at": iso_from_ns(time.time_ns() if now_ns is None else now_ns),
             "actor_account_id": actor.account_id, "actor": actor.name, "role": actor.role, "action": action,
             "scope_node_id": actor.scope_node_id if scope is None else scope, "subject": subject, "row_count": rows,
             "details": canonical_json(details or {}), "address": address,
             "prev_hash": last.hash if last else GENESIS}
    entry["hash"] = entry_hash(entry)
    conn.execute(insert(audit_log).values(**entry))
    # A copy of each head outside the database (the server's log, e.g. journald): what verify cannot see in the
    # table alone (its last entries deleted) can be checked against it.
    log.info("audit #%d %s by %s: %s", entry["id"], action, actor.name, entry["hash"])
    return Appended(entry["id"], entry["hash"])


def lock_chain(conn: Connection) -> None:
    """Take the trail's append lock now, for a caller that reads the trail before deciding what to record.

    PostgreSQL: an advisory lock held to the commit (taking it again is harmless); SQLite: the caller's
    ``write_transaction`` already holds the database's write lock."""
    if not conn.get_execution_options().get("hl_write"):
        raise RuntimeError("audit.record must run inside db.write_transaction (appends are serialized there)")
    if conn.dialect.name == "postgresql":  # held to the commit: the next append reads this one's hash
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_APPEND_LOCK})


def entry_out(row) -> dict:
    """A stored entry as the API, the CLI and the exports show it (``row_count`` as ``rows``, details parsed)."""
    entry = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    entry["rows"] = entry.pop("row_count")
    try:
        entry["details"] = json.loads(entry["details"])
    except ValueError:  # an edited entry still lists; verify names it
        pass
    return {name: entry[name] for name in ENTRY_FIELDS}


def list_entries(conn: Connection, *, after: int = 0, before: int | None = None, action: str | None = None,
                 actor: str | None = None, since: str | None = None, until: str | None = None,
                 limit: int = 100, newest_first: bool = False, within: set[int] | None = None) -> list[dict]:
    """Entries with ``after < id < before``, of ``action``, whose actor's name contains ``actor`` (any case), at or after
    ``since`` and before ``until`` (ISO UTC texts); oldest first unless ``newest_first``. ``within``: only entries
    whose scope is one of these nodes (a scoped reader's subtree; None: every entry, server-wide ones too)."""
    query = select(audit_log).where(audit_log.c.id > after)
    if within is not None:
        query = query.where(audit_log.c.scope_node_id.in_(sorted(within)))
    if before is not None:
        query = query.where(audit_log.c.id < before)
    if action:
        query = query.where(audit_log.c.action == action)
    if actor:
        query = query.where(audit_log.c.actor.icontains(actor, autoescape=True))
    if since:
        query = query.where(audit_log.c.at >= since)
    if until:
        query = query.where(audit_log.c.at < until)
    order = audit_log.c.id.desc() if newest_first else audit_log.c.id
    return [entry_out(row) for row in conn.execute(query.order_by(order).limit(limit))]


def details_text(details: Any) -> str:
    """``details`` on one line for a CSV cell: its canonical JSON (or the stored text of an edited entry)."""
    return details if isinstance(details, str) else canonical_json(details)


def utc_bound(value: str, tz: str) -> str:
    """A date (``2026-12-01``: its local midnight in ``tz``) or an ISO time with an offset or Z, as the trail's UTC
    text, to compare with ``at``. ValueError naming the shapes it takes.

        >>> utc_bound("2026-12-01", "Asia/Ho_Chi_Minh"), utc_bound("2026-12-01T08:00:00+07:00", "UTC")
        ('2026-11-30T17:00:00.000Z', '2026-12-01T01:00:00.000Z')
    """
    from datetime import date, datetime, timezone
    from zoneinfo import ZoneInfo

    text = value.strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), ZoneInfo(tz))
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError("no offset")
    except ValueError:
        raise ValueError(f"{value!r} is not a date (2026-12-01) or a time with its offset "
                         "(2026-12-01T08:00:00+07:00 or …Z)") from None
    return iso_from_ns(int(moment.astimezone(timezone.utc).timestamp()) * 1_000_000_000
                       + moment.microsecond * 1000)

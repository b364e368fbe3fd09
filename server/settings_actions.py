"""What the settings API, the ``/settings`` page and the CLI do with the terminals' remote settings: each change
checked against the caller's role and scope, made and written to the audit trail in one transaction.

Who: seeing a scope's settings is ``read_fleet``'s (within the caller's scope: its node and below, and the
fleet's own values, which every terminal it sees inherits); changing them is ``manage_settings``'s (province and
unit admins) on its node and below only; the whole fleet's only by an account of the whole server. A node or
terminal outside the caller's scope answers 404 like one that does not exist.

    with engine.connect() as conn, write_transaction(conn):
        done = set_settings(conn, caller, Scope(node_id=4), set_values={"feedback.thanks_s": 5}, unset=[],
                            note="ngắn hơn", now_ns=now_ns, address="10.0.0.5")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from .access import Caller, Forbidden, may, node_in_scope, require, terminal_in_scope
from .audit import Actor, actor_of, record
from .schema import terminals
from .terminal_settings import (FLEET, Scope, SettingsChange, UnknownScope, change_settings, find_change, history,
                                rollback_to, scope_keys_within)


def check_sees(conn: Connection, caller: Caller, scope: Scope) -> None:
    """Nothing if ``caller`` may see ``scope``'s settings; 403 without ``read_fleet``, 404 outside its scope."""
    require(caller, "read_fleet")
    _check_inside(conn, caller, scope)


def _check_inside(conn: Connection, caller: Caller, scope: Scope) -> None:
    if scope.terminal_id is not None and not terminal_in_scope(conn, caller, scope.terminal_id):
        raise UnknownScope(f"terminal: no terminal {scope.terminal_id!r} in your scope", field="terminal")
    if scope.node_id is not None and not node_in_scope(conn, caller, scope.node_id):
        raise UnknownScope(f"node: no node #{scope.node_id} in your scope", field="node")


def check_manages(conn: Connection, caller: Caller, scope: Scope) -> None:
    """Nothing if ``caller`` may change ``scope``'s settings, else 403 (or 404 outside its scope)."""
    require(caller, "manage_settings")
    _check_inside(conn, caller, scope)
    if scope.kind == FLEET and not caller.whole_server:
        raise Forbidden(f"the account {caller.username!r} may set its own node and below only, not the whole fleet",
                        f"Tài khoản {caller.username} chỉ được đặt cài đặt cho đơn vị của mình và cấp dưới, "
                        "không cho toàn bộ thiết bị.")


def may_manage(caller: Caller) -> bool:
    return may(caller, "manage_settings")


def audit_scope(conn: Connection, scope: Scope) -> int | None:
    """The node an entry about ``scope`` is limited to: the node, the terminal's node, or None (the fleet)."""
    if scope.terminal_id is not None:
        return conn.execute(select(terminals.c.node_id).where(terminals.c.id == scope.terminal_id)).scalar()
    return scope.node_id


def set_settings(conn: Connection, caller: Caller | None, scope: Scope, *, set_values: dict[str, Any],
                 unset: Iterable[str], note: str | None, now_ns: int, address: str | None = None,
                 actor: Actor | None = None) -> SettingsChange:
    """A new change of ``scope`` by ``caller`` (None with ``actor``: the CLI, which may do anything), recorded
    ``terminal_settings_change``."""
    if caller is not None:
        check_manages(conn, caller, scope)
    who = actor or actor_of(caller)
    unset = list(unset)
    done = change_settings(conn, scope, set_values=set_values, unset=unset, note=note, changed_by=who.name,
                           now_ns=now_ns)
    record(conn, actor=who, action="terminal_settings_change", subject=scope.words(), scope=audit_scope(conn, scope),
           details={"change": done.id, "set": {k: done.values[k] for k in set_values if k in done.values},
                    "unset": unset, "note": note or None, "version": done.version},
           address=address, now_ns=now_ns)
    return done


def roll_back(conn: Connection, caller: Caller | None, change_id: int, *, note: str | None, now_ns: int,
              address: str | None = None, actor: Actor | None = None) -> SettingsChange:
    """A new change restoring change ``change_id``'s values for its scope, recorded ``terminal_settings_rollback``."""
    if caller is not None:
        require(caller, "manage_settings")  # a role that may not roll back is told so before any look-up
    old = find_change(conn, change_id)
    scope = Scope.from_key(old.scope)
    if caller is not None:
        try:
            check_manages(conn, caller, scope)
        except UnknownScope:
            raise UnknownScope(f"change: no settings change {change_id} in your scope", field="change") from None
    who = actor or actor_of(caller)
    done = rollback_to(conn, change_id, note=note, changed_by=who.name, now_ns=now_ns)
    record(conn, actor=who, action="terminal_settings_rollback", subject=scope.words(),
           scope=audit_scope(conn, scope),
           details={"change": done.id, "restores": change_id, "note": done.note, "version": done.version},
           address=address, now_ns=now_ns)
    return done


def visible_history(conn: Connection, caller: Caller, scope: Scope | None, *, limit: int = 200) -> list[SettingsChange]:
    """The changes of ``scope`` (None: every scope the caller sees: all for the whole server, else its node's,
    those below it and the fleet's), newest first."""
    require(caller, "read_fleet")
    if scope is not None:
        check_sees(conn, caller, scope)
        return history(conn, [scope.key], limit=limit)
    if caller.whole_server:
        return history(conn, None, limit=limit)
    return history(conn, [FLEET, *scope_keys_within(conn, caller.scope_node_id)], limit=limit)

"""What the officers API and the "Cán bộ" page do: each change checked against the caller's role and scope,
made and written to the audit trail in one transaction (so an entry exists exactly when the change does).

    with engine.connect() as conn, write_transaction(conn):
        made = add_officer(conn, caller, unit="U01", code="NVA01", name="Nguyễn Văn An", counters=[], pin=None,
                           now_ns=now_ns, address="10.0.0.5")
"""

from __future__ import annotations

from sqlalchemy import Connection

from .access import Caller, require
from .audit import actor_of, record
from .officers import (KEEP, Officer, change_officer, counters_of_unit, create_officer, find_officer, set_photo,
                       unit_in_scope)


def add_officer(conn: Connection, caller: Caller, *, unit: str, code: str, name: str, counters: list[str],
                pin: str | None, now_ns: int, address: str | None) -> Officer:
    """A new officer of ``unit`` (its code or ``#id``, inside the caller's scope), recorded ``officer_create``."""
    require(caller, "manage_officers")
    unit_id = unit_in_scope(conn, caller, unit)
    made = create_officer(conn, unit_id=unit_id, code=code, name=name,
                          counters=counters_of_unit(conn, unit_id, counters), pin=pin, now_ns=now_ns)
    record(conn, actor=actor_of(caller), action="officer_create", subject=made.subject, scope=unit_id,
           details={"code": made.code, "name": made.name, "counters": list(made.counters), "pin": made.has_pin},
           address=address, now_ns=now_ns)
    return made


def edit_officer(conn: Connection, caller: Caller, officer_id: int, *, name: str | None = None,
                 counters: list[str] | None = None, active: bool | None = None, pin=KEEP, now_ns: int,
                 address: str | None) -> Officer:
    """Change an officer the caller may manage; recorded ``officer_change`` with what changed (if anything did)."""
    require(caller, "manage_officers")
    officer = find_officer(conn, caller, officer_id)
    ids = counters_of_unit(conn, officer.unit_id, counters) if counters is not None else None
    done, changes = change_officer(conn, officer, name=name, counters=ids, active=active, pin=pin, now_ns=now_ns)
    if changes:
        record(conn, actor=actor_of(caller), action="officer_change", subject=done.subject, scope=done.unit_id,
               details=changes, address=address, now_ns=now_ns)
    return done


def change_photo(conn: Connection, caller: Caller, officer_id: int, data: bytes | None, *, now_ns: int,
                 address: str | None) -> Officer:
    """Set (``data``) or remove (None) an officer's photo; recorded ``officer_change``."""
    require(caller, "manage_officers")
    officer = find_officer(conn, caller, officer_id)
    changes = set_photo(conn, officer, data, now_ns=now_ns)
    record(conn, actor=actor_of(caller), action="officer_change", subject=officer.subject, scope=officer.unit_id,
           details=changes, address=address, now_ns=now_ns)
    return find_officer(conn, caller, officer_id)

"""Officers' shifts as the terminals report them: each closed shift kept once, by the terminal's id.

A shift names the officer by the staff code the terminal knew; the server adds the officer of the terminal's
unit with that code (``officer_id``, NULL when the unit has none) and the unit itself, so reports (the audit
counts of issue 12) read a unit's shifts without a join.
"""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from sync.protocol import Shift

from .accounts import Terminal
from .schema import officer_shifts, officers


def store_shifts(conn: Connection, terminal: Terminal, shifts: list[Shift], *, received_at: str) -> None:
    """Keep the batch's closed shifts, each once by its id (a resend changes nothing)."""
    ids = {}
    codes = sorted({shift.officer for shift in shifts})
    if terminal.unit_id is not None:
        ids = dict(conn.execute(select(officers.c.code, officers.c.id).where(
            officers.c.unit_id == terminal.unit_id, officers.c.code.in_(codes))).all())
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    rows = [{"id": str(shift.id), "terminal_id": terminal.id, "officer_id": ids.get(shift.officer),
             "officer_code": shift.officer, "signed_in_at": shift.signed_in_at, "signed_out_at": shift.signed_out_at,
             "sign_in_how": shift.sign_in_how, "sign_out_how": shift.sign_out_how, "unit_id": terminal.unit_id,
             "received_at": received_at} for shift in shifts]
    conn.execute(insert(officer_shifts).on_conflict_do_nothing(index_elements=["id"]), rows)

"""The counter's sections of the server's reports (by officer, dossiers, audit counts) and who may read them.

Who sees officers' results (docs: ISSUE 12's contract, README "Accounts"): province admins, unit admins and
inspectors, in their scope; a viewer only when the account has ``sees_officers``; a technician never (it
reads no report at all). The dossiers' counts name no one: every reader of the report gets them.

    >>> sees_officers(Caller(1, "an", "An", "inspector", 4))
    True
    >>> sees_officers(Caller(2, "binh", "Bình", "viewer", 4))
    False
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from reports import Report
from reports.counter import add_counter_sections
from reports.sources import SqlAlchemySource

from .access import Caller
from .opening import OpeningHours

#: The roles that read officers' results in their scope.
OFFICER_ROLES = frozenset({"province_admin", "unit_admin", "inspector"})


def sees_officers(caller: Caller, conn: Connection | None = None) -> bool:
    """Whether ``caller`` may read officers' names and their results (the by-officer and audit sections)."""
    if caller.role in OFFICER_ROLES:
        return True
    if caller.role != "viewer":
        return False
    flag = getattr(caller, "sees_officers", None)
    if flag is None and conn is not None:
        flag = _account_flag(conn, caller.account_id)
    return bool(flag)


def _account_flag(conn: Connection, account_id: int) -> bool:
    """The account's ``sees_officers`` flag as stored (False when the column is not there)."""
    try:
        with conn.begin_nested():
            return bool(conn.execute(text("SELECT sees_officers FROM accounts WHERE id = :id"),
                                     {"id": account_id}).scalar())
    except SQLAlchemyError:
        return False


def with_counter_sections(conn: Connection, caller: Caller, report: Report, source: SqlAlchemySource,
                          settings) -> Report:
    """``report`` with the counter's sections ``caller`` may read, read through ``source`` (its scope), the
    opening hours from the server's ``opening_hours`` setting (local to its ``timezone``)."""
    return add_counter_sections(report, source, opening_hours=OpeningHours.parse(settings.opening_hours),
                                hours_tz=settings.timezone, officers=sees_officers(caller, conn))

"""The counter's sections of the server's reports (by officer, dossiers, audit counts) and who may read them.

Who sees officers' results (docs: ISSUE 12's contract, README "Accounts"): province admins, unit admins and
inspectors, in their scope; a viewer only when the account has ``sees_officers``; a technician never (it
reads no report at all). The dossiers' counts name no one: every reader of the report gets them.

    >>> sees_officers(Caller(1, "an", "An", "inspector", 4))
    True
    >>> sees_officers(Caller(2, "binh", "Bình", "viewer", 4)), sees_officers(Caller(3, "chi", "Chi", "viewer", 4, True))
    (False, True)
    >>> sees_officers(Caller(4, "dung", "Dũng", "technician", None))
    False
"""

from __future__ import annotations

from reports import Report
from reports.counter import add_counter_sections
from reports.sources import SqlAlchemySource

from .access import Caller, may
from .opening import OpeningHours


def sees_officers(caller: Caller) -> bool:
    """Whether ``caller`` may read officers' names and their results (the by-officer and audit sections):
    :mod:`server.access`'s ``read_officers``, which a viewer has only with ``sees_officers``."""
    return may(caller, "read_officers")


def with_counter_sections(caller: Caller, report: Report, source: SqlAlchemySource, settings) -> Report:
    """``report`` with the counter's sections ``caller`` may read, read through ``source`` (its scope), the
    opening hours from the server's ``opening_hours`` setting (local to its ``timezone``)."""
    return add_counter_sections(report, source, opening_hours=OpeningHours.parse(settings.opening_hours),
                                hours_tz=settings.timezone, officers=sees_officers(caller))

"""The counter's sections of a report on the server's database: by officer (:mod:`reports.officers`), the
dossiers (:mod:`reports.dossiers`) and the audit counts (:mod:`reports.counter_audit`).

They are added to a report :func:`~reports.figures.build_report` made, over the same period, node, names and
scope, so the officers' lines add up to the report's own total (a check of the section). Who may read the
officers' sections is the caller's business: ``officers=False`` leaves them out (the dossiers' counts name no
one and stay).

For example::

    with engine.connect() as conn:
        source = scoped_source(conn, caller)
        report = build_report(source, period, node=4)
        add_counter_sections(report, source, opening_hours=OpeningHours.parse("Mon-Fri 07:30-17:00"),
                             officers=True)
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from . import counter_sources as q
from .counter_audit import BURST_WINDOW_S, AuditSection, audit_section
from .dossiers import DossierSection, dossier_section
from .figures import Report
from .labels import LEVELS, NO_REASON
from .officers import OfficerSection, officer_section

__all__ = ["add_counter_sections", "counter_filters"]


def counter_filters(report: Report, source) -> q.CounterFilters:
    """The report's own filters (names, the node reported on) and the source's scope."""
    node = report.node
    place = (f"{node['kind']}_id", int(node["id"])) if node else None
    return q.CounterFilters(site=report.filters.get("site"), counter=report.filters.get("counter"),
                            terminal=report.filters.get("terminal"), place=place,
                            scope=getattr(source, "scope", None))


def add_counter_sections(report: Report, source, *, opening_hours, hours_tz: str | None = None,
                         officers: bool = True) -> Report:
    """Set ``report.officers``, ``report.dossiers`` and ``report.audit`` from ``source`` (a server's
    :class:`~reports.sources.SqlAlchemySource`); ``officers`` False leaves the officers' two sections out.

    ``opening_hours`` is the sites' opening hours (server/opening.py's ``OpeningHours``), local to
    ``hours_tz`` (default: the period's zone).

    The ratings are read only where they can hold something: with no officer registered in the report's
    units and no sign-in in the period, no rating names one (a terminal signs in only officers the server sent
    it), so the by-officer section
    is the report's total on the no-officer line and there are no audit counts (``audit`` None); with no
    invitation in the period the dossiers are all zero. A server that does not use these features (the
    national benchmark's) pays two short queries per report.
    """
    conn = source.connection
    period = report.period
    filters = counter_filters(report, source)
    tree = source.tree() if hasattr(source, "tree") else {}
    names = {node_id: node.name for node_id, node in tree.items()}
    registered = officers and (q.officers_registered(conn, filters) or q.any_sign_in(conn, period, filters))

    invitations = q.invitation_counts(conn, period, filters) if q.any_invitation(conn, period, filters) else []
    audit_rows: list[tuple] = []
    shifts: list[tuple] = []
    tz = ZoneInfo(hours_tz) if hours_tz else period.tz
    # A unit's ratings (or an office's, a counter's) are read terminal by terminal along (terminal_id,
    # corrected_at): only the period's rows of its few terminals, not every row of the period tested for its
    # unit. A province's or the whole server's are most of the period's rows: one pass over them is cheaper.
    parts = []
    if registered or invitations:
        narrow = any(place and place is not False and place[0] != "province_id"
                     for place in (filters.place, filters.scope))
        parts = q.chunks(filters, q.rated_terminals(conn, period, filters)) if narrow else [filters]
    rows: list[tuple] = []
    if registered:
        hours = q.partial_utc_hours(period, opening_hours, tz)
        opening = q.opening_condition(conn, period, opening_hours, tz)
        both = [row for part in parts for row in q.counter_counts(conn, period, part, hours, opening=opening)]
        rows, audit_rows = _by_officer(both), _counted_by_time(both)
        shifts = q.sign_ins(conn, period, filters)
    places = q.terminal_places(conn, {row[1] for row in invitations} | {row[0] for row in audit_rows}
                               | {row[0] for row in shifts})
    report.dossiers = dossier_section(
        invitations, places, names,
        repeats=sum(q.dossier_repeats(conn, period, part) for part in parts) if invitations else 0,
        counted=q.invitation_total(conn, period, filters) if invitations else 0, min_sample=report.min_sample)
    report.officers = report.audit = None
    if not officers:
        return report
    if not registered:
        nobody = [(0, None, None, level, reason, 0, n) for level in LEVELS
                  for reason, n in _reasons_of(report.total, level)]
        nobody += [(0, None, None, "very_satisfied", None, 1, report.total.filtered)] if report.total.filtered else []
        report.officers = officer_section(nobody, {}, names, total_counted=report.total.counted,
                                          total_filtered=report.total.filtered, total=report.total,
                                          min_sample=report.min_sample, prior_weight=report.prior_weight)
        return report

    ids = {int(row[1]) for row in rows if row[1] is not None} | {int(row[2]) for row in audit_rows if row[2] is not None} \
        | {int(row[2]) for row in shifts if row[2] is not None}
    officer_names = q.officer_names(conn, ids)
    report.officers = officer_section(rows, officer_names, names, total_counted=report.total.counted,
                                      total_filtered=report.total.filtered, total=report.total,
                                      min_sample=report.min_sample, prior_weight=report.prior_weight)
    ratings = [row[:3] for row in q.ratings_after(conn, period, filters, BURST_WINDOW_S)] if shifts else []
    report.audit = audit_section(period, opening_hours, audit_rows, shifts, ratings, places, names, officer_names,
                                 total_counted=report.total.counted, tz=tz)
    return report


def _by_officer(rows: list[tuple]) -> list[tuple]:
    """The rows :func:`reports.officers.officer_section` takes (unit, officer id, code, rating, reason, filtered,
    n) from :func:`~reports.counter_sources.counter_counts`'."""
    summed: dict[tuple, int] = {}
    for _terminal, unit, officer_id, code, rating, reason, filtered, _when, n in rows:
        key = (unit, officer_id, code, rating, reason, filtered)
        summed[key] = summed.get(key, 0) + int(n)
    return [(*key, n) for key, n in summed.items()]


def _counted_by_time(rows: list[tuple]) -> list[tuple]:
    """The counted ratings by terminal, officer and time (terminal, unit, officer id, code, when, n), the rows
    :func:`reports.counter_audit.audit_section` takes, from :func:`~reports.counter_sources.counter_counts`'."""
    summed: dict[tuple, int] = {}
    for terminal, unit, officer_id, code, rating, _reason, filtered, when, n in rows:
        if int(filtered or 0) or rating not in LEVELS:
            continue
        key = (terminal, unit, officer_id, code, when)
        summed[key] = summed.get(key, 0) + int(n)
    return [(*key, n) for key, n in summed.items()]


def _reasons_of(total, level: str) -> list[tuple]:
    """(reason, n) of ``total``'s counted ratings of ``level`` (the dissatisfied by reason)."""
    n = getattr(total, level)
    if level != "dissatisfied":
        return [(None, n)] if n else []
    reasons = [(None if key == NO_REASON else key, count) for key, count in total.dissatisfied_reasons.items() if count]
    return reasons or ([(None, n)] if n else [])


def report_from_dict(data: dict) -> Report:
    """The report a server answered, its counter's sections (by officer, dossiers, audit) included."""
    kinds = {"officers": OfficerSection, "dossiers": DossierSection, "audit": AuditSection}
    return Report.from_dict(data, sections={name: kind.from_dict(data[name])
                                            for name, kind in kinds.items() if data.get(name)})

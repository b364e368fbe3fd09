"""What the counter's sections of a report read from the server's database: the ratings by officer, the dossier
invitations, the officers' sign-ins (``officer_shifts``), and the ratings' times for the audit counts.

These read the ``ratings`` table itself, not the hourly tallies or the rollups (:mod:`reports.sources`,
``server/rollups.py``): the tallies have no officer column, and adding one would multiply every tally row by
the officers of its terminal for every report, while these sections are asked of one unit or one province at
a time, whose ratings of a period the ``(unit_id, cursor)`` and ``corrected_at`` indexes find. The audit
counts need each rating's minute (opening hours start at 07:30) and each sign-in's first two minutes, which no
hourly count can hold.

The same SQL text runs on SQLite and PostgreSQL (times are ISO UTC text on both). Every query takes the
report's filters: the period (``corrected_at`` of the ratings, ``created_at`` of the invitations,
``signed_in_at`` of the sign-ins), the node reported on and the caller's scope (``AND unit_id = 4``), and
the names of before the tree (site, counter, terminal).

For example::

    with engine.connect() as conn:
        rows = counter_counts(conn, period, CounterFilters(place=("unit_id", 4)), [])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from .levels import NODE_COLUMNS
from .periods import Period
from .sources import place_condition

#: Ratings that count: the terminal did not filter them and they are not a dossier's second rating
#: (``dossier_repeat``: counted as filtered in every report).
COUNTED = "r.filtered = 0 AND COALESCE(r.dossier_repeat, 0) = 0"


@dataclass(frozen=True)
class CounterFilters:
    """The report's filters: legacy names, the node reported on and the caller's scope (``(column, id)``,
    False: nothing)."""

    site: str | None = None
    counter: str | None = None
    terminal: str | None = None
    place: tuple[str, int] | None = None
    scope: tuple[str, int] | bool | None = None
    #: The terminals that may hold the report's ratings (:func:`rated_terminals`), at most
    #: :data:`TERMINALS_PER_QUERY`: the ratings are then read along ``(terminal_id, corrected_at)``, only
    #: the period's of those terminals. None: no such list (every terminal's rows are tested).
    terminals: tuple[str, ...] | None = None


#: How many terminals one query names (:func:`chunks`).
TERMINALS_PER_QUERY = 500


def chunks(filters: CounterFilters, terminals: list[str]) -> list[CounterFilters]:
    """``filters`` once per slice of ``terminals`` (none when there is no terminal: no rating to read)."""
    from dataclasses import replace

    return [replace(filters, terminals=tuple(terminals[i:i + TERMINALS_PER_QUERY]))
            for i in range(0, len(terminals), TERMINALS_PER_QUERY)]


def rated_terminals(conn, period: Period, filters: CounterFilters) -> list[str]:
    """The terminals with ratings in the period and the report's scope, from the hourly tallies (their
    ``(unit_id, hour)`` and ``(province_id, hour)`` indexes; the hours at both ends included, so a zone
    with a half-hour offset loses none)."""
    start, end = period.utc_bounds()
    params = {"start_hour": start[:13], "end_hour": end[:13]}
    where = "t.hour >= :start_hour AND t.hour <= :end_hour"
    for column, value in (("site", filters.site), ("counter", filters.counter), ("terminal_id", filters.terminal)):
        if value is not None:
            where += f" AND t.{column} = :f_{column}"
            params[f"f_{column}"] = value
    own = lambda column: f"t.{column}"  # noqa: E731 - the tallies keep the ratings' lineage
    where += (place_condition(filters.place, own, params, "place_id")
              + place_condition(filters.scope, own, params, "scope_id"))
    return sorted(row[0] for row in _run(conn, f"SELECT DISTINCT t.terminal_id FROM rating_tallies t WHERE {where}",
                                         params))


def _rating_filters(filters: CounterFilters, params: dict) -> str:
    where = ""
    for column, value in (("site", filters.site), ("counter", filters.counter), ("terminal_id", filters.terminal)):
        if value is not None:
            where += f" AND r.{column} = :f_{column}"
            params[f"f_{column}"] = value
    if filters.terminals is not None:
        names = {f"rt{i}": value for i, value in enumerate(filters.terminals)}
        where += f" AND r.terminal_id IN ({', '.join(f':{name}' for name in names) or 'NULL'})"
        params.update(names)
    own = lambda column: f"r.{column}"  # noqa: E731 - ratings keep their lineage
    return (where + place_condition(filters.place, own, params, "place_id")
            + place_condition(filters.scope, own, params, "scope_id"))


def _lineage_of(alias: str):
    """Sign-ins and invitations keep their unit (copied at ingest); their province is the unit's parent,
    their office and counter are their terminal's (where it stands now)."""
    def column_of(column: str) -> str:
        if column == "unit_id":
            return f"{alias}.unit_id"
        if column == "province_id":
            return f"(SELECT n.parent_id FROM nodes n WHERE n.id = {alias}.unit_id)"
        return f"(SELECT t.{column} FROM terminals t WHERE t.id = {alias}.terminal_id)"
    return column_of


def _terminal_filters(filters: CounterFilters, alias: str, params: dict) -> str:
    where = ""
    for column, value in (("site", filters.site), ("counter", filters.counter)):
        if value is not None:
            where += f" AND {alias}.terminal_id IN (SELECT t.id FROM terminals t WHERE t.{column} = :f_{column})"
            params[f"f_{column}"] = value
    if filters.terminal is not None:
        where += f" AND {alias}.terminal_id = :f_terminal"
        params["f_terminal"] = filters.terminal
    column_of = _lineage_of(alias)
    return (where + place_condition(filters.place, column_of, params, "place_id")
            + place_condition(filters.scope, column_of, params, "scope_id"))


def _period(period: Period, column: str, params: dict) -> str:
    params["start"], params["end"] = period.utc_bounds()
    return f"{column} >= :start AND {column} < :end"


def _run(conn, sql: str, params: dict) -> list[tuple]:
    from sqlalchemy import text

    return [tuple(row) for row in conn.execute(text(sql), params)]


def _officers_place(place, params: dict, name: str) -> str:
    """``AND o.unit_id …`` for the officers of the units a node's subtree touches (a province's units, an office's
    or a counter's unit by the terminals standing there)."""
    if place is None:
        return ""
    if place is False:
        return " AND 1 = 0"
    column, node_id = place
    if column not in NODE_COLUMNS:
        raise ValueError(f"place: {column!r} is not one of {', '.join(NODE_COLUMNS)}")
    params[name] = int(node_id)
    if column == "unit_id":
        return f" AND o.unit_id = :{name}"
    if column == "province_id":
        return f" AND o.unit_id IN (SELECT n.id FROM nodes n WHERE n.parent_id = :{name})"
    return f" AND o.unit_id IN (SELECT t.unit_id FROM terminals t WHERE t.{column} = :{name})"


def officers_registered(conn, filters: CounterFilters) -> bool:
    """Whether any officer is registered in the units of the report (disabled ones too). None: no rating, sign-in
    or invitation names an officer there, and the officers' sections need not read the ratings."""
    params: dict = {}
    where = _officers_place(filters.place, params, "place_id") + _officers_place(filters.scope, params, "scope_id")
    return bool(_run(conn, f"SELECT 1 FROM officers o WHERE 1 = 1{where} LIMIT 1", params))


def any_sign_in(conn, period: Period, filters: CounterFilters) -> bool:
    """Whether the period holds a sign-in in the report's scope (a terminal moved to a unit that registers no
    officer still reports the ones it signs in)."""
    params: dict = {}
    where = _period(period, "s.signed_in_at", params) + _terminal_filters(filters, "s", params)
    return bool(_run(conn, f"SELECT 1 FROM officer_shifts s WHERE {where} LIMIT 1", params))


def any_invitation(conn, period: Period, filters: CounterFilters) -> bool:
    """Whether the period holds an invitation in the report's scope (read along ``created_at``)."""
    params: dict = {}
    where = _period(period, "i.created_at", params) + _terminal_filters(filters, "i", params)
    return bool(_run(conn, f"SELECT 1 FROM dossier_invitations i WHERE {where} LIMIT 1", params))


def officer_names(conn, ids: set[int]) -> dict[int, tuple[str, str]]:
    """Officer id → (code, current name)."""
    found: dict[int, tuple[str, str]] = {}
    wanted = sorted(ids)
    for first in range(0, len(wanted), 500):
        chunk = wanted[first:first + 500]
        params = {f"o{i}": value for i, value in enumerate(chunk)}
        rows = _run(conn, "SELECT id, code, name FROM officers WHERE id IN ("
                          + ", ".join(f":{name}" for name in params) + ")", params)
        found.update({int(row[0]): (row[1], row[2]) for row in rows})
    return found


def partial_utc_hours(period: Period, opening_hours, tz) -> list[str]:
    """The UTC hours ("07") in which some day of the period opens or closes off the hour (the hours are local to
    ``tz``): a rating in one of them is judged by its minute, in any other hour by the hour (the whole hour is
    open, or closed)."""
    hours: set[str] = set()
    day = period.start.astimezone(tz).date() - timedelta(days=1)
    last = period.end.astimezone(tz).date()
    while day <= last:
        for opens, closes in opening_hours.spans[day.weekday()]:
            for moment in (opens, closes):
                utc = datetime.combine(day, moment, tzinfo=tz).astimezone(timezone.utc)
                if utc.minute or utc.second or utc.microsecond:
                    hours.add(f"{utc.hour:02d}")
        day += timedelta(days=1)
    return sorted(hours)


def opening_condition(conn, period: Period, opening_hours, tz) -> str | None:
    """SQL that is 'open' or 'closed' for a rating's ``corrected_at`` by ``opening_hours`` (local to ``tz``): its
    local weekday and HHMM by the zone's offset, which must be the same all through the period (None when it is
    not, e.g. a change to summer time inside it, or an offset of seconds)."""
    offsets = set()
    day = period.start.astimezone(tz).date() - timedelta(days=1)
    while day <= period.end.astimezone(tz).date() + timedelta(days=1):
        for moment in (time(0), time(23, 59)):
            offsets.add(datetime.combine(day, moment, tzinfo=tz).utcoffset())
        day += timedelta(days=1)
    if len(offsets) != 1:
        return None
    seconds = next(iter(offsets)).total_seconds()
    if seconds % 60:
        return None
    minutes = int(seconds // 60)
    if conn.dialect.name == "postgresql":
        local = f"CAST(REPLACE(r.corrected_at, 'Z', '') AS timestamp) + interval '{minutes} minutes'"
        dow, hm = f"to_char({local}, 'ID')", f"to_char({local}, 'HH24MI')"
        day_code = lambda weekday: str(weekday + 1)  # noqa: E731 - ISO: Monday 1 … Sunday 7
    else:
        dow = f"strftime('%w', r.corrected_at, '{minutes:+d} minutes')"
        hm = f"strftime('%H%M', r.corrected_at, '{minutes:+d} minutes')"
        day_code = lambda weekday: str((weekday + 1) % 7)  # noqa: E731 - Sunday 0 … Saturday 6
    branches = []
    for weekday, spans in enumerate(opening_hours.spans):
        if not spans:
            continue
        # HHMM text compares as the time of day; a span to midnight closes at "2400", after every minute.
        tests = " OR ".join(f"({hm} >= '{opens:%H%M}' AND {hm} < '{'2400' if closes >= time(23, 59, 59) else f'{closes:%H%M}'}')"
                            for opens, closes in spans)
        branches.append(f"WHEN '{day_code(weekday)}' THEN (CASE WHEN {tests} THEN 'open' ELSE 'closed' END)")
    if not branches:
        return "'closed'"
    return f"(CASE {dow} {' '.join(branches)} ELSE 'closed' END)"


def counter_counts(conn, period: Period, filters: CounterFilters, partial_hours: list[str], *,
                   opening: str | None = None) -> list[tuple]:
    """(terminal_id, unit_id, officer_id, officer_code, rating, reason, filtered, when, n): one pass over the
    period's ratings, every one counted or not, by terminal and by the officer signed in at the press (both
    NULL: nobody), that both the by-officer section and the audit counts are added up from. ``filtered`` is 1
    for a press the terminal filtered or a dossier's second rating. ``when`` is 'open' or 'closed' by the SQL
    of :func:`opening_condition` when given; else the UTC minute ("2026-11-25T00:29") in ``partial_hours`` and
    the UTC hour in the others (judged in Python)."""
    params: dict = {}
    where = _period(period, "r.corrected_at", params) + _rating_filters(filters, params)
    when = opening if opening is not None else _time_bucket(partial_hours)
    flag = f"CASE WHEN {COUNTED} THEN 0 ELSE 1 END"
    return _run(conn, f"SELECT r.terminal_id, COALESCE(r.unit_id, 0) AS unit, r.officer_id, r.officer_code, r.rating, "
                      f"r.reason, {flag} AS filtered_now, {when} AS at_time, COUNT(*) AS n FROM ratings r "
                      f"WHERE {where} GROUP BY r.terminal_id, COALESCE(r.unit_id, 0), r.officer_id, r.officer_code, "
                      f"r.rating, r.reason, {flag}, at_time", params)


def _time_bucket(partial_hours: list[str]) -> str:
    """The UTC minute in ``partial_hours``, else the UTC hour (two digits we made, never input)."""
    if not partial_hours:
        return "SUBSTR(r.corrected_at, 1, 13)"
    assert all(len(h) == 2 and h.isdigit() for h in partial_hours)
    return (f"CASE WHEN SUBSTR(r.corrected_at, 12, 2) IN ({', '.join(repr(h) for h in partial_hours)}) "
            "THEN SUBSTR(r.corrected_at, 1, 16) ELSE SUBSTR(r.corrected_at, 1, 13) END")


def sign_ins(conn, period: Period, filters: CounterFilters) -> list[tuple]:
    """(terminal_id, unit_id, officer_id, officer_code, signed_in_at, signed_out_at): the period's sign-ins."""
    params: dict = {}
    where = _period(period, "s.signed_in_at", params) + _terminal_filters(filters, "s", params)
    return _run(conn, "SELECT s.terminal_id, COALESCE(s.unit_id, 0), s.officer_id, s.officer_code, s.signed_in_at, "
                      f"s.signed_out_at FROM officer_shifts s WHERE {where} ORDER BY s.terminal_id, s.signed_in_at",
                params)


def _window_end(conn, column: str, seconds: float) -> str:
    """SQL of the ISO UTC text ``seconds`` after the ISO UTC text in ``column`` (the one expression that differs
    between the two databases)."""
    if conn.dialect.name == "postgresql":
        return (f"to_char(CAST(REPLACE({column}, 'Z', '') AS timestamp) + interval '{float(seconds)} seconds', "
                "'YYYY-MM-DD\"T\"HH24\\:MI\\:SS.MS\"Z\"')")  # \\: a colon, not a parameter, to text()
    return f"strftime('%Y-%m-%dT%H:%M:%fZ', {column}, '{float(seconds):+} seconds')"


#: How far a rating's corrected time may lie from its terminal's own clock for the burst count to find it:
#: a clock wrong by more dates its sign-ins wrong too.
NEAR_S = 3600


def ratings_after(conn, period: Period, filters: CounterFilters, window_s: float) -> list[tuple]:
    """(terminal_id, created_at, rating): the counted ratings within ``window_s`` after each of the period's
    sign-ins at their terminal, by the terminal's own clock (``created_at``, the clock its sign-ins are written
    by), in time order. Each sign-in reads its terminal's ratings along ``(terminal_id, corrected_at)`` within
    :data:`NEAR_S` of its window."""
    params: dict = {}
    where = _period(period, "s.signed_in_at", params) + _terminal_filters(filters, "s", params)
    where += _rating_filters(CounterFilters(place=filters.place, scope=filters.scope), params)
    end = _window_end(conn, "s.signed_in_at", window_s)
    near_start, near_end = _window_end(conn, "s.signed_in_at", -NEAR_S), _window_end(conn, "s.signed_in_at",
                                                                                      window_s + NEAR_S)
    return _run(conn, "SELECT DISTINCT r.terminal_id, r.created_at, r.rating, r.id FROM officer_shifts s "
                      "JOIN ratings r ON r.terminal_id = s.terminal_id AND r.corrected_at >= " + near_start
                      + " AND r.corrected_at <= " + near_end + " AND r.created_at >= s.signed_in_at "
                      f"AND r.created_at <= {end} WHERE {where} AND {COUNTED} "
                      "ORDER BY r.terminal_id, r.created_at, r.id", params)


def invitation_counts(conn, period: Period, filters: CounterFilters) -> list[tuple]:
    """(unit_id, terminal_id, outcome, n): the period's dossier invitations (by ``created_at``)."""
    params: dict = {}
    where = _period(period, "i.created_at", params) + _terminal_filters(filters, "i", params)
    return _run(conn, "SELECT COALESCE(i.unit_id, 0), i.terminal_id, i.outcome, COUNT(*) AS n FROM dossier_invitations i "
                      f"WHERE {where} GROUP BY COALESCE(i.unit_id, 0), i.terminal_id, i.outcome", params)


def invitation_total(conn, period: Period, filters: CounterFilters) -> int:
    """The period's invitations counted once more, without grouping (the section's check)."""
    params: dict = {}
    where = _period(period, "i.created_at", params) + _terminal_filters(filters, "i", params)
    return int(_run(conn, f"SELECT COUNT(*) FROM dossier_invitations i WHERE {where}", params)[0][0] or 0)


def dossier_repeats(conn, period: Period, filters: CounterFilters) -> int:
    """Ratings of the period that were a dossier's second rating (kept, counted as filtered)."""
    params: dict = {}
    where = _period(period, "r.corrected_at", params) + _rating_filters(filters, params)
    return int(_run(conn, f"SELECT COUNT(*) FROM ratings r WHERE {where} AND COALESCE(r.dossier_repeat, 0) <> 0",
                    params)[0][0] or 0)


def terminal_places(conn, ids: set[str]) -> dict[str, tuple]:
    """Terminal id → (site, counter, unit_id, counter_id) where it stands now."""
    found: dict[str, tuple] = {}
    wanted = sorted(ids)
    for first in range(0, len(wanted), 500):
        chunk = wanted[first:first + 500]
        params = {f"t{i}": value for i, value in enumerate(chunk)}
        rows = _run(conn, "SELECT id, site, counter, COALESCE(unit_id, 0), COALESCE(counter_id, 0) FROM terminals "
                          "WHERE id IN (" + ", ".join(f":{name}" for name in params) + ")", params)
        found.update({row[0]: tuple(row[1:]) for row in rows})
    return found

"""Where a report's ratings come from: the server's database or a pulled ``.db`` file.

Both run the same SQL text (SQLite and PostgreSQL alike; ``corrected_at`` is ISO
UTC text on both, so the period is a text range and an hour is its first 13
characters). The database does the counting, in two GROUP BY queries over the
period: on the server over its hourly ``rating_tallies`` (kept by ingest), in a
pulled file over the ratings, each query reading an index in its own order (no
sort of a million rows). Only a few thousand tallies come back to Python, which
folds the UTC hours into local time (see :mod:`reports.figures`).

For example::

    source = sqlite_source("ratings.db")
    with engine.connect() as conn:
        report = build_report(sqlalchemy_source(conn), period)
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .errors import SourceError
from .levels import NODE_COLUMNS, TreeNode
from .periods import Period, iso_utc

#: The columns a report reads; a pulled file and the server's table both have them.
REPORT_COLUMNS = ("terminal_id", "site", "counter", "rating", "reason", "filtered", "corrected_at")

#: Counts per terminal (with its site and counter), level, reason and filtered flag; on the server, also per
#: place in the tree ({tree}: the node columns, after the count).
UNITS_SQL = ("SELECT site, counter, terminal_id, rating, reason, filtered, COUNT(*) AS n{tree} FROM ratings "
             "WHERE {where} GROUP BY site, counter, terminal_id, rating, reason, filtered{tree_group}")

#: Counts per UTC hour ("2026-11-25T09"), level, reason and filtered flag: the trend (with its reasons)
#: and the heat map.
HOURS_SQL = ("SELECT SUBSTR(corrected_at, 1, 13) AS hour, rating, reason, filtered, COUNT(*) AS n FROM ratings "
             "WHERE {where} GROUP BY SUBSTR(corrected_at, 1, 13), rating, reason, filtered")

#: The indexes that let both queries read in their GROUP BY's order instead of sorting a million rows
#: (a pulled file gets them on its first report; the server answers from its tallies instead).
REPORT_INDEXES = {
    "ix_ratings_report_units": "site, counter, terminal_id, rating, reason, filtered, corrected_at",
    "ix_ratings_report_hours": "SUBSTR(corrected_at, 1, 13), rating, reason, filtered, corrected_at",
}


@dataclass(frozen=True)
class Tallies:
    """What the database counted: ``units`` rows (site, counter, terminal, rating, reason, filtered, n)
    and ``hours`` rows (UTC hour, rating, reason, filtered, n)."""

    units: list[tuple]
    hours: list[tuple]


def _tree_columns(prefix: str, *, tree: bool) -> tuple[str, str]:
    """The node columns for the SELECT (NULL read as 0: no node) and for the GROUP BY, or nothing."""
    if not tree:
        return "", ""
    return ("".join(f", COALESCE({prefix}{c}, 0) AS {c}" for c in NODE_COLUMNS),
            "".join(f", {prefix}{c}" for c in NODE_COLUMNS))


def _place_filter(place: tuple[str, int] | None, prefix: str, params: dict, name: str = "place_id") -> str:
    """``AND unit_id = :place_id`` for a report of one node's subtree (the column checked against the tree's).

    ``place`` False: nothing (a scope whose node is gone sees no rows)."""
    return place_condition(place, lambda column: f"{prefix}{column}", params, name)


def place_condition(place, column_of, params: dict, name: str) -> str:
    """``AND <column_of(column)> = :name`` for one node's subtree, ``column_of`` giving the SQL that holds that
    lineage column in the table read; "" for no place, a condition no row meets for ``False``."""
    if place is None:
        return ""
    if place is False:
        return " AND 1 = 0"
    column, node_id = place
    if column not in NODE_COLUMNS:
        raise ValueError(f"place: {column!r} is not one of {', '.join(NODE_COLUMNS)}")
    params[name] = int(node_id)
    return f" AND {column_of(column)} = :{name}"


def report_queries(period: Period, *, site=None, counter=None, terminal=None, place=None, scope=None,
                   tree: bool = False, units_by_scan: bool = False) -> tuple[str, str, dict]:
    """The two SQL texts (units, hours) and their parameters for ``period`` and the optional filters.

    When the period starts and ends on whole UTC hours (any zone with a whole-hour
    offset, such as Asia/Ho_Chi_Minh), the hours query selects by the hour itself,
    which is what ``ix_ratings_report_hours`` holds; the rows are the same.

    ``units_by_scan`` writes the period test of the units query so that no index
    can serve it (``corrected_at || ''``): SQLite then reads ``ix_ratings_report_units``
    whole, in its GROUP BY order, instead of the period's rows by time and sorting
    them — faster once the period holds more than about a sixth of the table.
    """
    start, end = period.utc_bounds()
    params = {"start": start, "end": end}
    filters = []
    for column, name, value in (("site", "site", site), ("counter", "counter", counter),
                                ("terminal_id", "terminal", terminal)):
        if value is not None:
            filters.append(f" AND {column} = :{name}")
            params[name] = value
    filters.append(_place_filter(place, "", params))
    filters.append(_place_filter(scope, "", params, "scope_id"))
    by_time = "corrected_at >= :start AND corrected_at < :end" + "".join(filters)
    by_scan = "corrected_at || '' >= :start AND corrected_at || '' < :end" + "".join(filters)
    if start.endswith(":00:00.000Z") and end.endswith(":00:00.000Z"):
        params["start_hour"], params["end_hour"] = start[:13], end[:13]
        hours_where = ("SUBSTR(corrected_at, 1, 13) >= :start_hour AND SUBSTR(corrected_at, 1, 13) < :end_hour"
                       + "".join(filters))
    else:
        hours_where = by_time
    columns, group = _tree_columns("", tree=tree)
    return (UNITS_SQL.format(where=by_scan if units_by_scan else by_time, tree=columns, tree_group=group),
            HOURS_SQL.format(where=hours_where), params)


#: Scan the whole units index when the period holds more than 1/SCAN_SHARE of the table (SQLite).
SCAN_SHARE = 6


def _tallies(execute, period: Period, filters: dict, *, sqlite: bool, units_only: bool = False,
             tree: bool = False) -> Tallies:
    """Hours first: their sum is the period's size, which picks the cheaper form of the units query."""
    _units, hours_sql, params = report_queries(period, **filters, tree=tree)
    if units_only:
        return Tallies([tuple(row) for row in execute(_units, params)], [])
    hours = [tuple(row) for row in execute(hours_sql, params)]
    by_scan = False
    if sqlite:
        in_period = sum(row[-1] for row in hours)
        table_rows = next(iter(execute("SELECT MAX(rowid) FROM ratings", {})))[0] or 0
        by_scan = in_period * SCAN_SHARE > table_rows
    units_sql, _hours, params = report_queries(period, **filters, tree=tree, units_by_scan=by_scan)
    return Tallies([tuple(row) for row in execute(units_sql, params)], hours)


#: The server keeps hourly counts (its ``rating_tallies`` table, kept by ingest): the same two
#: answers from a few thousand rows. A missing counter or reason is '' there, NULL here.
TALLY_UNITS_SQL = ("SELECT t.site, NULLIF(t.counter, '') AS counter, t.terminal_id, t.rating, "
                   "NULLIF(t.reason, '') AS reason, t.filtered, CAST(SUM(t.n) AS BIGINT) AS n, "
                   + ", ".join(f"t.{c}" for c in NODE_COLUMNS) + " FROM rating_tallies t WHERE {where} "
                   "GROUP BY t.site, t.counter, t.terminal_id, t.rating, t.reason, t.filtered, "
                   + ", ".join(f"t.{c}" for c in NODE_COLUMNS))
TALLY_HOURS_SQL = ("SELECT t.hour, t.rating, NULLIF(t.reason, '') AS reason, t.filtered, "
                   "CAST(SUM(t.n) AS BIGINT) AS n FROM rating_tallies t "
                   "WHERE {where} GROUP BY t.hour, t.rating, t.reason, t.filtered")


def tally_queries(period: Period, *, site=None, counter=None, terminal=None, place=None,
                  scope=None) -> tuple[str, str, dict] | None:
    """The two queries over ``rating_tallies``, or None when the period does not start and end on
    whole UTC hours (a zone with a half-hour offset): then only the ratings themselves can answer."""
    start, end = period.utc_bounds()
    if not (start.endswith(":00:00.000Z") and end.endswith(":00:00.000Z")):
        return None
    params = {"start_hour": start[:13], "end_hour": end[:13]}
    where = "t.hour >= :start_hour AND t.hour < :end_hour" + _filters(params, site, counter, terminal, place, scope)
    return TALLY_UNITS_SQL.format(where=where), TALLY_HOURS_SQL.format(where=where), params


def _filters(params: dict, site, counter, terminal, place, scope) -> str:
    """The legacy name filters, the node reported on and the caller's scope, as ``AND t.…`` conditions."""
    where = ""
    for column, name, value in (("site", "site", site), ("counter", "counter", counter),
                                ("terminal_id", "terminal", terminal)):
        if value is not None:
            where += f" AND t.{column} = :{name}"
            params[name] = value
    return where + _place_filter(place, "t.", params) + _place_filter(scope, "t.", params, "scope_id")


# -- the rollups (server/rollups.py) ------------------------------------------------------------------------
#
# A report whose period holds whole local months reads those months from a rollup (per terminal, or per
# unit for the national report), the hours before and after them from ``rating_tallies``, and — for the
# months — the deltas ingest added that the refresher has not folded yet: one statement, one snapshot.
# The trend and the heat map of a province read ``province_hours`` and the deltas, of the whole server
# ``server_hours`` and the deltas.

_PLACE_COLUMNS = "t.site, t.counter, t.terminal_id"
_UNIT_COLUMNS = "'' AS site, '' AS counter, '' AS terminal_id"
_COUNT_COLUMNS = "t.rating, t.reason, t.filtered, t.n"
_OUTER_UNITS = ("SELECT site, NULLIF(counter, '') AS counter, terminal_id, rating, NULLIF(reason, '') AS reason, "
                "filtered, CAST(SUM(n) AS BIGINT) AS n, " + ", ".join(NODE_COLUMNS) + " FROM ({parts}) x "
                "GROUP BY site, counter, terminal_id, rating, reason, filtered, " + ", ".join(NODE_COLUMNS))
_OUTER_HOURS = ("SELECT hour, rating, NULLIF(reason, '') AS reason, filtered, CAST(SUM(n) AS BIGINT) AS n "
                "FROM ({parts}) x GROUP BY hour, rating, reason, filtered")


def whole_months(period: Period) -> tuple[str, str, str, str] | None:
    """The local months wholly inside ``period`` as (first month, month after the last, and their first UTC
    hours), e.g. ``('2026-01', '2027-01', '2025-12-31T17', '2026-12-31T17')``; None if there is none, or
    if a month does not start on a whole UTC hour (a zone with a half-hour offset)."""
    tz = period.tz

    def month_start(year: int, month: int) -> datetime:
        return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=tz)

    first = month_start(period.start.year, period.start.month)
    if first < period.start:
        first = month_start(first.year, first.month + 1)
    after = first  # becomes the start of the first month not wholly inside
    while month_start(after.year, after.month + 1) <= period.end:
        after = month_start(after.year, after.month + 1)
    if after == first:
        return None
    bounds = [iso_utc(first), iso_utc(after)]
    if not all(bound.endswith(":00:00.000Z") for bound in bounds):
        return None
    return first.strftime("%Y-%m"), after.strftime("%Y-%m"), bounds[0][:13], bounds[1][:13]


def _deepest(*places) -> int:
    """How deep the narrowest of the node filters is: -1 none, 0 province … 3 counter (False: 3)."""
    depth = -1
    for place in places:
        if place is False:
            depth = max(depth, len(NODE_COLUMNS) - 1)
        elif place is not None:
            depth = max(depth, NODE_COLUMNS.index(place[0]))
    return depth


def rollup_queries(period: Period, *, zone: str | None, site=None, counter=None, terminal=None, place=None,
                   scope=None, depth: str = "terminal") -> tuple[str | None, str | None, dict]:
    """The units and hours queries over the rollups (each None where only ``rating_tallies`` can answer).

    ``zone``: the zone of the rollups' months (None: not built). ``depth`` "unit": the units query may
    count per unit instead of per terminal (the national report needs no finer line).
    """
    start, end = period.utc_bounds()
    if zone is None or not (start.endswith(":00:00.000Z") and end.endswith(":00:00.000Z")):
        return None, None, {}
    params = {"start_hour": start[:13], "end_hour": end[:13]}
    where = _filters(params, site, counter, terminal, place, scope)
    legacy = any(value is not None for value in (site, counter, terminal))
    deepest = _deepest(place, scope)

    units_sql = None
    months = whole_months(period) if getattr(period.tz, "key", None) == zone else None
    if months is not None:
        params["first_month"], params["after_month"], params["months_start"], params["months_end"] = months
        by_unit = depth == "unit" and not legacy and deepest <= 1
        columns = (_UNIT_COLUMNS + ", " + _COUNT_COLUMNS + ", t.province_id, t.unit_id, 0 AS office_id, "
                   "0 AS counter_id") if by_unit else (
            _PLACE_COLUMNS + ", " + _COUNT_COLUMNS + ", " + ", ".join(f"t.{c}" for c in NODE_COLUMNS))
        parts = [f"SELECT {columns} FROM {'unit_months' if by_unit else 'rating_months'} t "
                 f"WHERE t.month >= :first_month AND t.month < :after_month{where}",
                 f"SELECT {columns} FROM tally_deltas t "
                 f"WHERE t.hour >= :months_start AND t.hour < :months_end{where}"]
        if params["start_hour"] < params["months_start"]:
            parts.append(f"SELECT {columns} FROM rating_tallies t "
                         f"WHERE t.hour >= :start_hour AND t.hour < :months_start{where}")
        if params["months_end"] < params["end_hour"]:
            parts.append(f"SELECT {columns} FROM rating_tallies t "
                         f"WHERE t.hour >= :months_end AND t.hour < :end_hour{where}")
        units_sql = _OUTER_UNITS.format(parts=" UNION ALL ".join(parts))

    hours_sql = None
    if not legacy and deepest <= 0:
        columns = "t.hour, t.rating, t.reason, t.filtered, t.n"
        span = "t.hour >= :start_hour AND t.hour < :end_hour"
        rollup = "server_hours" if deepest < 0 else "province_hours"
        hours_sql = _OUTER_HOURS.format(parts=f"SELECT {columns} FROM {rollup} t WHERE {span}{where} "
                                              f"UNION ALL SELECT {columns} FROM tally_deltas t WHERE {span}{where}")
    return units_sql, hours_sql, params


def _stale_report_indexes(conn: sqlite3.Connection) -> list[str]:
    """The report indexes a pulled file lacks, or holds on other columns (made by an earlier version)."""
    have = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ratings'"))
    return [name for name, columns in REPORT_INDEXES.items() if f"({columns})" not in (have.get(name) or "")]


def add_report_indexes(conn: sqlite3.Connection) -> None:
    """Create the report indexes in a pulled SQLite file if they are missing or out of date
    (a few seconds per million)."""
    for name in _stale_report_indexes(conn):
        conn.execute(f"DROP INDEX IF EXISTS {name}")
        conn.execute(f"CREATE INDEX {name} ON ratings ({REPORT_INDEXES[name]})")
    conn.commit()


class SqlAlchemySource:
    """Ratings in the server's database, through a SQLAlchemy connection (SQLite or PostgreSQL).

    ``scope``: only the rows of one node's subtree, as (column, node id) — ``("unit_id", 4)`` — for an
    account that sees no more (False: no rows at all, for a scope whose node is gone). ``rollups`` False:
    read only the hourly tallies (the benchmarks' and tests' reference; the figures are the same).
    """

    def __init__(self, connection, *, scope: tuple[str, int] | bool | None = None, rollups: bool = True):
        self.connection = connection
        self.scope = scope
        self.rollups = rollups

    @property
    def name(self) -> str:
        return f"server database ({self.connection.dialect.name})"

    def tallies(self, period: Period, *, units_only: bool = False, depth: str = "terminal", **filters) -> Tallies:
        """The period's counts; ``units_only`` skips the hours (the previous period needs no trend).
        ``depth`` "unit": the units may be counted per unit, not per terminal (see :func:`rollup_queries`)."""
        from sqlalchemy import text

        def execute(sql, params):
            return self.connection.execute(text(sql), params)

        if self.connection.dialect.name == "postgresql":
            # For this transaction only: index reads cost about what sequential ones do on an SSD (the default
            # assumes a spinning disk and picks a scan plus a sort of every row), and no JIT compilation for
            # queries this short.
            execute("SET LOCAL random_page_cost = 1.1", {})
            execute("SET LOCAL jit = off", {})
            # A national report groups a few hundred thousand rollup rows: in memory (a hash), not sorted on disk.
            execute("SET LOCAL work_mem = '64MB'", {})

        filters = {**filters, "scope": self.scope}
        queries = tally_queries(period, **filters)
        if queries is None:
            return _tallies(execute, period, filters, sqlite=self.connection.dialect.name == "sqlite",
                            units_only=units_only, tree=True)
        units_sql, hours_sql, params = queries
        zone = execute("SELECT value FROM rollup_state WHERE name = 'month_zone'", {}).scalar() if self.rollups else None
        rolled_units, rolled_hours, rolled_params = rollup_queries(period, zone=zone, depth=depth, **filters)
        units = [tuple(row) for row in execute(rolled_units or units_sql, rolled_params if rolled_units else params)]
        if units_only:
            return Tallies(units, [])
        hours = [tuple(row) for row in execute(rolled_hours or hours_sql, rolled_params if rolled_hours else params)]
        return Tallies(units, hours)

    def terminal_count(self) -> int:
        """How many terminals stand in the source's scope (revoked ones too: their ratings count)."""
        from sqlalchemy import text

        params: dict = {}
        where = _place_filter(self.scope, "", params, "scope_id")
        return self.connection.execute(text("SELECT COUNT(*) FROM terminals WHERE 1 = 1" + where), params).scalar_one()

    def tree(self) -> dict[int, TreeNode]:
        """The organisation tree as it is now: id → node (current names)."""
        from sqlalchemy import text

        rows = self.connection.execute(text("SELECT id, kind, name, parent_id FROM nodes"))
        return {row[0]: TreeNode(row[0], row[1], row[2], row[3]) for row in rows}


class SqliteFileSource:
    """Ratings in a pulled ``.db`` file (``kiosk-admin pull --out ratings.db``).

    Only read, except that the report indexes are added on the first report when
    the file lacks them (and skipped, slower but right, when it cannot be written).
    """

    def __init__(self, path):
        self.path = Path(path)

    @property
    def name(self) -> str:
        return str(self.path)

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise SourceError(f"there is no file {self.path}; pull one first with kiosk-admin pull --out "
                              f"{self.path.name if self.path.suffix == '.db' else 'ratings.db'}")
        try:
            conn = sqlite3.connect(self.path, timeout=30)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(ratings)")}
        except sqlite3.DatabaseError:
            raise SourceError(f"{self.path} is not a pulled ratings file (not an SQLite database)") from None
        missing = [c for c in REPORT_COLUMNS if c not in columns]
        if missing:
            conn.close()
            what = "it has no table ratings" if not columns else f"its ratings lack {', '.join(missing)}"
            raise SourceError(f"{self.path} is not a pulled ratings file ({what})")
        if _stale_report_indexes(conn):
            try:
                add_report_indexes(conn)
            except sqlite3.OperationalError:  # a read-only file or folder: slower, still right
                conn.rollback()
        return conn

    def tallies(self, period: Period, *, units_only: bool = False, **filters) -> Tallies:
        conn = self._connect()
        try:
            return _tallies(conn.execute, period, filters, sqlite=True, units_only=units_only)
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"{self.path} could not be read: {exc}") from None
        finally:
            conn.close()


def sqlalchemy_source(connection) -> SqlAlchemySource:
    """The ratings of the server's database behind ``connection`` (a SQLAlchemy ``Connection``)."""
    return SqlAlchemySource(connection)


def sqlite_source(path) -> SqliteFileSource:
    """The ratings of the pulled SQLite file at ``path``; reading a missing or foreign file raises
    :class:`~reports.errors.SourceError` with one plain sentence."""
    return SqliteFileSource(path)

"""The rollups: coarser counts that a province's and the national report read instead of hourly tallies.

At national scale (bench/national.py: 10,000 terminals, 20 million ratings a year) the hourly
``rating_tallies`` hold nearly a row per rating, so a year's report of a province or of the country
read hundreds of thousands to millions of rows. Three rollups count the same ratings more coarsely:

- ``rating_months``: per terminal (at its place) and local month — a province's or a unit's year;
- ``unit_months``: per unit and local month — the national report, which ranks provinces and units;
- ``province_hours``: per province and UTC hour — the trend and the heat map of a province;
- ``server_hours``: per UTC hour — the trend and the heat map of the whole server.

They are not written by ingest, because rows shared by many terminals (a province's hour) would make
concurrent batches wait for each other's commit. Ingest appends what it added to ``rating_tallies``
to ``tally_deltas`` instead (a plain insert, in the batch's transaction), and :func:`refresh` folds
the deltas into the rollups in the background: it copies a chunk of them aside, deletes those, and adds
them to the rollups by SQL, all in one transaction (the server process does no per-row work, so its
event loop keeps serving batches meanwhile). A report reads a rollup *and* the deltas not yet folded, in one
statement (one snapshot), so it is exact at every moment, however far the refresher lags.

Months are local to one zone, recorded in ``rollup_state`` once the rollups were built whole
(:func:`rebuild`). Until then, or when the server's zone changes, reports read the hourly tallies
(right, slower) and the refresher rebuilds.

    >>> month_of_hour("2026-01-31T17", "Asia/Ho_Chi_Minh")   # 00:00 on 1 February, local
    '2026-02'
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, delete, insert, select, text

from .background import Every
from .db import try_transaction_lock, unlock, write_transaction
from .schema import province_hours, rating_months, rollup_state, server_hours, tally_deltas, unit_months

log = logging.getLogger("hailong.server")

#: Serializes the refreshers of every server process on one PostgreSQL database.
ROLLUP_LOCK = 0x484C524F  # "HLRO"

#: How often the background refresher folds the deltas, and how many it claims per transaction.
REFRESH_INTERVAL_S = 2.0
REFRESH_CHUNK = 50_000

PLACE = ("terminal_id", "site", "counter", "province_id", "unit_id", "office_id", "counter_id")
COUNT = ("rating", "reason", "filtered")
DELTA_COLUMNS = ("hour", *PLACE, *COUNT, "n")


@lru_cache(maxsize=65536)
def month_of_hour(hour: str, zone: str) -> str:
    """The local month (``2026-02``) in ``zone`` of the UTC hour ``2026-01-31T17`` (its first instant)."""
    utc = datetime(int(hour[0:4]), int(hour[5:7]), int(hour[8:10]), int(hour[11:13]), tzinfo=timezone.utc)
    return utc.astimezone(ZoneInfo(zone)).strftime("%Y-%m")


def built_zone(conn: Connection) -> str | None:
    """The zone the rollups' months are local to, or None while they are not built."""
    return conn.execute(select(rollup_state.c.value).where(rollup_state.c.name == "month_zone")).scalar()


def _hour_months(conn: Connection, hours, zone: str) -> None:
    """Fill the connection's temporary table ``hl_hour_months`` (hour → local month in ``zone``) with
    ``hours``: what the folding SQL joins to, since SQLite knows no time zones."""
    postgres = conn.dialect.name == "postgresql"
    conn.execute(text("CREATE TEMPORARY TABLE IF NOT EXISTS hl_hour_months (hour VARCHAR(13) PRIMARY KEY, "
                      "month VARCHAR(7) NOT NULL)" + (" ON COMMIT DELETE ROWS" if postgres else "")))
    conn.execute(text("DELETE FROM hl_hour_months"))
    if hours:
        conn.execute(text("INSERT INTO hl_hour_months (hour, month) VALUES (:hour, :month)"),
                     [{"hour": hour, "month": month_of_hour(hour, zone)} for hour in hours])


def _add(table: str, key: list[str], select_sql: str) -> str:
    """``INSERT INTO table … SELECT …`` that adds to the rows already there (an upsert of sums)."""
    return (f"INSERT INTO {table} ({', '.join(key)}, n) {select_sql} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET n = {table}.n + excluded.n")


_MONTH_KEY = ["month", *PLACE, *COUNT]
_UNIT_KEY = ["month", "province_id", "unit_id", *COUNT]
_PROVINCE_KEY = ["hour", "province_id", *COUNT]
_SERVER_KEY = ["hour", *COUNT]


def _fold_sql(source: str) -> list[str]:
    """The four upserts that add the rows of ``source`` (deltas' columns) to the rollups, in SQL: the server
    process does no per-row work (its event loop keeps serving batches). ``WHERE 1 = 1``: SQLite's parser
    needs a WHERE before an upsert's ON CONFLICT."""
    grouped = ", ".join(f"f.{c}" for c in (*PLACE, *COUNT))
    count = ", ".join(f"f.{c}" for c in COUNT)
    return [
        _add("rating_months", _MONTH_KEY,
             f"SELECT m.month, {grouped}, SUM(f.n) FROM {source} f JOIN hl_hour_months m ON m.hour = f.hour "
             f"WHERE 1 = 1 GROUP BY m.month, {grouped}"),
        _add("unit_months", _UNIT_KEY,
             f"SELECT m.month, f.province_id, f.unit_id, {count}, SUM(f.n) FROM {source} f "
             f"JOIN hl_hour_months m ON m.hour = f.hour WHERE 1 = 1 GROUP BY m.month, f.province_id, f.unit_id, {count}"),
        _add("province_hours", _PROVINCE_KEY,
             f"SELECT f.hour, f.province_id, {count}, SUM(f.n) FROM {source} f WHERE 1 = 1 "
             f"GROUP BY f.hour, f.province_id, {count}"),
        _add("server_hours", _SERVER_KEY,
             f"SELECT f.hour, {count}, SUM(f.n) FROM {source} f WHERE 1 = 1 GROUP BY f.hour, {count}"),
    ]


def refresh(conn: Connection, zone: str, *, limit: int = REFRESH_CHUNK) -> int:
    """Fold up to ``limit`` pending deltas into the rollups (or rebuild them when they are not built in
    ``zone``); how many deltas were folded. Run inside a write transaction on ``conn``, by one refresher at
    a time (:data:`ROLLUP_LOCK`).

    The deltas are copied into a temporary table, deleted by those ids only (a batch that commits
    meanwhile keeps its deltas for the next round), and folded from the copy.
    """
    if built_zone(conn) != zone:
        rebuild(conn, zone)
        return 0
    postgres = conn.dialect.name == "postgresql"
    columns = ", ".join(("id", *DELTA_COLUMNS))
    conn.execute(text(f"CREATE TEMPORARY TABLE IF NOT EXISTS hl_fold AS SELECT {columns} FROM tally_deltas WHERE 1 = 0"
                      if not postgres else
                      f"CREATE TEMPORARY TABLE IF NOT EXISTS hl_fold ON COMMIT DELETE ROWS AS "
                      f"SELECT {columns} FROM tally_deltas WITH NO DATA"))
    conn.execute(text("DELETE FROM hl_fold"))
    claimed = conn.execute(text(f"INSERT INTO hl_fold ({columns}) SELECT {columns} FROM tally_deltas "
                                f"ORDER BY id LIMIT :limit"), {"limit": limit}).rowcount
    if not claimed:
        return 0
    conn.execute(text("DELETE FROM tally_deltas WHERE id IN (SELECT id FROM hl_fold)"))
    _hour_months(conn, conn.execute(text("SELECT DISTINCT hour FROM hl_fold")).scalars().all(), zone)
    for statement in _fold_sql("hl_fold"):
        conn.execute(text(statement))
    return claimed


def rebuild(conn: Connection, zone: str) -> None:
    """Count the rollups afresh from ``rating_tallies``, their months local to ``zone``.

    On PostgreSQL, run it in a REPEATABLE READ transaction (:func:`rebuild_now` does): the deltas
    it deletes must be exactly those already counted in the tallies it reads.
    """
    for table in (rollup_state, tally_deltas, rating_months, unit_months, province_hours, server_hours):
        conn.execute(delete(table))
    _hour_months(conn, conn.execute(text("SELECT DISTINCT hour FROM rating_tallies")).scalars().all(), zone)
    place, count = ", ".join(PLACE), ", ".join(COUNT)
    conn.execute(text(
        f"INSERT INTO rating_months (month, {place}, {count}, n) "
        f"SELECT m.month, {', '.join('t.' + c for c in (*PLACE, *COUNT))}, SUM(t.n) "
        f"FROM rating_tallies t JOIN hl_hour_months m ON m.hour = t.hour "
        f"GROUP BY m.month, {', '.join('t.' + c for c in (*PLACE, *COUNT))}"))
    conn.execute(text(
        f"INSERT INTO unit_months (month, province_id, unit_id, {count}, n) "
        f"SELECT month, province_id, unit_id, {count}, SUM(n) FROM rating_months "
        f"GROUP BY month, province_id, unit_id, {count}"))
    conn.execute(text(
        f"INSERT INTO province_hours (hour, province_id, {count}, n) "
        f"SELECT hour, province_id, {count}, SUM(n) FROM rating_tallies GROUP BY hour, province_id, {count}"))
    conn.execute(text(
        f"INSERT INTO server_hours (hour, {count}, n) "
        f"SELECT hour, {count}, SUM(n) FROM province_hours GROUP BY hour, {count}"))
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE rating_months, unit_months, province_hours, server_hours"))  # the planner's row counts
    conn.execute(insert(rollup_state).values(name="month_zone", value=zone))


def rebuild_now(engine: Engine, zone: str) -> bool:
    """Rebuild the rollups in their own transaction, unless another server process just did; True if this
    one did. On PostgreSQL the lock is taken before the transaction's REPEATABLE READ snapshot, so a process
    that waited for another's rebuild sees it done."""
    with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ROLLUP_LOCK})
            conn.commit()
        try:
            if postgres:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with write_transaction(conn):
                if built_zone(conn) == zone:
                    return False
                rebuild(conn, zone)
            return True
        finally:
            if postgres:
                unlock(conn, ROLLUP_LOCK)


def refresh_now(engine: Engine, zone: str, *, wait: bool = True) -> int:
    """One refresh in its own transaction; how many deltas it folded (0: none pending, or another server
    process is refreshing and ``wait`` is False). A rebuild, when one is due, runs as :func:`rebuild_now`."""
    with engine.connect() as conn:
        state = built_zone(conn)
    if state != zone:
        rebuild_now(engine, zone)
        return 0
    folded = 0
    with engine.connect() as conn:
        while True:
            with write_transaction(conn):
                if not try_transaction_lock(conn, ROLLUP_LOCK, wait=wait):
                    return folded
                done = refresh(conn, zone)
            folded += done
            if done < REFRESH_CHUNK:
                return folded


class RollupRefresher:
    """Folds the deltas into the rollups every :data:`REFRESH_INTERVAL_S`, in the background of one app."""

    def __init__(self, engine: Engine, zone: str):
        self.engine = engine
        self.zone = zone
        self._lock = threading.Lock()
        self._loop: Every | None = None

    def refresh(self, *, wait: bool = True) -> int:
        with self._lock:
            started = time.perf_counter()
            rebuilding = False
            with self.engine.connect() as conn:
                rebuilding = built_zone(conn) != self.zone
            if rebuilding:
                log.info("building the report rollups (months in %s) from the hourly tallies", self.zone)
            folded = refresh_now(self.engine, self.zone, wait=wait)
            if rebuilding:
                log.info("report rollups built in %.1f s", time.perf_counter() - started)
            return folded

    def start(self) -> None:
        self._loop = Every("rollup-refresher", lambda: self.refresh(wait=False), interval_s=REFRESH_INTERVAL_S,
                           failure="folding the report rollups failed; trying again shortly")
        self._loop.start()

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
            self._loop = None

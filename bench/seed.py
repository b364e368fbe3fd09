"""Fill a server database with synthetic ratings, fast, for the benchmarks (reports, pull).

    seed_server_db("sqlite:///var/bench.db", 1_000_000)              # a SQLite file
    seed_server_db("postgresql://postgres@127.0.0.1:5432/bench", 1_000_000)

    python bench/seed.py sqlite:///var/bench.db 1000000 [--seed 1] [--sites 20]

The schema is migrated first (``server.db.open_engine``), then ``sites`` sites of
three counters with one terminal each are enrolled (ids ``bench-s01-q1`` …) and
``n`` ratings inserted straight into the tables, not through the HTTP API:
``executemany`` in one transaction on SQLite, ``COPY`` on PostgreSQL. The
ratings spread over the year 2026 in opening hours, local time Asia/Ho_Chi_Minh
(Monday–Friday 7:30–11:30 and 13:30–17:00, Saturday 7:30–11:30); about 70 %
very satisfied, 25 % satisfied, 5 % dissatisfied (varying by site), reasons
given for two in three dissatisfied, 2 % filtered presses. The same ``seed``
gives the same ratings. Rows are inserted in time order, so cursors increase
with ``corrected_at`` as they would on a real server.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WARDS = ("UBND quận Hà Đông", "UBND phường Phúc La", "UBND phường Văn Quán", "UBND phường Yết Kiêu",
         "UBND phường Quang Trung", "UBND phường Nguyễn Trãi", "UBND phường Hà Cầu", "UBND phường La Khê",
         "UBND phường Phú La", "UBND phường Vạn Phúc", "UBND phường Mộ Lao", "UBND phường Kiến Hưng",
         "UBND phường Phú Lãm", "UBND phường Phú Lương", "UBND phường Yên Nghĩa", "UBND phường Biên Giang",
         "UBND phường Đồng Mai", "UBND phường Dương Nội")
REASONS = ("processing_time", "staff_attitude", "unclear_guidance", "complex_procedure", "repeat_visits",
           "facilities")
COUNTERS = ("Quầy 1", "Quầy 2", "Quầy 3")
YEAR = 2026
UTC_OFFSET_H = 7  # Asia/Ho_Chi_Minh, no daylight saving

RATING_COLUMNS = ("id", "terminal_id", "rating", "reason", "reason_outcome", "source", "created_at", "boot_id",
                  "monotonic_ns", "clock_synced", "filtered", "site", "counter", "received_at", "corrected_at",
                  "time_quality")


def site_names(sites: int) -> list[str]:
    return [WARDS[i] if i < len(WARDS) else f"UBND xã số {i + 1}" for i in range(sites)]


def terminal_rows(sites: int) -> list[dict]:
    """One terminal per counter, three counters per site."""
    rows = []
    for s, site in enumerate(site_names(sites), 1):
        for q, counter in enumerate(COUNTERS, 1):
            terminal_id = f"bench-s{s:02d}-q{q}"
            rows.append({"id": terminal_id, "site": site, "counter": counter,
                         "token_hash": uuid.uuid5(uuid.NAMESPACE_URL, terminal_id).hex * 2,
                         "enrolled_at": f"{YEAR - 1}-12-01T00:00:00.000Z"})
    return rows


def _opening_seconds() -> list[tuple[int, int]]:
    """Start of every opening half-day of the year as (UTC epoch seconds, length in seconds)."""
    spans = []
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        weekday = day.weekday()
        midnight_utc = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()) \
            - UTC_OFFSET_H * 3600
        if weekday < 6:
            spans.append((midnight_utc + 7 * 3600 + 1800, 4 * 3600))       # 7:30-11:30
        if weekday < 5:
            spans.append((midnight_utc + 13 * 3600 + 1800, 3 * 3600 + 1800))  # 13:30-17:00
        day += timedelta(days=1)
    return spans


def _iso(epoch_ms: int) -> str:
    seconds, ms = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def synthetic_ratings(n: int, *, seed: int = 1, sites: int = 20):
    """``n`` rating rows (tuples in :data:`RATING_COLUMNS` order), in time order."""
    rng = random.Random(seed)
    terminals = terminal_rows(sites)
    spans = _opening_seconds()
    total_span = sum(length for _start, length in spans)
    offsets = sorted(rng.randrange(total_span * 1000) for _ in range(n))
    # Each site has its own mood: dissatisfied between 1 % and 9 %.
    moods = {t["site"]: (0.60 + 0.2 * rng.random(), 0.01 + 0.08 * rng.random()) for t in terminals}
    rows = []
    span_index, span_base = 0, 0  # walks the spans alongside the sorted offsets
    for i, offset_ms in enumerate(offsets):
        while offset_ms >= (span_base + spans[span_index][1]) * 1000:
            span_base += spans[span_index][1]
            span_index += 1
        epoch_ms = spans[span_index][0] * 1000 + offset_ms - span_base * 1000
        terminal = terminals[rng.randrange(len(terminals))]
        very, bad = moods[terminal["site"]]
        draw = rng.random()
        reason = outcome = None
        if draw < bad:
            rating = "dissatisfied"
            if rng.random() < 2 / 3:
                reason, outcome = REASONS[rng.randrange(len(REASONS))], "given"
            else:
                outcome = "skipped" if rng.random() < 0.5 else "timeout"
        elif draw < bad + very:
            rating = "very_satisfied"
        else:
            rating = "satisfied"
        at = _iso(epoch_ms)
        rows.append((str(uuid.UUID(int=rng.getrandbits(128), version=4)), terminal["id"], rating, reason, outcome,
                     "button", at, "bench-boot", i * 1_000_000, 1, 1 if rng.random() < 0.02 else 0,
                     terminal["site"], terminal["counter"], _iso(epoch_ms + 2000), at, "exact"))
    return terminals, rows


def seed_server_db(db_url: str, n: int, *, seed: int = 1, sites: int = 20) -> None:
    """Migrate the database at ``db_url`` and add ``sites`` × 3 terminals and ``n`` synthetic ratings.

    ``db_url`` is a SQLAlchemy URL: ``sqlite:///path.db`` or ``postgresql://user@host:port/db``.
    Meant for an empty database (terminal ids ``bench-s01-q1`` … must not exist yet).
    """
    from server.db import open_engine
    from server.settings import Settings

    terminals, rows = synthetic_ratings(n, seed=seed, sites=sites)
    engine = open_engine(Settings(db_url=db_url))
    try:
        raw = engine.raw_connection()
        try:
            if engine.dialect.name == "sqlite":
                _fill_sqlite(raw, terminals, rows)
            else:
                _fill_postgresql(raw, terminals, rows)
        finally:
            raw.close()
    finally:
        engine.dispose()


def _fill_sqlite(raw, terminals, rows) -> None:
    from server.ingest import REBUILD_TALLIES_SQL

    cursor = raw.cursor()
    cursor.execute("PRAGMA synchronous=OFF")  # a benchmark's data: speed over durability
    cursor.execute("BEGIN")
    cursor.executemany("INSERT INTO terminals (id, site, counter, token_hash, enrolled_at) "
                       "VALUES (:id, :site, :counter, :token_hash, :enrolled_at)", terminals)
    cursor.executemany(f"INSERT INTO ratings ({', '.join(RATING_COLUMNS)}) "
                       f"VALUES ({', '.join('?' for _ in RATING_COLUMNS)})", rows)
    for statement in REBUILD_TALLIES_SQL.split("; "):  # what ingest would have counted
        cursor.execute(statement)
    cursor.execute("COMMIT")
    cursor.execute("ANALYZE")
    cursor.close()


def _fill_postgresql(raw, terminals, rows) -> None:
    from server.ingest import REBUILD_TALLIES_SQL

    driver = raw.driver_connection  # psycopg 3
    with driver.cursor() as cursor:
        cursor.executemany("INSERT INTO terminals (id, site, counter, token_hash, enrolled_at) "
                           "VALUES (%(id)s, %(site)s, %(counter)s, %(token_hash)s, %(enrolled_at)s)", terminals)
        with cursor.copy(f"COPY ratings ({', '.join(RATING_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        for statement in REBUILD_TALLIES_SQL.split("; "):  # what ingest would have counted
            cursor.execute(statement)
    driver.commit()
    driver.autocommit = True
    with driver.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE ratings")  # index-only scans need the visibility map
    driver.autocommit = False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fill a server database with synthetic ratings.")
    parser.add_argument("db_url", help="sqlite:///path.db or postgresql://user@host:port/db")
    parser.add_argument("n", type=int, help="how many ratings")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sites", type=int, default=20)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    seed_server_db(args.db_url, args.n, seed=args.seed, sites=args.sites)
    print(f"seeded {args.n:,} ratings at {args.sites} sites in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()

"""Audit trail benchmark: what one entry costs, and what it adds to a page of ``GET /api/v1/ratings``.

    python bench/audit.py [--db sqlite|postgresql] [--entries 500] [--ratings 100000] [--pages 30]

1. ``record()`` per entry, median of ``--entries``: alone in its own write transaction (connect, lock, read the
   last hash, insert, commit: what a logout or a revocation pays), and the call alone inside a transaction that is
   open anyway (what an enrolment or a login adds to its own). On a durable database: SQLite with
   ``synchronous=FULL``, PostgreSQL with fsync on.
2. A pull page of 10,000 ratings over HTTP from a server (uvicorn in this process) filled by ``bench/seed.py``,
   with its entry (as served) and without it (the route's write transaction and ``record`` swapped for no-ops in
   this process, for the comparison only), in pairs at the same random cursor; medians and their ratio.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def record_costs(engine, n: int) -> tuple[float, float]:
    """(median seconds of a transaction holding only one entry, median seconds of the call inside one)."""
    from server.audit import Actor, record
    from server.db import write_transaction

    actor = Actor("bench", role="admin")
    alone, inside = [], []
    for i in range(n):
        started = time.perf_counter()
        with engine.connect() as conn, write_transaction(conn):
            record(conn, actor=actor, action="pull", subject="ratings", rows=10_000,
                   details={"after": i * 10_000, "next": (i + 1) * 10_000, "limit": 10_000, "format": "json"},
                   address="127.0.0.1")
        alone.append(time.perf_counter() - started)
        with engine.connect() as conn, write_transaction(conn):
            started = time.perf_counter()
            record(conn, actor=actor, action="logout", subject="dashboard", details={"session": "0" * 12})
            inside.append(time.perf_counter() - started)
    return statistics.median(alone), statistics.median(inside)


def pull_pages(app, url: str, token: str, ratings: int, pages: int) -> tuple[float, float, float, int]:
    """Medians of a 10,000-rating page with its entry, without it, and of their ratio page by page (each pair at
    the same cursor, in alternating order); and the entries written."""
    import requests
    from sqlalchemy import func, select

    import server.routes.ratings as ratings_route
    from server.schema import audit_log

    def pulls() -> int:
        with app.state.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(audit_log).where(audit_log.c.action == "pull")).scalar()

    served = ratings_route.record, ratings_route.write_transaction
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    times: dict[bool, list[float]] = {True: [], False: []}
    ratios = []
    rng = random.Random(7)
    before = pulls()
    for i in range(pages + 1):
        after = rng.randrange(0, max(1, ratings - 10_000))
        pair = {}
        for audited in ((True, False) if i % 2 else (False, True)):
            ratings_route.record, ratings_route.write_transaction = served if audited else (
                lambda *_a, **_k: None, lambda _conn: contextlib.nullcontext())
            started = time.perf_counter()
            answer = session.get(f"{url}/api/v1/ratings", params={"after": after, "limit": 10_000},
                                 headers=headers, timeout=60)
            pair[audited] = time.perf_counter() - started
            # Not parsed here: this process also runs the server, and the client's work would be counted twice.
            assert answer.status_code == 200 and len(answer.content) > 1_000_000, answer.text[:200]
        if i:  # the first pair warms the caches
            times[True].append(pair[True])
            times[False].append(pair[False])
            ratios.append(pair[True] / pair[False])
    ratings_route.record, ratings_route.write_transaction = served
    return (statistics.median(times[True]), statistics.median(times[False]), statistics.median(ratios),
            pulls() - before)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--ratings", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=30)
    args = parser.parse_args(argv)

    from seed import seed_server_db

    from server import Settings, create_app
    from server.accounts import issue_admin_token
    from server.db import write_transaction
    from server_fixtures import LiveServer, ThrowawayPostgres

    (ROOT / "var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="audit-", dir=ROOT / "var"))
    pg = ThrowawayPostgres(durable=True).start() if args.db == "postgresql" else None
    db_url = pg.url if pg else f"sqlite:///{work / 'server.db'}"
    live = None
    try:
        started = time.perf_counter()
        seed_server_db(db_url, args.ratings)
        print(f"seeded {args.ratings:,} ratings ({args.db}) in {time.perf_counter() - started:.1f} s")
        app = create_app(Settings(db_url=db_url, alert_check_interval_s=0))
        alone, inside = record_costs(app.state.engine, args.entries)
        print(f"{args.db}: record() per entry, median of {args.entries}")
        print(f"  in its own transaction (commit included) {ms(alone)}")
        print(f"  inside a transaction already open        {ms(inside)}")
        with app.state.engine.connect() as conn, write_transaction(conn):
            token = issue_admin_token(conn, name="bench", now_ns=time.time_ns())
        live = LiveServer(app)
        with_entry, without, ratio, written = pull_pages(app, live.url, token, args.ratings, args.pages)
        print(f"pull page of 10,000 ratings over HTTP, median of {args.pages} pairs at the same cursor")
        print(f"  with its audit entry                     {ms(with_entry)}")
        print(f"  without                                  {ms(without)}")
        print(f"  ratio with/without (median of pairs)     {ratio:8.3f}")
        print(f"  entries written by these pages: {written} (a pull of 1,000,000 ratings in pages of 10,000: 100)")
    finally:
        if live is not None:
            live.stop()
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()

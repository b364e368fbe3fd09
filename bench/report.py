"""How long the period summary takes over a million ratings: on the server (direct and through the API,
SQLite and PostgreSQL) and on a pulled ``.db`` file. Target: ≤ 1 s each. Each report also counts the
previous period (for the comparison); the server's year is timed by tree level too (``group_by=unit``,
``office``, ``counter``: the seeded ratings carry no node, so this times the grouping and the level checks).

    python bench/report.py [--n 1000000] [--runs 5] [--backends sqlite,postgresql] [--workdir DIR]

The server databases are filled by :func:`bench.seed.seed_server_db` (a year of ratings,
2026), so the year's report covers every rating; quarter and month are printed too. The
pulled file is built from the seeded SQLite database in the shape ``kiosk-admin pull --out
x.db`` writes (sqlite-utils, the columns of ``RATING_OUTPUT_FIELDS``, no report indexes):
its first report adds the indexes, which is timed on its own. Times are the median of
``--runs`` runs; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.seed import seed_server_db  # noqa: E402

PERIODS = (("year", "2026-06-15"), ("quarter", "2026-11-10"), ("month", "2026-11-10"))


def median_s(action, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def pulled_copy(server_db: Path, pulled: Path) -> None:
    """A file shaped like a pull's, from the seeded server database (faster than pulling a million)."""
    import sqlite_utils

    from server.models import RATING_OUTPUT_FIELDS

    db = sqlite_utils.Database(pulled)
    db["ratings"].create({name: (int if name in ("cursor", "filtered", "monotonic_ns", "clock_synced") else str)
                          for name in RATING_OUTPUT_FIELDS}, pk="cursor")
    db["ratings"].create_index(["corrected_at"])  # as kiosk-admin pull makes it
    db["pull_state"].insert({"id": 1, "server": "http://127.0.0.1:8000", "last_cursor": 0}, pk="id")
    columns = ", ".join(f"[{name}]" for name in RATING_OUTPUT_FIELDS)
    db.execute("ATTACH DATABASE ? AS server", [str(server_db)])
    with db.conn:
        db.execute(f"INSERT INTO ratings ({columns}) SELECT {columns} FROM server.ratings ORDER BY cursor")
    db.execute("DETACH DATABASE server")
    db.close()


def bench_server(db_url: str, n: int, runs: int, label: str) -> list[str]:
    from server import Settings, create_app
    from server.accounts import issue_admin_token
    from server.db import write_transaction
    from server_fixtures import LiveServer
    from reports import build_report, parse_period, sqlalchemy_source
    import requests

    lines = []
    started = time.perf_counter()
    seed_server_db(db_url, n)
    lines.append(f"{label}: seeded {n:,} ratings in {time.perf_counter() - started:.1f} s")
    app = create_app(Settings(db_url=db_url))
    live = LiveServer(app)
    try:
        with app.state.engine.connect() as conn, write_transaction(conn):
            token = issue_admin_token(conn, name="bench", now_ns=time.time_ns())
        http = requests.Session()
        headers = {"Authorization": f"Bearer {token}"}
        for kind, on in PERIODS:
            period = parse_period(kind, on=on)
            with app.state.engine.connect() as conn:
                direct_s, report = median_s(lambda: build_report(sqlalchemy_source(conn), period), runs)

            def over_api(kind=kind, on=on):
                answer = http.get(f"{live.url}/api/v1/reports/summary", params={"period": kind, "on": on},
                                  headers=headers, timeout=120)
                answer.raise_for_status()
                return answer.json()["report"]

            api_s, body = median_s(over_api, runs)
            same = body["total"] == report.to_dict()["total"]
            lines.append(f"{label}: {kind:<7} {report.total.counted + report.total.filtered:>9,} ratings  "
                         f"direct {direct_s:.3f} s  API {api_s:.3f} s  (same figures: {same}, "
                         f"reconciles: {report.reconciles})")
        year = parse_period(*PERIODS[0][:1], on=PERIODS[0][1])
        for level in ("unit", "office", "counter"):
            with app.state.engine.connect() as conn:
                level_s, report = median_s(lambda: build_report(sqlalchemy_source(conn), year, group_by=level), runs)
            lines.append(f"{label}: year by {level:<7} direct {level_s:.3f} s  ({len(report.groups)} lines, "
                         f"reconciles: {report.reconciles})")
        http.close()
    finally:
        live.stop()
        app.state.engine.dispose()
    return lines


def bench_pulled(server_db: Path, pulled: Path, runs: int) -> list[str]:
    from reports import build_report, parse_period, sqlite_source

    started = time.perf_counter()
    pulled_copy(server_db, pulled)
    lines = [f"pulled .db: built a pull-shaped file of {pulled.stat().st_size / 1e6:.0f} MB in "
             f"{time.perf_counter() - started:.1f} s"]
    source = sqlite_source(pulled)
    started = time.perf_counter()
    build_report(source, parse_period("year", on="2026-06-15"))
    lines.append(f"pulled .db: first report (adds the two report indexes) {time.perf_counter() - started:.2f} s")
    for kind, on in PERIODS:
        seconds, report = median_s(lambda: build_report(source, parse_period(kind, on=on)), runs)
        lines.append(f"pulled .db: {kind:<7} {report.total.counted + report.total.filtered:>9,} ratings  "
                     f"{seconds:.3f} s  (reconciles: {report.reconciles})")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workdir", help="where the databases go (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="hailong-bench-report-"))
    workdir.mkdir(parents=True, exist_ok=True)
    backends = args.backends.split(",")
    print(f"report benchmark: {args.n:,} ratings over 2026, median of {args.runs} runs, "
          f"{os.cpu_count()} CPUs, SQLite {sqlite3.sqlite_version}")
    try:
        server_db = workdir / "server.db"
        if "sqlite" in backends:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{server_db}{suffix}").unlink(missing_ok=True)
            for line in bench_server(f"sqlite:///{server_db}", args.n, args.runs, "server SQLite"):
                print(line, flush=True)
            pulled = workdir / "pulled.db"
            pulled.unlink(missing_ok=True)
            for line in bench_pulled(server_db, pulled, args.runs):
                print(line, flush=True)
        if "postgresql" in backends:
            from server_fixtures import ThrowawayPostgres

            with ThrowawayPostgres(durable=True) as pg:
                for line in bench_server(pg.url, args.n, args.runs, "server PostgreSQL"):
                    print(line, flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""What the alert check and the dashboard cost on a big server database (SQLite).

    python bench/alerts.py [--n 1000000] [--terminals 1000] [--runs 5] [--workdir DIR]

Seeds ``n`` ratings over 2026 (:func:`bench.seed.seed_server_db`) plus ``terminals``
extra terminals, half of them silent, then times (median of ``--runs``):

- one alert check as the app runs it (:meth:`server.alerts.AlertMonitor.check`), and the part
  of it that holds SQLite's write lock (what it can take from ingest per interval);
- the dashboard's pages (overview of a month and of a year, fleet, alerts) as served.

Nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.seed import seed_server_db  # noqa: E402
from server_fixtures import LiveServer  # noqa: E402

NS = 1_000_000_000


def median_s(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--terminals", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)

    import requests
    from sqlalchemy import insert

    from server import Settings, create_app
    from server.accounts import issue_admin_token
    from server.alerts import alert_conditions, apply_conditions
    from server.db import write_transaction
    from server.schema import terminals
    from server.timekeeping import iso_from_ns

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="hailong-bench-alerts-"))
    db_url = f"sqlite:///{workdir / 'server.db'}"
    try:
        start = time.perf_counter()
        seed_server_db(db_url, args.n)
        print(f"seeded {args.n:,} ratings in {time.perf_counter() - start:.1f} s")
        # Monday 2026-06-15 10:00 in Hà Nội: opening hours, ratings all around.
        now_ns = 1_781_492_400 * NS
        clock = lambda: now_ns  # noqa: E731
        app = create_app(Settings(db_url=db_url, alert_check_interval_s=0), clock=clock)
        with app.state.engine.connect() as conn, write_transaction(conn):
            conn.execute(insert(terminals), [
                {"id": f"bench-extra-{i:05d}", "site": f"Đơn vị thêm {i % 50}", "counter": "Quầy 1",
                 "token_hash": f"{i:064x}", "enrolled_at": "2026-01-01T00:00:00.000Z",
                 "last_seen_at": iso_from_ns(now_ns - (10 if i % 2 else 3 * 86400) * NS), "pending": 0}
                for i in range(args.terminals)])
            token = issue_admin_token(conn, name="bench", now_ns=now_ns)
        rules = app.state.alert_monitor.rules

        logging.getLogger("hailong.server.alerts").setLevel(logging.ERROR)
        monitor = app.state.alert_monitor
        monitor.check()  # the first check fires the silent terminals' alerts; later ones find them active
        with app.state.engine.connect() as conn:
            holding = alert_conditions(conn, rules, now_ns=now_ns)

        def locked_part():
            with app.state.engine.connect() as conn, write_transaction(conn):
                apply_conditions(conn, holding, now_ns=now_ns)

        print(f"alert check, {len(holding)} conditions holding, {args.terminals + 60} terminals: "
              f"{1000 * median_s(monitor.check, args.runs):.1f} ms median, of which the write lock "
              f"{1000 * median_s(locked_part, args.runs):.1f} ms")

        # The pages through a real server on a loopback port, as a browser gets them.
        live = LiveServer(app)
        try:
            client = requests.Session()
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(live.url + "/login").text).group(1)
            client.post(live.url + "/login", data={"token": token, "csrf": csrf})
            for label, path in [("overview, month", "/?period=month"), ("overview, year", "/?period=year"),
                                ("fleet", "/fleet"), ("alerts", "/alerts")]:
                def get(path=path):
                    answer = client.get(live.url + path, timeout=120)
                    assert answer.status_code == 200, answer.status_code
                print(f"GET {path:<18} ({label}): {1000 * median_s(get, args.runs):.0f} ms median")
        finally:
            live.stop()
        app.state.engine.dispose()
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

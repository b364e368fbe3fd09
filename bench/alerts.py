"""What the alert check and the dashboard cost on a big server database.

    python bench/alerts.py [--n 1000000] [--terminals 1000] [--runs 5] [--workdir DIR]
    python bench/alerts.py --tree [--year-ratings 20000000] [--days 7] [--postgresql] [--runs 5]

Seeds ``n`` ratings over 2026 (:func:`bench.seed.seed_server_db`: flat sites, ratings without a unit,
so the dissatisfied rule groups them by site) plus ``terminals`` extra terminals, half of them silent,
then times (median of ``--runs``):

- one alert check as the app runs it (:meth:`server.alerts.AlertMonitor.check`), and the part
  of it that holds SQLite's write lock (what it can take from ingest per interval);
- the dashboard's pages (overview of a month and of a year, fleet, alerts) as served.

``--tree``: the national tree instead (bench/national_data.py: 34 provinces × 100 units, 10,000
terminals, half of them silent), and of a year of ``--year-ratings`` ratings the ``--days`` before the
check (the check reads only its window, through the index on ``corrected_at``: the rest of the year
changes the depth of that index, not what is read). It prints the query plan of the rule's read, the
ratings in the window, the first check (which fires the silent terminals' alerts, each with its place)
and the later ones, and ``GET /api/v1/alerts`` for a whole-server and a province-scoped account.
SQLite by default; ``--postgresql`` loads it into a throwaway PostgreSQL cluster.

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
PASSWORD = "mật khẩu đo hiệu năng"


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
    parser.add_argument("--tree", action="store_true", help="the national tree, ratings with their lineage")
    parser.add_argument("--year-ratings", type=int, default=20_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--postgresql", action="store_true", help="(--tree) in a throwaway PostgreSQL cluster")
    args = parser.parse_args(argv)
    if args.tree:
        return tree_run(args)

    import requests
    from sqlalchemy import insert

    from server import Settings, create_app
    from server.alerts import alert_conditions, apply_conditions
    from server.db import write_transaction
    from server.people import create_account
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
            create_account(conn, username="bench", display_name="bench", role="province_admin", scope_node_id=None,
                           password=PASSWORD, now_ns=now_ns, one_time=False)
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
            answer = client.post(live.url + "/login", allow_redirects=False,
                                 data={"username": "bench", "password": PASSWORD, "code": "", "csrf": csrf})
            assert answer.status_code == 303, "the bench's login failed"
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


#: The moment of every check: Monday 2026-06-15 10:00 in Hà Nội, opening hours, ratings all around.
CHECK_AT_NS = 1_781_492_400 * NS


def tree_run(args) -> None:
    import requests
    from sqlalchemy import text, update

    from bench.national_data import RatingPlan, national_tree
    from bench.national_load import load_national
    from server import Settings, create_app
    from server.accounts import issue_admin_token
    from server.alerts import AlertRules, alert_conditions, apply_conditions, dissatisfied_places, window_counts
    from server.db import write_transaction
    from server.people import create_account
    from server.schema import terminals
    from server.timekeeping import iso_from_ns

    tree = national_tree()
    plan = RatingPlan(tree, args.year_ratings)
    first_ms = (CHECK_AT_NS // 1_000_000) - args.days * 86_400_000
    plan.spans = [span for span in plan.spans if first_ms <= span.start_ms <= CHECK_AT_NS // 1_000_000]
    loaded = sum(span.count for span in plan.spans)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="hailong-bench-alerts-tree-"))
    cluster = None
    if args.postgresql:
        from server_fixtures import ThrowawayPostgres

        cluster = ThrowawayPostgres(durable=True).start()
        db_url = cluster.url
    else:
        db_url = f"sqlite:///{workdir / 'server.db'}"
    try:
        start = time.perf_counter()
        load_national(db_url, tree, plan)
        print(f"{len(tree.nodes):,} nodes, {len(tree.terminals):,} terminals; of a year of {args.year_ratings:,} "
              f"ratings the {args.days} days before the check: {loaded:,} ratings, loaded in "
              f"{time.perf_counter() - start:.1f} s ({'PostgreSQL' if cluster else 'SQLite'})")
        now_ns = CHECK_AT_NS
        app = create_app(Settings(db_url=db_url, alert_check_interval_s=0), clock=lambda: now_ns)
        engine = app.state.engine
        with engine.connect() as conn, write_transaction(conn):
            ids = [t.id for t in tree.terminals]  # every other terminal silent for three days
            conn.execute(update(terminals).values(last_seen_at=iso_from_ns(now_ns - 10 * NS)))
            conn.execute(update(terminals).where(terminals.c.id.in_(ids[::2]))
                         .values(last_seen_at=iso_from_ns(now_ns - 3 * 86400 * NS)))
            token = issue_admin_token(conn, name="bench", now_ns=now_ns)
            province = tree.ids_of("province")[0]
            account = create_account(conn, username="bench.province", display_name="bench", role="province_admin",
                                     scope_node_id=province, password=PASSWORD, now_ns=now_ns, one_time=False)
            province_token = issue_admin_token(conn, name="bench.province", now_ns=now_ns, account_id=account.id)
        rules = AlertRules.from_settings(app.state.settings)
        since, until = iso_from_ns(now_ns - rules.window_s * NS), iso_from_ns(now_ns)
        with engine.connect() as conn:
            in_window = conn.execute(text("SELECT COUNT(*) FROM ratings WHERE corrected_at >= :s "
                                          "AND corrected_at <= :u"), {"s": since, "u": until}).scalar_one()
            compiled = window_counts(since, until).compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
            explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
            plan_lines = [" ".join(str(c) for c in row) for row in conn.exec_driver_sql(explain + str(compiled))]
        print(f"ratings in the {rules.window_s // 60}-minute window: {in_window:,}; the rule reads them so:")
        for line in plan_lines:
            print(f"    {line}")

        logging.getLogger("hailong.server.alerts").setLevel(logging.ERROR)
        monitor = app.state.alert_monitor
        start = time.perf_counter()
        first = monitor.check()
        print(f"first check: {1000 * (time.perf_counter() - start):.0f} ms, fired {len(first.fired):,} "
              f"(of which dissatisfied_share {sum(a.rule == 'dissatisfied_share' for a in first.fired)})")
        with engine.connect() as conn:
            holding = alert_conditions(conn, rules, now_ns=now_ns)

        def rule_read():
            with engine.connect() as conn:
                dissatisfied_places(conn, rules, now_ns)

        def locked_part():
            with engine.connect() as conn, write_transaction(conn):
                apply_conditions(conn, holding, now_ns=now_ns)

        print(f"alert check, {len(holding):,} conditions holding, {len(tree.terminals):,} terminals: "
              f"{1000 * median_s(monitor.check, args.runs):.1f} ms median; the dissatisfied rule's read "
              f"{1000 * median_s(rule_read, args.runs):.1f} ms median; the write transaction "
              f"{1000 * median_s(locked_part, args.runs):.1f} ms median")
        live = LiveServer(app)
        try:
            client = requests.Session()
            for label, bearer in (("whole server", token), ("one province", province_token)):
                def get(bearer=bearer):
                    answer = client.get(live.url + "/api/v1/alerts", headers={"Authorization": f"Bearer {bearer}"},
                                        timeout=120)
                    assert answer.status_code == 200, answer.status_code
                    return answer.json()
                shown = len(get()["active"])
                print(f"GET /api/v1/alerts ({label}, {shown} active shown): "
                      f"{1000 * median_s(get, args.runs):.0f} ms median")
        finally:
            live.stop()
        engine.dispose()
    finally:
        if cluster is not None:
            cluster.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

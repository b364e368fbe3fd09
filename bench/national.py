"""National scale (issue 11 §5): 10,000 terminals in 34 provinces × 100 units, 20 million ratings over 2026,
on PostgreSQL — how long loading takes, how big the database is, and the medians of what people wait for.

    .venv/bin/python bench/national.py                       # the full size (make national)
    .venv/bin/python bench/national.py --ratings 200000      # a small run, about a minute
    .venv/bin/python bench/national.py --keep /var/tmp/hailong-national   # load once, measure again later

The data set is bench/national_data.py's (the 34 provinces, their units, offices, counters and terminals,
a year of ratings in opening hours); bench/national_load.py loads it with COPY into a throwaway cluster
(fsync on), or the database of ``--db-url``, or the cluster kept in ``--keep DIR`` (loaded the first time,
reused after: the 20M load is long). Then, each the median of ``--runs`` runs:

- a province's year report, the national year report, a unit's year report: ``reports.build_report``
  over the server's database (the province and unit filters read ``rating_tallies`` by
  ``province_id``/``unit_id``: the report's own node filter is another branch's work);
- the dashboard's overview of the year, logged in, over HTTP (uvicorn on loopback);
- the fleet page: all 10,000 terminals over HTTP, and one page of 50 of a province's terminals
  from the data layer (``list_terminals(node=…, limit=…)``);
- pulling: today's unscoped ``GET /api/v1/ratings`` pages over HTTP (ratings/s), and one unit's year
  by the unit-filtered cursor query that a scoped pull runs (ratings/s);
- ingest: bench/fleet.py's target step (1,000 terminals, 5,000 ratings/s) on an empty database and on
  the loaded one, in the same cluster: the ratio of their p99s.

Prints a table with each target and whether it is met; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.national_data import YEAR, RatingPlan, national_tree  # noqa: E402
from bench.national_load import NotEmpty, database_sizes, load_national, loaded_ratings, psycopg_url  # noqa: E402

ON = f"{YEAR}-06-15"  # any day of the year: the year's report
CLUSTER_SETTINGS = {"max_wal_size": "8GB", "shared_buffers": "1GB"}


def median_s(action, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


class NodeSource:
    """The server's ratings of one province or unit: ``sqlalchemy_source``'s tally queries, filtered by
    the tallies' ``province_id`` or ``unit_id`` column."""

    def __init__(self, connection, column: str, node_id: int):
        from reports import sqlalchemy_source

        self.inner = sqlalchemy_source(connection)
        self.connection, self.column, self.node_id = connection, column, node_id
        self.name = f"{self.inner.name}, {column} = {node_id}"

    def tallies(self, period, **filters):
        from sqlalchemy import text

        from reports.sources import Tallies, tally_queries

        self.connection.execute(text("SET LOCAL random_page_cost = 1.1"))
        self.connection.execute(text("SET LOCAL jit = off"))
        units_sql, hours_sql, params = tally_queries(period, **filters)
        where = "WHERE t.hour >= :start_hour"
        node_where = f"WHERE t.{self.column} = :node_id AND t.hour >= :start_hour"
        params = {**params, "node_id": self.node_id}
        return Tallies(*([tuple(row) for row in self.connection.execute(text(sql.replace(where, node_where)), params)]
                         for sql in (units_sql, hours_sql)))


class Table:
    def __init__(self):
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, what: str, figure: str, target: str = "", met: bool | None = None) -> None:
        self.rows.append((what, figure, target, "" if met is None else ("pass" if met else "OVER")))
        print(f"  {what:<58}{figure:>18}  {target:<12}{self.rows[-1][3]}", flush=True)

    def print(self, title: str) -> None:
        print(f"\n{title}\n| what | median | target | |\n|---|---:|---|---|")
        for row in self.rows:
            print(f"| {' | '.join(row)} |")


def measure_reports(db_url: str, tree, runs: int, table: Table) -> None:
    from reports import build_report, parse_period, sqlalchemy_source
    from server.db import open_engine
    from server.settings import Settings

    period = parse_period("year", on=ON)
    province_id = tree.ids_of("province")[0]
    unit_id = next(t.unit_id for t in tree.terminals if t.province_id == province_id)
    engine = open_engine(Settings(db_url=db_url))
    try:
        with engine.connect() as conn:
            def report(source, group_by):
                with conn.begin():
                    return build_report(source, period, group_by=group_by)

            for what, source, group_by, limit in (
                    ("a province's year report (ranks its units)", NodeSource(conn, "province_id", province_id),
                     "site", 1.0),
                    ("the national year report", sqlalchemy_source(conn), "site", 2.0),
                    ("a unit's year report (its counters)", NodeSource(conn, "unit_id", unit_id), "counter", None)):
                seconds, result = median_s(lambda: report(source, group_by), runs)
                n = result.total.counted + result.total.filtered
                table.add(f"{what}, {n:,} ratings", f"{seconds:.3f} s", f"≤ {limit:g} s" if limit else "",
                          seconds <= limit if limit else None)
    finally:
        engine.dispose()


def measure_http(db_url: str, tree, runs: int, table: Table) -> None:
    import requests
    from sqlalchemy import select

    from dashboard_fixtures import log_in
    from server import Settings, create_app
    from server.accounts import issue_admin_token, list_terminals
    from server.db import write_transaction
    from server.models import RATING_OUTPUT_FIELDS
    from server.schema import ratings
    from server_fixtures import LiveServer

    app = create_app(Settings(db_url=db_url, alert_check_interval_s=0))
    live = LiveServer(app)
    try:
        with app.state.engine.connect() as conn, write_transaction(conn):
            token = issue_admin_token(conn, name=f"national-bench-{uuid.uuid4().hex[:6]}", now_ns=time.time_ns())
        browser = log_in(live, token)

        def get(path, params=None, session=browser, headers=None):
            answer = session.get(live.url + path, params=params, headers=headers, timeout=300)
            answer.raise_for_status()
            return answer

        seconds, answer = median_s(lambda: get("/", {"period": "year", "on": ON}), runs)
        table.add(f"dashboard overview of the year ({len(answer.content) / 1e6:.1f} MB page)", f"{seconds:.3f} s",
                  "≤ 1 s", seconds <= 1.0)
        seconds, answer = median_s(lambda: get("/fleet"), runs)
        table.add(f"fleet page, all {len(tree.terminals):,} terminals, unpaged (HTTP)", f"{seconds:.3f} s",
                  "(today)", None)
        province_id = tree.ids_of("province")[0]
        with app.state.engine.connect() as conn:
            seconds, rows = median_s(lambda: list_terminals(conn, node_id=province_id, limit=50, offset=50), runs)
            in_province = sum(t.province_id == province_id for t in tree.terminals)
            table.add(f"fleet data, page 2 (50) of a province's {in_province} terminals", f"{seconds * 1000:.1f} ms",
                      "≤ 300 ms", seconds <= 0.3)
            seconds, rows = median_s(lambda: list_terminals(conn, limit=50, offset=len(tree.terminals) // 2), runs)
            table.add(f"fleet data, page {len(tree.terminals) // 100} (50) of all terminals",
                      f"{seconds * 1000:.1f} ms", "≤ 300 ms", seconds <= 0.3)

        # Pulling: today's unscoped pages over HTTP, and the unit-filtered query of a scoped pull.
        admin = requests.Session()
        headers = {"Authorization": f"Bearer {token}"}
        middle = loaded_ratings(db_url) // 2
        pages = 5
        started = time.perf_counter()
        pulled = 0
        after = middle
        for _ in range(pages):
            body = get("/api/v1/ratings", {"after": after, "limit": 10_000}, session=admin, headers=headers).json()
            pulled += len(body["ratings"])
            after = body["next"]
        http_rate = pulled / (time.perf_counter() - started)
        table.add(f"unscoped pull over HTTP, {pages} pages of 10,000", f"{http_rate:,.0f} r/s", "(today)", None)

        columns = [ratings.c[name] for name in RATING_OUTPUT_FIELDS]

        def page_rate(where, after) -> tuple[float, int]:
            """ratings/s of one page: the query, the rows as dicts, the JSON (the route's work minus HTTP)."""
            with app.state.engine.connect() as conn:
                started = time.perf_counter()
                rows = conn.execute(select(*columns).where(where, ratings.c.cursor > after)
                                    .order_by(ratings.c.cursor).limit(10_001)).mappings().all()
                json.dumps({"ok": True, "ratings": [dict(row) for row in rows[:10_000]]})
                return len(rows) / (time.perf_counter() - started), len(rows)

        unit_id = next(t.unit_id for t in tree.terminals if t.province_id == province_id)
        unscoped = statistics.median(page_rate(ratings.c.cursor > 0, middle + k * 10_000)[0] for k in range(runs))
        scoped, n_unit = page_rate(ratings.c.unit_id == unit_id, 0)
        scoped = statistics.median([scoped] + [page_rate(ratings.c.unit_id == unit_id, 0)[0] for _ in range(runs - 1)])
        table.add("unscoped page of 10,000, query + JSON in process", f"{unscoped:,.0f} r/s", "(today)", None)
        table.add(f"a unit's year ({n_unit:,}) by unit_id + cursor, query + JSON", f"{scoped:,.0f} r/s",
                  "≥ today", scoped >= unscoped)
    finally:
        live.stop()
        app.state.engine.dispose()


def measure_ingest(db_url: str, admin_url: str, steps: int, load: float, table: Table) -> None:
    """The fleet bench's target step on a new empty database and on the loaded one, same cluster."""
    import psycopg
    from sqlalchemy.engine import make_url

    from bench import fleet

    args = argparse.Namespace(terminals=1000, batch=50, load=load, step_s=10.0, p99_ms=250.0, search_steps=0,
                              no_search=True, connections=64, profile=False, timeline=False, repeat=steps,
                              workdir=Path(os.environ.get("TMPDIR", "/tmp")))
    name = f"hl_national_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(psycopg_url(admin_url), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    empty_url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        empty = asyncio.run(fleet.bench_backend("postgresql", empty_url, args))
    finally:
        with psycopg.connect(psycopg_url(admin_url), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    loaded = asyncio.run(fleet.bench_backend("postgresql", db_url, args))
    p99_empty = statistics.median(r.p99_ms for r in empty)
    p99_loaded = statistics.median(r.p99_ms for r in loaded)
    table.add(f"ingest p99, empty database ({steps} steps of {load:,.0f} r/s)", f"{p99_empty:.0f} ms", "(today)",
              None)
    table.add(f"ingest p99, {loaded_ratings(db_url):,} ratings loaded", f"{p99_loaded:.0f} ms",
              "≤ 1.2× today", p99_loaded <= 1.2 * p99_empty)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provinces", type=int, default=34)
    parser.add_argument("--units", type=int, default=100, help="units per province")
    parser.add_argument("--terminals", type=int, default=10_000)
    parser.add_argument("--ratings", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="processes that generate and copy the ratings")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (the median is shown)")
    parser.add_argument("--ingest-steps", type=int, default=3, help="fleet bench steps per database (0: skip)")
    parser.add_argument("--ingest-load", type=float, default=5000, help="ratings/s the fleet bench offers")
    parser.add_argument("--db-url", help="a PostgreSQL database (a role that may create databases, for the "
                                         "ingest comparison); default: a throwaway cluster")
    parser.add_argument("--keep", metavar="DIR", help="keep the cluster in DIR: load it the first time, reuse it after")
    parser.add_argument("--load-only", action="store_true", help="load (or check the kept load) and stop")
    args = parser.parse_args(argv)
    if args.db_url and args.keep:
        parser.error("--db-url and --keep: one or the other")

    started = time.perf_counter()
    tree = national_tree(provinces=args.provinces, units=args.units, terminals=args.terminals, seed=args.seed)
    plan = RatingPlan(tree, args.ratings, seed=args.seed)
    print(f"national bench: {args.provinces} provinces, {len(tree.ids_of('unit')):,} units, "
          f"{len(tree.ids_of('office')):,} offices, {len(tree.ids_of('counter')):,} counters, "
          f"{len(tree.terminals):,} terminals, {args.ratings:,} ratings over {YEAR} "
          f"({len(plan.spans)} opening half-days); {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    cluster = None
    if args.db_url:
        db_url = args.db_url
    else:
        from server_fixtures import ThrowawayPostgres

        cluster = ThrowawayPostgres(durable=True, settings=CLUSTER_SETTINGS, folder=args.keep).start()
        db_url = cluster.url
        print(f"PostgreSQL {cluster.url} ({'kept in ' + args.keep if args.keep else 'throwaway'}, fsync on, "
              f"{', '.join(f'{k}={v}' for k, v in CLUSTER_SETTINGS.items())})", flush=True)
    try:
        held = loaded_ratings(db_url)
        if held == 0:
            print("loading:", flush=True)
            load_started = time.perf_counter()
            load_national(db_url, tree, plan, jobs=args.jobs, progress=lambda line: print(line, flush=True))
            print(f"  {'loaded in':<44}{time.perf_counter() - load_started:>9.1f} s", flush=True)
        elif held >= args.ratings and (args.keep or args.db_url):
            print(f"reusing the loaded database: {held:,} ratings (ingest runs add a few)", flush=True)
        else:
            raise NotEmpty(f"{held:,} ratings")
        total, tables = database_sizes(db_url)
        print(f"database size {total / 1e9:.2f} GB (pg_database_size)")
        print(f"  {'table':<22}{'rows':>14}{'table GB':>10}{'indexes GB':>12}")
        for name, rows, table_bytes, index_bytes in tables:
            print(f"  {name:<22}{rows:>14,}{table_bytes / 1e9:>10.2f}{index_bytes / 1e9:>12.2f}")
        if args.load_only:
            return 0
        table = Table()
        print(f"\nmedians of {args.runs} runs:")
        measure_reports(db_url, tree, args.runs, table)
        measure_http(db_url, tree, args.runs, table)
        if args.ingest_steps:
            measure_ingest(db_url, db_url, args.ingest_steps, args.ingest_load, table)
        table.print(f"National scale: {len(tree.terminals):,} terminals, {held or args.ratings:,} ratings, "
                    f"medians of {args.runs} runs")
    except NotEmpty as exc:
        print(f"the database already holds {exc}: give an empty one, or --keep DIR with a kept load", file=sys.stderr)
        return 2
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"\n(whole run {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

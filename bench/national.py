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
- the dashboard's overview of one province's year (``?node=<its id>``), and the size of both pages;
- the fleet page over HTTP: the first and the last page of all 10,000 terminals, and a page of one
  province's (``?node=01``);
- the tree page and the enrolment-code form of a whole-server account, and the size of each page;
- enrolment: ``--enrolments`` terminals enrolled one after the other over HTTP at a counter (their codes
  issued first), per terminal (the CPU column counts the issuing too); they are deleted after each run;
- pulling: today's unscoped ``GET /api/v1/ratings`` pages over HTTP (ratings/s), and one unit's year
  by the unit-filtered cursor query that a scoped pull runs (ratings/s);
- ingest: bench/fleet.py's target step (1,000 terminals, 5,000 ratings/s) on an empty database and on
  the loaded one, in the same cluster: the ratio of their p99s. Each twice: with rating ids as the terminal
  makes them (UUIDv7, time-ordered) and as terminals made them before (UUIDv4, random; "today").

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

from bench.national_data import PROVINCES, YEAR, RatingPlan, national_tree  # noqa: E402
from bench.national_load import NotEmpty, database_sizes, load_national, loaded_ratings, psycopg_url  # noqa: E402

ON = f"{YEAR}-06-15"  # any day of the year: the year's report
CLUSTER_SETTINGS = {"max_wal_size": "8GB", "shared_buffers": "1GB"}


class Stopwatch:
    """Wall time and CPU time of an action: this process's (client, and uvicorn's thread when the server runs
    in it) plus every process of the PostgreSQL cluster whose postmaster is ``postmaster_pid`` (None: not ours,
    not counted). On a busy machine the wall time waits for a core; the CPU time is what the work costs."""

    def __init__(self, postmaster_pid: int | None):
        self.postmaster_pid = postmaster_pid

    def cluster_cpu_s(self) -> float:
        if self.postmaster_pid is None:
            return 0.0
        from bench.fleet import process_cpu_s

        total = 0.0
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    if ppid == self.postmaster_pid or int(entry.name) == self.postmaster_pid:
                        total += process_cpu_s(int(entry.name))
                except (OSError, ValueError, IndexError):
                    pass
        return total

    def median(self, action, runs: int) -> tuple[float, float, object]:
        """(median wall s, median CPU s, the last result) of ``runs`` runs."""
        walls, cpus, result = [], [], None
        for _ in range(runs):
            cpu0, db0, started = time.process_time(), self.cluster_cpu_s(), time.perf_counter()
            result = action()
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu0 + self.cluster_cpu_s() - db0)
        return statistics.median(walls), statistics.median(cpus), result


def postmaster_pid(cluster) -> int | None:
    try:
        return int(Path(cluster.folder, "data", "postmaster.pid").read_text().split()[0])
    except (AttributeError, TypeError, OSError, ValueError):
        return None


class Table:
    """The figures: what, median wall time, median CPU time, the target, and whether each meets it."""

    def __init__(self):
        self.rows: list[tuple[str, ...]] = []

    def add(self, what: str, wall: str, cpu: str = "", target: str = "", met: tuple = ()) -> None:
        verdicts = " / ".join("pass" if ok else "OVER" for ok in met)
        self.rows.append((what, wall, cpu, target, verdicts))
        print(f"  {what:<62}{wall:>12}{cpu:>12}  {target:<13}{verdicts}", flush=True)

    def add_time(self, what: str, wall_s: float, cpu_s: float, limit_s: float | None = None) -> None:
        ms = limit_s is not None and limit_s < 1
        shown = (lambda x: f"{x * 1000:.0f} ms") if ms else (lambda x: f"{x:.2f} s")
        self.add(what, shown(wall_s), shown(cpu_s), "" if limit_s is None else f"≤ {shown(limit_s)}",
                 () if limit_s is None else (wall_s <= limit_s, cpu_s <= limit_s))

    def print(self, title: str) -> None:
        print(f"\n{title}\n| what | median wall | median CPU | target | met (wall / CPU) |\n|---|---:|---:|---|---|")
        for row in self.rows:
            print(f"| {' | '.join(row)} |")


def measure_reports(db_url: str, tree, runs: int, table: Table, watch: Stopwatch) -> None:
    """The reports a province, the country and a unit read, as the API and the dashboard build them (the
    node's subtree, its children ranked), from the rollups; and each from the hourly tallies alone, the
    way it was read before the rollups (the same figures: the ratio is what the rollups save)."""
    from reports import build_report, parse_period
    from reports.sources import SqlAlchemySource
    from server.db import open_engine
    from server.settings import Settings

    period = parse_period("year", on=ON)
    province_id = tree.ids_of("province")[0]
    unit_id = next(t.unit_id for t in tree.terminals if t.province_id == province_id)
    engine = open_engine(Settings(db_url=db_url))
    try:
        with engine.connect() as conn:
            def report(node, rollups):
                with conn.begin():
                    return build_report(SqlAlchemySource(conn, rollups=rollups), period, node=node,
                                        group_by="children")

            for what, node, limit in (("a province's year report (ranks its units)", province_id, 1.0),
                                      ("the national year report (ranks the provinces)", None, 2.0),
                                      ("a unit's year report (its offices)", unit_id, None)):
                wall, cpu, result = watch.median(lambda: report(node, True), runs)
                table.add_time(f"{what}, {result.total.counted + result.total.filtered:,} ratings", wall, cpu, limit)
                old_wall, old_cpu, before = watch.median(lambda: report(node, False), max(1, runs // 2))
                same = before.to_dict() == result.to_dict()
                table.add(f"  the same from the hourly tallies only ({'same figures' if same else 'DIFFERENT'})",
                          f"{old_wall:.2f} s", f"{old_cpu:.2f} s", f"ratio {old_wall / wall:.1f}×")
    finally:
        engine.dispose()


def build_rollups(db_url: str) -> None:
    """Build the report rollups of a loaded database (what the server's refresher does at its first start)."""
    from server import rollups
    from server.db import open_engine
    from server.settings import Settings

    settings = Settings(db_url=db_url)
    engine = open_engine(settings)
    try:
        with engine.connect() as conn:
            built = rollups.built_zone(conn)
        if built != settings.timezone:
            started = time.perf_counter()
            rollups.rebuild_now(engine, settings.timezone)
            print(f"  {'build the report rollups':<44}{time.perf_counter() - started:>9.1f} s", flush=True)
    finally:
        engine.dispose()


def measure_enrolment(app, live, tree, count: int, runs: int, table: Table, watch: Stopwatch) -> None:
    """``count`` terminals enrolled one after the other over HTTP (``POST /api/v1/enroll``) at a counter of the
    tree, their codes issued beforehand (not timed); the terminals and codes are deleted after each run, so the
    fleet stays as loaded."""
    import requests
    from sqlalchemy import delete, select

    from server.access import Caller
    from server.db import write_transaction
    from server.fleet_actions import issue_codes
    from server.schema import enrollment_codes, nodes, terminals

    with app.state.engine.connect() as conn:
        counter = conn.execute(select(nodes.c.id).where(nodes.c.kind == "counter").order_by(nodes.c.id)
                               .limit(1)).scalar_one()
    bench = Caller(0, "national.bench", "National bench", "province_admin", None)
    session = requests.Session()

    def enrol_all() -> list[str]:
        issued = issue_codes(app.state.engine, f"#{counter}", count=count, ttl_s=3600, caller=bench,
                             now_ns=time.time_ns())
        started = time.perf_counter()
        ids = []
        for code in issued.codes:
            answer = session.post(live.url + "/api/v1/enroll", json={"code": code, "app_version": "bench"}, timeout=60)
            answer.raise_for_status()
            ids.append(answer.json()["terminal_id"])
        timed.append(time.perf_counter() - started)
        with app.state.engine.connect() as conn, write_transaction(conn):
            conn.execute(delete(enrollment_codes).where(enrollment_codes.c.terminal_id.in_(ids)))
            conn.execute(delete(terminals).where(terminals.c.id.in_(ids)))
        return ids

    timed: list[float] = []
    _wall, cpu, _ids = watch.median(enrol_all, runs)
    wall = statistics.median(timed)
    table.add(f"enrolment of {count} terminals one after the other, HTTP, per terminal",
              f"{wall / count * 1000:.0f} ms", f"{cpu / count * 1000:.0f} ms")


def measure_http(db_url: str, tree, runs: int, table: Table, watch: Stopwatch, enrolments: int = 0) -> None:
    import requests
    from sqlalchemy import select

    from dashboard_fixtures import log_in
    from server import Settings, create_app
    from server.accounts import issue_admin_token
    from server.dashboard.pages import FLEET_PAGE_SIZE
    from server.db import write_transaction
    from server.models import RATING_OUTPUT_FIELDS
    from server.people import create_account
    from server.schema import ratings
    from server_fixtures import LiveServer, Person

    app = create_app(Settings(db_url=db_url, alert_check_interval_s=0))
    live = LiveServer(app)
    try:
        username = f"national.bench.{uuid.uuid4().hex[:6]}"
        password = uuid.uuid4().hex
        with app.state.engine.connect() as conn, write_transaction(conn):
            account = create_account(conn, username=username, display_name="National bench", role="province_admin",
                                     scope_node_id=None, password=password, one_time=False, now_ns=time.time_ns())
            token = issue_admin_token(conn, name=username, account_id=account.id, now_ns=time.time_ns())
        browser = log_in(live, Person(account.id, username, password))

        def get(path, params=None, session=browser, headers=None):
            answer = session.get(live.url + path, params=params, headers=headers, timeout=300)
            answer.raise_for_status()
            return answer

        wall, cpu, answer = watch.median(lambda: get("/", {"period": "year", "on": ON}), runs)
        table.add_time(f"dashboard overview of the year, HTTP ({len(answer.content) / 1e6:.2f} MB page)", wall, cpu,
                       1.0)
        province_id = tree.ids_of("province")[0]
        wall, cpu, answer = watch.median(lambda: get("/", {"period": "year", "on": ON, "node": province_id}), runs)
        table.add_time(f"overview of a province's year, HTTP ({len(answer.content) / 1e6:.2f} MB page)", wall, cpu,
                       1.0)
        province_code = PROVINCES[0][0]
        in_province = sum(t.province_id == tree.ids_of("province")[0] for t in tree.terminals)
        pages = -(-len(tree.terminals) // FLEET_PAGE_SIZE)
        for what, params in ((f"fleet page 1 of {len(tree.terminals):,} terminals", {}),
                             (f"fleet page {pages} (the last) of {len(tree.terminals):,}", {"page": pages}),
                             (f"fleet page 2 of a province's {in_province} (?node={province_code})",
                              {"node": province_code, "page": 2})):
            wall, cpu, answer = watch.median(lambda: get("/fleet", params), runs)
            table.add_time(f"{what}, {FLEET_PAGE_SIZE} a page, HTTP", wall, cpu, 0.3)

        for what, path in (("the tree page (Cơ cấu tổ chức)", "/tree"), ("the enrolment-code form", "/tree/codes")):
            wall, cpu, answer = watch.median(lambda: get(path), runs)
            table.add_time(f"{what}, HTTP ({len(answer.content) / 1e6:.2f} MB page)", wall, cpu)
        if enrolments:
            measure_enrolment(app, live, tree, enrolments, runs, table, watch)

        # Pulling: today's unscoped pages over HTTP, and the unit-filtered query of a scoped pull.
        admin = requests.Session()
        headers = {"Authorization": f"Bearer {token}"}
        middle = loaded_ratings(db_url) // 2

        def http_pages(after=middle, pages=5):
            pulled = 0
            for _ in range(pages):
                body = get("/api/v1/ratings", {"after": after, "limit": 10_000}, session=admin, headers=headers).json()
                pulled += len(body["ratings"])
                after = body["next"]
            return pulled

        wall, cpu, pulled = watch.median(http_pages, max(1, runs // 2))
        table.add("unscoped pull over HTTP (today), 5 pages of 10,000", f"{pulled / wall:,.0f} r/s",
                  f"{pulled / cpu:,.0f} r/s")
        http_today = (pulled / wall, pulled / cpu)

        # What a unit's own account pulls: its whole year, over HTTP, with a token scoped to the unit.
        pulled_unit = next(t.unit_id for t in tree.terminals if t.province_id == tree.ids_of("province")[0])
        with app.state.engine.connect() as conn, write_transaction(conn):
            viewer = create_account(conn, username=f"{username}.unit", display_name="National bench, a unit",
                                    role="viewer", scope_node_id=pulled_unit, password=password, one_time=False,
                                    now_ns=time.time_ns())
            unit_token = issue_admin_token(conn, name=f"{username}.unit", account_id=viewer.id, now_ns=time.time_ns())

        def unit_pull():
            pulled, after = 0, 0
            while True:
                body = get("/api/v1/ratings", {"after": after, "limit": 10_000}, session=admin,
                           headers={"Authorization": f"Bearer {unit_token}"}).json()
                pulled += len(body["ratings"])
                if body["next"] is None or not body["ratings"]:
                    return pulled
                after = body["next"]

        wall, cpu, pulled = watch.median(unit_pull, runs)
        table.add(f"a unit's account pulls its year over HTTP ({pulled:,}), scoped token", f"{pulled / wall:,.0f} r/s",
                  f"{pulled / cpu:,.0f} r/s", "≥ today (HTTP)", (pulled / wall >= http_today[0],
                                                                pulled / cpu >= http_today[1]))
        columns = [ratings.c[name] for name in RATING_OUTPUT_FIELDS]

        def page(where, after) -> int:
            """One page: the query, the rows as dicts, the JSON (the route's work minus HTTP)."""
            with app.state.engine.connect() as conn:
                rows = conn.execute(select(*columns).where(where, ratings.c.cursor > after)
                                    .order_by(ratings.c.cursor).limit(10_001)).mappings().all()
                json.dumps({"ok": True, "ratings": [dict(row) for row in rows[:10_000]]})
                return len(rows)

        province_id = tree.ids_of("province")[0]
        unit_id = next(t.unit_id for t in tree.terminals if t.province_id == province_id)
        offsets = iter(range(middle, 10**12, 10_000))
        wall, cpu, n = watch.median(lambda: page(ratings.c.cursor > 0, next(offsets)), runs)
        today = (n / wall, n / cpu)
        table.add("unscoped page of 10,000 (today): query + JSON", f"{n / wall:,.0f} r/s", f"{n / cpu:,.0f} r/s")
        wall, cpu, n = watch.median(lambda: page(ratings.c.unit_id == unit_id, 0), runs)
        table.add(f"a unit's whole year ({n:,}) by unit_id and cursor: query + JSON", f"{n / wall:,.0f} r/s",
                  f"{n / cpu:,.0f} r/s", "≥ today", (n / wall >= today[0], n / cpu >= today[1]))
    finally:
        live.stop()
        app.state.engine.dispose()


def measure_ingest(db_url: str, admin_url: str, steps: int, load: float, table: Table) -> None:
    """The fleet bench's target step on a new empty database and on the loaded one, same cluster, with the
    terminals' rating ids as they make them now (v7) and as they made them before (v4: today's figure)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from bench import fleet

    def bench(url: str, ids: str) -> float:
        args = argparse.Namespace(terminals=1000, batch=50, load=load, step_s=10.0, p99_ms=250.0, search_steps=0,
                                  replicas=1, no_search=True, connections=64, profile=False, timeline=False,
                                  repeat=steps, ids=ids, workdir=Path(os.environ.get("TMPDIR", "/tmp")))
        print(f"-- rating ids {ids}, {'the loaded database' if url == db_url else 'an empty database'}", flush=True)
        return statistics.median(r.p99_ms for r in asyncio.run(fleet.bench_backend("postgresql", url, args)))

    p99 = {}
    for ids in ("v4", "v7"):
        name = f"hl_national_empty_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(psycopg_url(admin_url), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        empty_url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        try:
            p99["empty", ids] = bench(empty_url, ids)
        finally:
            with psycopg.connect(psycopg_url(admin_url), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        p99["loaded", ids] = bench(db_url, ids)
    today = p99["empty", "v4"]
    held = loaded_ratings(db_url)
    where = f"{steps} steps of {load:,.0f} r/s"
    table.add(f"ingest p99, empty database, UUIDv4 ids (today; {where})", f"{today:.0f} ms")
    table.add(f"ingest p99, empty database, UUIDv7 ids ({where})", f"{p99['empty', 'v7']:.0f} ms")
    table.add(f"ingest p99, {held:,} ratings loaded, UUIDv7 ids (the terminal now)", f"{p99['loaded', 'v7']:.0f} ms",
              "", "≤ 1.2 × both empty",
              (p99["loaded", "v7"] <= 1.2 * min(today, p99["empty", "v7"]),))
    table.add(f"ingest p99, {held:,} ratings loaded, UUIDv4 ids (terminals before)", f"{p99['loaded', 'v4']:.0f} ms",
              "", "(for comparison)")


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
    parser.add_argument("--measure", default="reports,http,ingest", help="which measurements (comma-separated)")
    parser.add_argument("--enrolments", type=int, default=20, help="terminals enrolled per run in the http "
                                                                    "measurements (0: skip)")
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
        opened = time.perf_counter()
        held = loaded_ratings(db_url)  # migrates the schema to the newest first
        print(f"opened and migrated in {time.perf_counter() - opened:.1f} s", flush=True)
        if held == 0:
            print("loading:", flush=True)
            load_started = time.perf_counter()
            load_national(db_url, tree, plan, jobs=args.jobs, progress=lambda line: print(line, flush=True))
            print(f"  {'loaded in':<44}{time.perf_counter() - load_started:>9.1f} s", flush=True)
        elif held >= args.ratings and (args.keep or args.db_url):
            print(f"reusing the loaded database: {held:,} ratings (ingest runs add a few)", flush=True)
        else:
            raise NotEmpty(f"{held:,} ratings")
        build_rollups(db_url)
        total, tables = database_sizes(db_url)
        print(f"database size {total / 1e9:.2f} GB (pg_database_size)")
        print(f"  {'table':<22}{'rows':>14}{'table GB':>10}{'indexes GB':>12}")
        for name, rows, table_bytes, index_bytes in tables:
            print(f"  {name:<22}{rows:>14,}{table_bytes / 1e9:>10.2f}{index_bytes / 1e9:>12.2f}")
        if args.load_only:
            return 0
        table = Table()
        print(f"\nmedians of {args.runs} runs (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
        watch = Stopwatch(postmaster_pid(cluster))
        if "reports" in args.measure:
            measure_reports(db_url, tree, args.runs, table, watch)
        if "http" in args.measure:
            measure_http(db_url, tree, args.runs, table, watch, args.enrolments)
        if args.ingest_steps and "ingest" in args.measure:
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

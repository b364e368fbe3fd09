"""Reconnect storm: 1,000 terminals come back within 60 s, each with 500 ratings pending (500,000).

A province's network was down for a day. When it returns, every terminal
reconnects at a random moment within ``--window`` seconds, with the day's
backlog in its file and its saved state saying the last success was a day ago.

Each terminal is the real thing on the terminal's side: a real
:class:`sync.uploader.Uploader` (``run()`` in its own thread, default batch
size and pause, the real session with its retries) over a real
:class:`sync.local.LocalRatings` SQLite file (one per terminal, in a temporary
folder), enrolled over HTTP (``POST /api/v1/enroll``) with codes issued on the
server's database, as ``bench/fleet.py`` does. The server is ``kiosk-server
serve`` in its own process (``--replicas N`` on PostgreSQL: N processes behind
HAProxy, as ``bench/fleet.py`` sets it up). The Uploader's ``drain_spread_s`` and
``outage_s`` keywords are passed only when the Uploader has them (``--drain-spread``,
``--outage``); otherwise its defaults stand. No stand-in was needed: on a 2-core machine
the 1,000 files take about 10 s to write and the 1,000 uploader threads about 12 % of
one core during the storm (the client's CPU is printed with the figures).

During the storm a separate process (so that the terminals' threads cannot delay
it) asks ``GET /healthz`` and a dashboard page (``--page``, logged in as an
administrator made with ``kiosk-server create-admin``) every ~200 ms each.

Figures: time until the server holds every rating; per terminal, when it was done
(from the storm's start: median, last, last/median) and how long from its first
batch to done (median, p99, max); p50/p99/max of the probes; 429 answers the
terminals saw, errors (any other status than 200/429, or no answer), lost ratings
(acknowledged or left pending on the terminals vs the server's count); CPU of the
server, PostgreSQL, HAProxy and this client. Targets (issue 14): probes p99 ≤ 1 s,
last/median ≤ 2, nothing lost. Prints figures, asserts nothing.

    .venv/bin/python bench/reconnect_storm.py [--backend sqlite|postgresql|both] [--replicas N]
        [--terminals 1000] [--pending 500] [--window 60] [--limit-s 900] [--page /]

The storm stops at ``--limit-s`` seconds even if not everything is stored
(then the figures say what was left).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # ThrowawayPostgres and HAProxy live with the test fixtures

from bench import fleet  # noqa: E402
from bench.fleet import (HOST, CpuMeter, HttpPool, enroll_fleet, free_port, issue_codes,  # noqa: E402
                         percentile, start_servers, stop_servers, throwaway_database)
from kiosk.store import new_rating_id  # noqa: E402
from kiosk.timekeeping import Stamp, iso_utc, monotonic_ns  # noqa: E402
from sync.local import LocalRatings  # noqa: E402
from sync.uploader import Uploader, make_session  # noqa: E402

SERVER = [sys.executable, "-c", "from server.cli import main; main()"]
ADMIN = ("bench.storm", "storm bench password 2026")
#: The terminals pretend they booted two days ago (their ratings of yesterday have a positive monotonic time).
BOOTED_AGO_NS = 2 * 86400 * 1_000_000_000


# -- the terminals' files ------------------------------------------------------------------------------

def template_file(folder: Path) -> Path:
    """An empty terminal file with the terminal's and the sync's migrations applied, copied for each terminal."""
    from kiosk.store import RatingStore

    path = folder / "template.db"
    RatingStore(path, terminal_id="template").close()
    LocalRatings(path).close()
    return path


def fill_terminal(template: Path, path: Path, terminal_id: str, boot_id: str, pending: int, now: datetime) -> None:
    """``pending`` sealed ratings of yesterday's opening hours, never synced; the last success a day ago."""
    shutil.copyfile(template, path)
    conn = sqlite3.connect(str(path), isolation_level=None)
    mono_now = monotonic_ns() + BOOTED_AGO_NS
    day_ago = now - timedelta(days=1)
    rows = []
    for i in range(pending):
        age_s = 86400 - i * (8 * 3600 / max(1, pending))  # spread over 8 h, from a day ago on
        rows.append((new_rating_id(), terminal_id, ("very_satisfied", "satisfied", "dissatisfied")[i % 3],
                     "processing_time" if i % 3 == 2 else None, "given" if i % 3 == 2 else None, "button",
                     iso_utc(now - timedelta(seconds=age_s)), boot_id, mono_now - int(age_s * 1e9), 1, 0, 1, None))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO ratings (id, terminal_id, rating, reason, reason_outcome, source, created_at, boot_id, "
        "monotonic_ns, clock_synced, filtered, sealed, synced_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    conn.close()
    local = LocalRatings(path)
    local.save_state({"last_success_at": iso_utc(day_ago), "last_attempt_at": iso_utc(day_ago),
                      "last_error": "cannot reach the server", "failures_in_a_row": 0})
    local.close()


# -- one simulated terminal ---------------------------------------------------------------------------

@dataclass
class Terminal:
    index: int
    id: str
    token: str
    path: Path
    boot_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    comes_back_at: float = 0.0  # seconds after the storm's start
    started_at: float | None = None  # monotonic
    first_batch_at: float | None = None
    done_at: float | None = None
    posts: int = 0
    heartbeats: int = 0
    refused_429: int = 0
    errors: int = 0
    error_samples: list = field(default_factory=list)
    uploader: Uploader | None = None
    local: LocalRatings | None = None

    def stamp(self) -> Stamp:
        return Stamp(created_at=iso_utc(datetime.now(timezone.utc)), boot_id=self.boot_id,
                     monotonic_ns=monotonic_ns() + BOOTED_AGO_NS, clock_synced=1)


def recording_session(terminal: Terminal):
    """The uploader's own session (make_session: its retries, its adapters), its POSTs counted for the figures."""
    session = make_session()
    post = session.post

    def counted_post(url, data=None, **kwargs):
        heartbeat = isinstance(data, bytes) and b'"ratings":[]' in data
        if heartbeat:
            terminal.heartbeats += 1
        elif terminal.first_batch_at is None:
            terminal.first_batch_at = time.monotonic()
        terminal.posts += 1
        try:
            response = post(url, data=data, **kwargs)
        except Exception as exc:
            terminal.errors += 1
            if len(terminal.error_samples) < 3:
                terminal.error_samples.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            raise
        if response.status_code == 429:
            terminal.refused_429 += 1
        elif response.status_code != 200:
            terminal.errors += 1
            if len(terminal.error_samples) < 3:
                terminal.error_samples.append(f"HTTP {response.status_code}")
        return response

    session.post = counted_post
    return session


def make_uploader(terminal: Terminal, url: str, args) -> Uploader:
    local = LocalRatings(terminal.path)
    extra = {}
    accepted = inspect.signature(Uploader).parameters
    if args.drain_spread is not None and "drain_spread_s" in accepted:
        extra["drain_spread_s"] = args.drain_spread
    if args.outage is not None and "outage_s" in accepted:
        extra["outage_s"] = args.outage
    uploader = Uploader(local, server_url=url, token=terminal.token, stamp=terminal.stamp, app_version="bench",
                        session=recording_session(terminal), allow_http=True, **extra)

    def changed(_state, pending: int) -> None:
        if pending == 0 and terminal.done_at is None and terminal.first_batch_at is not None:
            terminal.done_at = time.monotonic()

    uploader.when_changed = changed
    terminal.local = local
    return uploader


# -- the probes (their own process: the terminals' threads must not delay them) ------------------------

def probe(url: str, page: str, go, stop, out, interval_s: float = 0.2) -> None:
    """Log in, then (once ``go`` is set) ask /healthz and ``page`` every ``interval_s`` until ``stop`` is set;
    send the latencies."""
    import re

    import requests

    session = requests.Session()
    answer = session.get(url + "/login", params={"next": page}, timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', answer.text).group(1)
    answer = session.post(url + "/login", data={"username": ADMIN[0], "password": ADMIN[1], "code": "",
                                                "csrf": csrf, "next": page}, allow_redirects=False, timeout=30)
    if answer.status_code != 303:
        out.put(("login failed", answer.status_code, answer.text[:300]))
        return
    health_session = requests.Session()
    results = {"healthz": [], "page": []}
    failures = {"healthz": [], "page": []}
    out.put(("ready",))
    go.wait()

    def loop(name: str, sess, path: str):
        next_at = time.monotonic()
        while not stop.is_set():
            started = time.monotonic()
            try:
                answer = sess.get(url + path, timeout=10, allow_redirects=False)
                ok = answer.status_code == 200
                why = f"HTTP {answer.status_code}"
            except requests.RequestException as exc:
                ok, why = False, type(exc).__name__
            elapsed = time.monotonic() - started
            (results if ok else failures)[name].append(elapsed if ok else why)
            next_at += interval_s
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic() - interval_s)

    threads = [threading.Thread(target=loop, args=("healthz", health_session, "/healthz")),
               threading.Thread(target=loop, args=("page", session, page))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(("done", results, failures))


# -- the storm ----------------------------------------------------------------------------------------

def server_count(engine) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ratings")).scalar_one()


def gate_figures(ports: list[int]) -> dict | None:
    """The admission control's counters of each server process (``GET /healthz``'s ``ingest``), summed; None
    when the server has none (before issue 14)."""
    import requests

    summed = {"admitted": 0, "refused": 0, "processes": 0, "limits": []}
    for port in ports:
        try:
            ingest = requests.get(f"http://{HOST}:{port}/healthz", timeout=10).json().get("ingest")
        except (requests.RequestException, ValueError):
            continue
        if not ingest:
            continue
        summed["admitted"] += ingest.get("admitted", 0)
        summed["refused"] += ingest.get("refused", 0)
        summed["limits"].append(ingest.get("limit"))
        summed["processes"] += 1
    return summed if summed["processes"] else None


def create_admin(db_url: str) -> None:
    subprocess.run([*SERVER, "create-admin", ADMIN[0], "--password-stdin", "--db", db_url], input=ADMIN[1] + "\n",
                   text=True, check=True, capture_output=True, cwd=ROOT)


def code_version() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True,
                              text=True, timeout=10).stdout.strip()[:80]
    except OSError:
        return "unknown"


def storm(name: str, db_url: str, args) -> dict:
    from server.db import open_engine
    from server.settings import Settings

    replicas = args.replicas if name == "postgresql" else 1
    work = Path(tempfile.mkdtemp(prefix=f"storm-{name}-", dir=args.workdir))
    ports = [free_port() for _ in range(replicas)]
    servers = start_servers(db_url, ports, None, work, name)
    server_pids = [s.pid for s in servers]
    balancer = None
    label = name
    threads_started: list[Terminal] = []
    engine = None
    probe_process = None
    try:
        if replicas > 1:
            from balancer import HAProxy
            balancer = HAProxy(ports, folder=work / "haproxy").start()
            label = f"{name}, {replicas} replicas behind HAProxy"
        port = balancer.port if balancer else ports[0]
        url = f"http://{HOST}:{port}"
        create_admin(db_url)
        t0 = time.monotonic()
        codes = issue_codes(db_url, args.terminals)

        async def enroll():
            pool = HttpPool(port, size=32)
            try:
                return await enroll_fleet(pool, codes)
            finally:
                pool.close()
        enrolled = asyncio.run(enroll())
        enrolled_s = time.monotonic() - t0
        t0 = time.monotonic()
        files = work / "terminals"
        files.mkdir()
        template = template_file(work)
        now = datetime.now(timezone.utc)
        rng = random.Random(args.seed)
        terminals = []
        for i, sim in enumerate(enrolled):
            terminal = Terminal(i, sim.id, sim.token, files / f"terminal-{i:04d}.db")
            fill_terminal(template, terminal.path, terminal.id, terminal.boot_id, args.pending, now)
            terminal.comes_back_at = rng.uniform(0, args.window)
            terminals.append(terminal)
        total = args.terminals * args.pending
        print(f"{label}: {args.terminals} terminals enrolled in {enrolled_s:.1f} s; {total:,} pending ratings "
              f"written to their files in {time.monotonic() - t0:.1f} s; coming back within {args.window:.0f} s",
              flush=True)
        engine = open_engine(Settings(db_url=db_url))
        counted_before = server_count(engine)

        # The probes: their own process, logged in before the storm.
        context = multiprocessing.get_context("spawn")
        go_probe, stop_probe, probe_out = context.Event(), context.Event(), context.Queue()
        probe_process = context.Process(target=probe, args=(url, args.page, go_probe, stop_probe, probe_out),
                                        daemon=True)
        probe_process.start()
        first = probe_out.get(timeout=60)
        if first[0] != "ready":
            raise RuntimeError(f"the probe could not log in: {first}")

        uploaders = [make_uploader(t, url, args) for t in terminals]
        for terminal, uploader in zip(terminals, uploaders):
            terminal.uploader = uploader
        order = sorted(terminals, key=lambda t: t.comes_back_at)

        cpu = CpuMeter(server_pids, balancer.process.pid if balancer else None)
        load0 = os.getloadavg()
        start = time.monotonic()
        go_probe.set()

        def come_back():
            for terminal in order:
                delay = start + terminal.comes_back_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                terminal.started_at = time.monotonic()
                terminal.uploader.start()
                threads_started.append(terminal)
        scheduler = threading.Thread(target=come_back, daemon=True)
        scheduler.start()

        stored_at = None
        next_report = start + 10
        count = counted_before
        while True:
            time.sleep(1.0)
            count = server_count(engine) - counted_before
            now_m = time.monotonic()
            done = sum(1 for t in terminals if t.done_at is not None)
            if count >= total and stored_at is None:
                stored_at = now_m
            if now_m >= next_report:
                next_report += 10
                print(f"  {now_m - start:5.0f} s: stored {count:>9,}  terminals back {len(threads_started):>5}  "
                      f"done {done:>5}  429s {sum(t.refused_429 for t in terminals):>6}  "
                      f"errors {sum(t.errors for t in terminals):>5}  load {os.getloadavg()[0]:.1f}", flush=True)
            if stored_at is not None and done == len(terminals):
                break
            if now_m - start > args.limit_s:
                print(f"  stopped at the limit of {args.limit_s:.0f} s", flush=True)
                break
        end = time.monotonic()
        elapsed = end - start
        shares = cpu.shares(elapsed)
        load1 = os.getloadavg()
        stop_probe.set()

        scheduler.join(timeout=args.window + 5)
        for terminal in threads_started:
            terminal.uploader._stop.set()
            terminal.uploader._wake.set()
        for terminal in threads_started:
            terminal.uploader.stop(timeout=10)
        left_pending = sum(t.local.pending_count() for t in terminals)
        kept_aside = sum(t.local.quarantined() for t in terminals)
        acknowledged = total - left_pending - kept_aside
        for t in terminals:
            t.local.close()
        count = server_count(engine) - counted_before

        probes = None
        while probe_process.is_alive() or not probe_out.empty():
            try:
                message = probe_out.get(timeout=15)
            except Exception:  # noqa: BLE001 - the probe died: say so below
                break
            if message[0] == "done":
                probes = message
                break

        gate = gate_figures(ports)

        # -- figures --
        done_from_start = [t.done_at - start for t in terminals if t.done_at is not None]
        first_to_done = [t.done_at - t.first_batch_at for t in terminals
                         if t.done_at is not None and t.first_batch_at is not None]
        median_done = statistics.median(done_from_start) if done_from_start else float("nan")
        last_done = max(done_from_start) if done_from_start else float("nan")
        ratio = last_done / median_done if done_from_start else float("nan")
        refused = sum(t.refused_429 for t in terminals)
        errors = sum(t.errors for t in terminals)
        samples = sorted({s for t in terminals for s in t.error_samples})[:5]
        not_done = sum(1 for t in terminals if t.done_at is None)
        lost = max(0, acknowledged - count)

        print(f"{label} — code {args.code}")
        print(f"  everything stored      : {f'{stored_at - start:.1f} s' if stored_at else 'NOT within the run'}"
              f"  (server holds {count:,} of {total:,}; {total / (stored_at - start):,.0f} ratings/s overall)"
              if stored_at else
              f"  everything stored      : NOT within {elapsed:.0f} s (server holds {count:,} of {total:,})")
        print(f"  terminal done (from the storm's start): median {median_done:.1f} s, last {last_done:.1f} s, "
              f"last/median {ratio:.2f} (target ≤ 2: {'met' if ratio <= 2 else 'MISSED'})"
              f"{f'; {not_done} terminal(s) never done' if not_done else ''}")
        if first_to_done:
            print(f"  first batch → done     : median {statistics.median(first_to_done):.1f} s, "
                  f"p99 {percentile(first_to_done, 0.99):.1f} s, max {max(first_to_done):.1f} s")
        posts = sum(t.posts for t in terminals)
        print(f"  requests               : {posts:,} POSTs ({sum(t.heartbeats for t in terminals):,} heartbeats), "
              f"429 answers {refused:,}, errors {errors:,}{' (' + '; '.join(samples) + ')' if samples else ''}")
        print(f"  lost                   : {lost:,} (acknowledged {acknowledged:,}, server {count:,}, still pending "
              f"on terminals {left_pending:,}, kept aside {kept_aside:,}) — "
              f"{'none' if lost == 0 and left_pending == 0 and count == total else 'NOT all delivered'}")
        if probes:
            _done, results, failures = probes
            for name_, path in (("healthz", "/healthz"), ("page", args.page)):
                values = results[name_]
                failed = failures[name_]
                p99 = percentile(values, 0.99) * 1000 if values else float("nan")
                print(f"  GET {path:<19}: {len(values)} answered, p50 {percentile(values, 0.5) * 1000:.0f} ms, "
                      f"p99 {p99:.0f} ms, max {max(values, default=float('nan')) * 1000:.0f} ms"
                      f"{f', {len(failed)} failed ({sorted(set(map(str, failed)))[:3]})' if failed else ''} "
                      f"(target p99 ≤ 1 s: {'met' if p99 <= 1000 and not failed else 'MISSED'})")
        else:
            print("  probes                 : no figures (the probe process did not report)")
        if gate:
            print(f"  the servers' gate      : admitted {gate['admitted']:,}, refused {gate['refused']:,} "
                  f"(GET /healthz's ingest figures, summed over {gate['processes']} process(es); limit now "
                  f"{gate['limits']})")
        db_cpu, balancer_cpu = shares["db_cpu"], shares["balancer_cpu"]
        print(f"  CPU (of one core)      : server {shares['server_cpu']:.0%}"
              f"{f' postgres {db_cpu:.0%}' if db_cpu else ''}{f' haproxy {balancer_cpu:.0%}' if balancer else ''}"
              f" client {shares['client_cpu']:.0%}; load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end "
              f"(1 min), {load1[1]:.2f} (5 min)", flush=True)
        return {"stored_s": (stored_at - start) if stored_at else None, "ratio": ratio, "lost": lost,
                "left_pending": left_pending, "count": count, "refused": refused, "errors": errors}
    finally:
        if probe_process is not None and probe_process.is_alive():
            probe_process.terminate()
        for terminal in threads_started:
            terminal.uploader._stop.set()
            terminal.uploader._wake.set()
        if engine is not None:
            engine.dispose()
        if balancer is not None:
            balancer.stop()
        stop_servers(servers)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run_backend(name: str, args) -> dict:
    if name == "sqlite":
        fleet.DB_POSTMASTER = 0  # no database process to count (other people's PostgreSQL is not ours)
        return storm(name, f"sqlite:///{args.workdir / 'server.db'}", args)

    cluster = None
    admin_url = args.postgres_url
    if admin_url is None:
        from server_fixtures import ThrowawayPostgres
        cluster = ThrowawayPostgres(durable=True).start()
        admin_url = cluster.url
    fleet.DB_POSTMASTER = fleet.postmaster_pid(cluster) if cluster is not None else None
    try:
        with throwaway_database(admin_url, "hl_storm") as url:
            return storm(name, url, args)
    finally:
        if cluster is not None:
            cluster.stop()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--replicas", type=int, default=1, help="PostgreSQL: server processes behind HAProxy")
    parser.add_argument("--terminals", type=int, default=1000)
    parser.add_argument("--pending", type=int, default=500, help="ratings pending on each terminal")
    parser.add_argument("--window", type=float, default=60.0, help="terminals come back within this many seconds")
    parser.add_argument("--limit-s", type=float, default=900.0, help="stop the storm after this many seconds")
    parser.add_argument("--page", default="/", help="the dashboard page probed during the storm")
    parser.add_argument("--drain-spread", type=float, default=None,
                        help="the Uploader's drain_spread_s (when it has one; default: its own default)")
    parser.add_argument("--outage", type=float, default=None,
                        help="the Uploader's outage_s (when it has one; default: its own default)")
    parser.add_argument("--postgres-url", help="a PostgreSQL role that may create databases; default: a throwaway "
                                               "cluster (fsync on)")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (server logs, files)")
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas: at least 1")
    if args.replicas > 1 and args.backend != "postgresql":
        parser.error("--replicas above 1 needs --backend postgresql: a SQLite file is served by one process")
    if args.terminals < 1 or args.pending < 1:
        parser.error("--terminals and --pending: at least 1")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    # A thousand uploaders' "sync failed" warnings would drown the figures: the bench counts them itself.
    logging.getLogger("sync").setLevel(logging.ERROR)
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # a file and a socket per terminal, and SQLite's WAL
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    threading.stack_size(512 * 1024)  # a thousand uploader threads: small stacks are plenty
    print(f"reconnect storm: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.terminals} terminals × "
          f"{args.pending} pending, window {args.window:.0f} s; load average {os.getloadavg()[0]:.2f}", flush=True)
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    args.workdir = Path(tempfile.mkdtemp(prefix="storm-", dir=ROOT / "var" / "bench"))
    args.code = code_version()  # at the start: a commit made during a long run is not what ran
    results = {}
    try:
        for name in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
            results[name] = run_backend(name, args)
    finally:
        if args.keep:
            print(f"kept {args.workdir}")
        else:
            shutil.rmtree(args.workdir, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()

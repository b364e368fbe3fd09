"""Fleet load: 1,000 terminals upload batches of 50 at random moments to one server process (or several).

Each simulated terminal is enrolled over HTTP, then uploads batches of 50
ratings at Poisson-distributed moments, so that the fleet offers a total load
(5,000 ratings/s by default). A terminal sends one batch at a time, as the real
uploader does; a batch due while its previous one is still in flight waits,
and its latency is counted from the moment it was due (no coordinated omission).

The server is ``kiosk-server serve`` in a separate process (one uvicorn worker,
uvloop + httptools, no access log), on 127.0.0.1; the client is asyncio with a
small raw HTTP/1.1 client over a pool of keep-alive connections (so the client
costs little CPU on this 2-core machine). Backends: SQLite (a file under
var/bench, WAL, synchronous=FULL) and PostgreSQL (a throwaway cluster with
fsync on, or --postgres-url).

``--replicas N`` (PostgreSQL): N server processes, started at the same moment on the
empty database, behind HAProxy (Debian's ``haproxy``; round robin, as
``tests/balancer.py`` sets it up), and the same load goes through the balancer.
The server CPU is then the replicas' sum; the balancer's is shown apart.

For each backend: the target step, then a search for the highest offered load
whose p99 stays ≤ 250 ms with ≥ 95 % of it achieved and no errors (a 429, the server
shedding load, is not an error but is not achieved either; ×1.5 up,
then bisection). Every step lasts --step-s seconds of arrivals (default 10) plus
at most 8 s to drain. Prints figures; asserts nothing.

    .venv/bin/python bench/fleet.py [--backend sqlite|postgresql|both] [--terminals 1000] [--batch 50]
        [--load 5000] [--step-s 10] [--p99-ms 250] [--repeat N] [--postgres-url URL] [--replicas N] [--profile]
        [--timeline] [--keep] [--rollout PCT] [--overload 1.5,3 [--capacity R] [--retry-window-s 60]]

``--overload 1.5,3`` (issue 14): past the knee. After the search (or at ``--capacity R``
without it), one step per multiple of the capacity: p50/p99 of the accepted batches
(target ≤ 250 ms; from when the batch was due), the 429 answers (count,
p50/p99/max from when the request went out; target ≤ 20 ms), errors
(any other answer, or none), and lost ratings (acknowledged "stored" vs the rows the
server's ratings table gained, read on the database). A batch answered 429 is NOT
counted as shed and forgotten: its terminal waits Retry-After plus jitter (0..25 %,
at least 0..1 s) and sends the same batch again, until it is stored or
``--retry-window-s`` after the arrivals stop; the table says how many batches were
stored in the end, and how long from due to stored (delivery). A multiple given more than once
(``--overload 1.5,3,1.5,3,1.5,3``) is run that many times, and the median of its figures is printed.

A step passes when every batch was stored (no error, none unfinished), p99 ≤ the
limit, and at least 95 % of the load actually drawn was achieved. The arrival
pattern is seeded, so runs are comparable; its bursts (up to ~2× the mean rate
over 100 ms) are what the p99 measures. The client's garbage collector is off
during a step so that its pauses are not counted as server latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # ThrowawayPostgres lives with the test fixtures

from kiosk.store import new_rating_id  # noqa: E402

HOST = "127.0.0.1"
DRAIN_S = 8.0


# -- a minimal HTTP/1.1 client over asyncio streams ------------------------------------------------

class HttpPool:
    """Keep-alive connections to one host, reused by any task; a stale one is replaced once."""

    def __init__(self, port: int, size: int):
        self.port = port
        self.size = size
        self.idle: asyncio.Queue = asyncio.Queue()
        self.opened = 0
        self.slots = asyncio.Semaphore(size)

    async def _open(self):
        self.opened += 1
        return await asyncio.open_connection(HOST, self.port)

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None,
                      answer_headers: dict | None = None):
        """(status, body) of one request; ``answer_headers``, when given, receives the answer's headers (lower case)."""
        head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}", f"Content-Length: {len(body)}"]
        if body:
            head.append("Content-Type: application/json")
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        data = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        async with self.slots:
            for attempt in range(2):
                reused = not self.idle.empty()
                reader, writer = self.idle.get_nowait() if reused else await self._open()
                if answer_headers is not None:
                    answer_headers[":sent"] = time.monotonic()  # after the wait for a connection
                try:
                    writer.write(data)
                    status_line = await reader.readline()
                    if not status_line:
                        raise ConnectionResetError("closed by the server")
                    status = int(status_line.split()[1])
                    length, close = 0, False
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        name, _, value = line.decode("latin-1").partition(":")
                        name = name.strip().lower()
                        if answer_headers is not None:
                            answer_headers[name] = value.strip()
                        if name == "content-length":
                            length = int(value)
                        elif name == "connection" and value.strip().lower() == "close":
                            close = True
                    payload = await reader.readexactly(length)
                except (ConnectionError, asyncio.IncompleteReadError, OSError):
                    writer.close()
                    if reused and attempt == 0:
                        continue  # the server closed an idle connection: try a fresh one
                    raise
                if close:
                    writer.close()
                else:
                    self.idle.put_nowait((reader, writer))
                return status, payload
        raise ConnectionError("unreachable")

    def close(self):
        while not self.idle.empty():
            self.idle.get_nowait()[1].close()


# -- the simulated fleet -------------------------------------------------------------------------------

@dataclass
class SimTerminal:
    id: str
    token: str
    make_id: Callable[[], str] = new_rating_id
    boot_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.monotonic)

    def batch(self, size: int) -> bytes:
        now_ns = time.monotonic_ns()
        base = int((self.started - 3600) * 1e9)  # pretend the terminal booted an hour before the run
        mono = now_ns - base
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        ratings = [{"id": self.make_id(), "terminal_id": self.id,
                    "rating": ("very_satisfied", "satisfied", "dissatisfied")[i % 3],
                    "reason": "processing_time" if i % 3 == 2 else None,
                    "reason_outcome": "given" if i % 3 == 2 else None,
                    "source": "button", "created_at": created, "boot_id": self.boot_id,
                    "monotonic_ns": mono - (size - i) * 1_000_000, "clock_synced": 1, "filtered": 0}
                   for i in range(size)]
        return json.dumps({"sent_at": created, "boot_id": self.boot_id, "monotonic_ns": mono,
                           "health": {"pending": size, "app_version": "bench", "clock_synced": True},
                           "ratings": ratings}).encode()


@dataclass
class StepResult:
    offered: float
    achieved: float
    p50_ms: float
    p99_ms: float
    batches: int
    errors: int
    late: int
    server_cpu: float
    balancer_cpu: float
    client_cpu: float
    db_cpu: float
    scheduled: float  # ratings/s the Poisson draw actually offered in this step
    refused: int = 0  # batches answered 429 (shed, not retried in a search step; they lower ``achieved``)


    def passed(self, p99_limit_ms: float) -> bool:
        return (self.errors == 0 and self.late == 0 and self.p99_ms <= p99_limit_ms
                and self.achieved >= 0.95 * self.scheduled)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


#: Whose PostgreSQL processes count as the database's CPU: None, every one on the machine (a cluster given by
#: --postgres-url); a pid, that postmaster and its children only (the bench's own cluster: other people's
#: clusters on a shared machine are not ours); 0, none (SQLite).
DB_POSTMASTER: int | None = None


def postmaster_pid(cluster) -> int | None:
    """The postmaster of a ThrowawayPostgres (its data folder's postmaster.pid), or None if it cannot be read."""
    try:
        return int((Path(cluster.folder) / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def db_cpu_s() -> dict[int, float]:
    """CPU seconds of each PostgreSQL process counted (see :data:`DB_POSTMASTER`; none with SQLite)."""
    found = {}
    if DB_POSTMASTER == 0:
        return found
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() not in ("postgres", "postmaster"):
                    continue
                pid = int(entry.name)
                if DB_POSTMASTER is not None and pid != DB_POSTMASTER and \
                        int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != DB_POSTMASTER:
                    continue
                found[pid] = process_cpu_s(pid)
            except (OSError, ValueError, IndexError):
                pass
    return found


def db_cpu_delta(before: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in db_cpu_s().items())


def processes_cpu_s(pids: list[int]) -> float:
    return sum(process_cpu_s(pid) for pid in pids)


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def throwaway_database(admin_url: str, prefix: str):
    """A new PostgreSQL database on ``admin_url``'s server, named ``prefix`` and a random suffix, dropped after
    use; yields its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class CpuMeter:
    """CPU used from now on by the server processes, the balancer, the database (:func:`db_cpu_s`) and this
    client; :meth:`shares` gives each as cores busy on average over ``elapsed`` seconds."""

    def __init__(self, server_pids: list[int], balancer_pid: int | None = None):
        self.server_pids, self.balancer_pids = list(server_pids), [balancer_pid] if balancer_pid else []
        self.server0, self.balancer0 = processes_cpu_s(self.server_pids), processes_cpu_s(self.balancer_pids)
        self.db0, self.client0 = db_cpu_s(), time.process_time()

    def shares(self, elapsed: float) -> dict[str, float]:
        return {"server_cpu": (processes_cpu_s(self.server_pids) - self.server0) / elapsed,
                "balancer_cpu": (processes_cpu_s(self.balancer_pids) - self.balancer0) / elapsed,
                "db_cpu": db_cpu_delta(self.db0) / elapsed,
                "client_cpu": (time.process_time() - self.client0) / elapsed}


async def run_fleet(terminal_loop, fleet: list, *, until: float) -> int:
    """Run ``terminal_loop(terminal)`` for every terminal until the monotonic time ``until``; the ones still
    running then are cancelled. Returns how many were (unfinished)."""
    tasks = [asyncio.ensure_future(terminal_loop(t)) for t in fleet]
    _done, pending = await asyncio.wait(tasks, timeout=max(0.0, until - time.monotonic()))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return len(pending)


async def run_step(pool: HttpPool, fleet: list[SimTerminal], *, offered: float, batch_size: int,
                   step_s: float, server_pids: list[int], balancer_pid: int | None = None,
                   timeline_out: bool = False) -> StepResult:
    rate_per_terminal = offered / batch_size / len(fleet)
    latencies: list[float] = []
    timeline: list[tuple[float, float]] = []
    counts = {"ratings": 0, "errors": 0, "batches": 0, "refused": 0}
    scheduled = [0]
    last_done = [0.0]
    start = time.monotonic() + 0.2
    end = start + step_s
    rng = random.Random(20261125)  # the same arrival pattern, scaled, at every load

    async def terminal_loop(terminal: SimTerminal):
        due = start + rng.expovariate(rate_per_terminal)
        headers = {"Authorization": f"Bearer {terminal.token}"}
        while due < end:
            scheduled[0] += 1
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            body = terminal.batch(batch_size)
            status = None
            try:
                status, payload = await pool.request("POST", "/api/v1/batches", body, headers)
                ok = status == 200 and payload.count(b'"stored"') == batch_size
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                ok = False
            done = time.monotonic()
            counts["batches"] += 1
            if ok:
                counts["ratings"] += batch_size
                latencies.append(done - due)
                timeline.append((due - start, done - due))
                last_done[0] = max(last_done[0], done)
            elif status == 429:  # shed by the server's admission control (issue 14): not stored, not an error
                counts["refused"] += 1
            else:
                counts["errors"] += 1
            due += rng.expovariate(rate_per_terminal)

    # The client's own garbage collector must not stall its event loop mid-step (that would show up
    # as server latency): nothing it allocates per request is cyclic, so it is off during a step.
    gc.collect()
    gc.disable()
    cpu = CpuMeter(server_pids, balancer_pid)
    unfinished = await run_fleet(terminal_loop, fleet, until=end + DRAIN_S)
    gc.enable()
    elapsed = max(end, last_done[0]) - start
    if timeline_out:
        slow = sorted(timeline, key=lambda item: -item[1])[:15]
        print("    slowest (due s, latency ms):", " ".join(f"{t:.2f}/{l*1000:.0f}" for t, l in sorted(slow)))
        per_window = {}
        for t, _l in timeline:
            per_window[int(t * 10)] = per_window.get(int(t * 10), 0) + 1
        busiest = sorted(per_window.items(), key=lambda item: -item[1])[:5]
        print("    busiest 100 ms windows (s: arrivals):", " ".join(f"{k / 10:.1f}: {v}" for k, v in busiest))
    return StepResult(offered=offered, achieved=counts["ratings"] / elapsed,
                      p50_ms=percentile(latencies, 0.50) * 1000, p99_ms=percentile(latencies, 0.99) * 1000,
                      batches=counts["batches"], errors=counts["errors"], late=unfinished, refused=counts["refused"],
                      scheduled=scheduled[0] * batch_size / step_s, **cpu.shares(elapsed))


@dataclass
class OverloadResult:
    """One step past the knee: what was accepted, what was answered 429, and whether all of it got stored."""

    multiple: float
    offered: float
    scheduled: float
    batches: int  # batches offered (each counted once, however many times it was sent)
    accepted_ms: list[float]
    first_try: int  # batches accepted at their first attempt
    refused_ms: list[float]  # every 429 answer
    errors: int
    error_kinds: dict
    delivered: int  # batches acknowledged in the end (first try or after waiting Retry-After)
    delivery_s: list[float]  # from when each delivered batch was due to its acknowledgement
    acked_stored: int  # ratings acknowledged "stored"
    acked_other: int  # ratings acknowledged "duplicate" (a batch resent after a lost answer)
    server_rows: int  # rows the server's ratings table gained in the step
    undelivered: int  # batches still not acknowledged when the step gave up
    achieved: float  # ratings/s acknowledged while the arrivals lasted
    retry_after_s: list[float]
    elapsed: float
    server_cpu: float
    balancer_cpu: float
    db_cpu: float
    client_cpu: float

    @property
    def lost(self) -> int:
        return max(0, self.acked_stored - self.server_rows)


def ratings_rows(db_url: str) -> int:
    """Rows of the server's ratings table, read on the database directly."""
    from sqlalchemy import text

    from server.db import open_engine
    from server.settings import Settings

    engine = open_engine(Settings(db_url=db_url))
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM ratings")).scalar_one()
    finally:
        engine.dispose()


async def run_overload_step(pool: HttpPool, fleet: list[SimTerminal], *, multiple: float, offered: float,
                            batch_size: int, step_s: float, retry_window_s: float, db_url: str,
                            server_pids: list[int], balancer_pid: int | None = None) -> OverloadResult:
    """Offer ``offered`` ratings/s for ``step_s`` s; a batch answered 429 waits its Retry-After (plus the
    terminal's jitter: uniform 0..25 % of it, at least 0..1 s) and is sent again, the same batch, until it is
    stored or ``retry_window_s`` after the arrivals stop. Any other answer than 200/429, or none, is an error,
    retried after 1 s as a terminal would. Accepted latency runs from when the batch was due, or from the end of
    the terminal's last server-requested wait (a wait the server asked for is not server latency)."""
    rate_per_terminal = offered / batch_size / len(fleet)
    rows0 = ratings_rows(db_url)
    r = OverloadResult(multiple=multiple, offered=offered, scheduled=0.0, batches=0, accepted_ms=[], first_try=0,
                       refused_ms=[], errors=0, error_kinds={}, delivered=0, delivery_s=[], acked_stored=0,
                       acked_other=0, server_rows=0, undelivered=0, achieved=0.0, retry_after_s=[], elapsed=0.0,
                       server_cpu=0.0, balancer_cpu=0.0, db_cpu=0.0, client_cpu=0.0)
    start = time.monotonic() + 0.2
    end = start + step_s
    give_up = end + retry_window_s
    acked_in_step = [0]
    rng = random.Random(20261125)
    jitter = random.Random(20261203)

    async def terminal_loop(terminal: SimTerminal):
        due = start + rng.expovariate(rate_per_terminal)
        headers = {"Authorization": f"Bearer {terminal.token}"}
        waited_until = 0.0
        while due < end:
            r.batches += 1
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            body = terminal.batch(batch_size)
            attempt = 0
            delivered = False
            while time.monotonic() < give_up:
                attempt += 1
                ref = max(due, waited_until)
                answer: dict = {}
                try:
                    status, payload = await pool.request("POST", "/api/v1/batches", body, headers, answer)
                except (OSError, ConnectionError, asyncio.IncompleteReadError) as exc:
                    status, payload = None, type(exc).__name__
                done = time.monotonic()
                sent = answer.get(":sent", ref)
                if status == 200:
                    stored, duplicate = payload.count(b'"stored"'), payload.count(b'"duplicate"')
                    if stored + duplicate == batch_size:
                        r.acked_stored += stored
                        r.acked_other += duplicate
                        r.accepted_ms.append((done - ref) * 1000)
                        r.first_try += attempt == 1
                        r.delivered += 1
                        r.delivery_s.append(done - due)
                        if done <= end:
                            acked_in_step[0] += batch_size
                        delivered = True
                        break
                    status = "200 without every id stored"
                if status == 429:
                    # From when it went out: a real terminal has its own connection, the wait for one of the
                    # bench's shared connections is not the server's answer time.
                    r.refused_ms.append((done - sent) * 1000)
                    try:
                        wait = max(0.0, float(answer.get("retry-after", "1")))
                    except ValueError:
                        wait = 1.0
                    r.retry_after_s.append(wait)
                    wait += jitter.uniform(0, max(1.0, 0.25 * wait))
                else:
                    r.errors += 1
                    kind = str(status)
                    r.error_kinds[kind] = r.error_kinds.get(kind, 0) + 1
                    wait = 1.0
                await asyncio.sleep(min(wait, max(0.0, give_up - time.monotonic())))
                waited_until = time.monotonic()
            if not delivered:
                r.undelivered += 1
            due += rng.expovariate(rate_per_terminal)  # one due during a wait goes after it (``ref``)

    gc.collect()
    gc.disable()
    cpu = CpuMeter(server_pids, balancer_pid)
    unfinished = await run_fleet(terminal_loop, fleet, until=give_up + DRAIN_S)
    gc.enable()
    r.undelivered += unfinished
    r.elapsed = time.monotonic() - start
    r.scheduled = r.batches * batch_size / step_s
    r.achieved = acked_in_step[0] / step_s
    for name, share in cpu.shares(r.elapsed).items():
        setattr(r, name, share)
    r.server_rows = ratings_rows(db_url) - rows0
    return r


def show_overload(name: str, results: list[OverloadResult], capacity: float, retry_window_s: float) -> None:
    """The overload table of one backend: one line per multiple, then the targets."""
    def ms(values, q):
        return f"{percentile(values, q):.0f}" if values else "-"
    print(f"{name}: past the knee (capacity {capacity:,.0f} ratings/s); a 429'd batch waits Retry-After + jitter and "
          f"is sent again (the same batch), until {retry_window_s:.0f} s after the arrivals stop")
    print(f"  {'load':>5} {'offered':>8} {'batches':>7} | {'accepted p50/p99 ms':>19} {'1st try':>7} "
          f"| {'429s':>6} {'p50/p99/max ms':>15} {'Retry-After p50/max s':>21} | {'errors':>6} "
          f"| {'stored in the end':>17} {'delivery p50/p99 s':>18} | {'lost':>4} | achieved r/s  cpu")
    for r in results:
        print(f"  {r.multiple:>4.1f}x {r.offered:>8,.0f} {r.batches:>7} | "
              f"{ms(r.accepted_ms, .5):>9}/{ms(r.accepted_ms, .99):>9} {r.first_try:>7} | "
              f"{len(r.refused_ms):>6} {ms(r.refused_ms, .5):>4}/{ms(r.refused_ms, .99):>4}/"
              f"{(f'{max(r.refused_ms):.0f}' if r.refused_ms else '-'):>5} "
              f"{(f'{percentile(r.retry_after_s, .5):.0f}/{max(r.retry_after_s):.0f}' if r.retry_after_s else '-'):>21} | "
              f"{r.errors:>6} | {r.delivered:>7}/{r.batches:<7}{'' if not r.undelivered else '!':<2} "
              f"{(f'{percentile(r.delivery_s, .5):.1f}/{percentile(r.delivery_s, .99):.1f}' if r.delivery_s else '-'):>18} | "
              f"{r.lost:>4} | {r.achieved:>8,.0f}  server {r.server_cpu:.0%}"
              f"{f' haproxy {r.balancer_cpu:.0%}' if r.balancer_cpu else ''}"
              f"{f' postgres {r.db_cpu:.0%}' if r.db_cpu else ''} client {r.client_cpu:.0%}", flush=True)
        if r.error_kinds:
            print(f"        errors by kind: {r.error_kinds}")
        if r.acked_other or r.server_rows != r.acked_stored:
            print(f"        acknowledged stored {r.acked_stored:,}, duplicate {r.acked_other:,}; "
                  f"the server's table gained {r.server_rows:,}")
    repeated = {m: [r for r in results if r.multiple == m] for m in dict.fromkeys(r.multiple for r in results)}
    for multiple, same in repeated.items():
        if len(same) > 1:  # e.g. --overload 1.5,3,1.5,3,1.5,3: the median of each figure over the steps
            def median_of(values):
                return statistics.median(values) if values else float("nan")
            print(f"  {multiple:.1f}x, median of {len(same)} steps: accepted p99 "
                  f"{median_of([percentile(r.accepted_ms, .99) for r in same if r.accepted_ms]):.0f} ms, 429s "
                  f"{median_of([len(r.refused_ms) for r in same]):.0f} with p99 "
                  f"{median_of([percentile(r.refused_ms, .99) for r in same if r.refused_ms]):.0f} ms, errors "
                  f"{median_of([r.errors for r in same]):.0f}, lost {sum(r.lost for r in same)} in all, "
                  f"{sum(r.undelivered for r in same)} batch(es) never stored", flush=True)
    for r in results:
        p99_ok = bool(r.accepted_ms) and percentile(r.accepted_ms, .99) <= 250
        refused_ok = not r.refused_ms or percentile(r.refused_ms, .99) <= 20
        verdicts = [f"accepted p99 ≤ 250 ms {'met' if p99_ok else 'MISSED'}",
                    f"429 p99 ≤ 20 ms {'met' if refused_ok else 'MISSED'}",
                    f"errors 0 {'met' if r.errors == 0 else 'MISSED'}",
                    f"lost 0 {'met' if r.lost == 0 else 'MISSED'}",
                    f"all stored in the end {'yes' if r.undelivered == 0 else f'NO ({r.undelivered} batches not)'}"]
        print(f"  {r.multiple:.1f}x: " + "; ".join(verdicts), flush=True)


def show(label: str, r: StepResult, p99_limit_ms: float) -> None:
    verdict = "ok" if r.passed(p99_limit_ms) else "MISSED"
    print(f"  {label:<6} offered {r.offered:>6,.0f} r/s (drawn {r.scheduled:>6,.0f})  achieved {r.achieved:>8,.0f} r/s  "
          f"p50 {r.p50_ms:>7.1f} ms  p99 {r.p99_ms:>7.1f} ms  batches {r.batches:>5}  errors {r.errors}"
          f"{f'  429s {r.refused}' if r.refused else ''}"
          f"{f'  unfinished {r.late}' if r.late else ''}  cpu server {r.server_cpu:.0%}"
          f"{f' haproxy {r.balancer_cpu:.0%}' if r.balancer_cpu else ''}"
          f"{f' postgres {r.db_cpu:.0%}' if r.db_cpu else ''} client {r.client_cpu:.0%}"
          f"  {verdict}", flush=True)


# -- server process ---------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_servers(db_url: str, ports: list[int], profile_to: str | None, log_folder: Path,
                  name: str) -> list[subprocess.Popen]:
    """``kiosk-server serve`` on each port, all started at once, then each waited for."""
    launched = []
    try:
        for i, port in enumerate(ports):
            launched.append(launch_server(db_url, port, profile_to if i == 0 else None,
                                          log_folder / f"server-{name}-{i + 1}.log"))
        for process, port, i in zip(launched, ports, range(len(ports))):
            wait_listening(process, port, log_folder / f"server-{name}-{i + 1}.log")
    except BaseException:
        for process in launched:
            process.kill()
        raise
    return launched


#: --profile-threads: every other thread of the server (the worker threads that store batches) gets a
#: cProfile of its own, started by threading.setprofile at its first call; merged into one file at the end.
PROFILE_THREADS = False
_THREAD_PROFILES = (
    "import atexit, cProfile, pstats, threading\n"
    "_profiles = []\n"
    "def _start_thread_profile(frame, event, arg):\n"
    "    profile = cProfile.Profile(); _profiles.append(profile); profile.enable()\n"
    "threading.setprofile(_start_thread_profile)\n"
    "def _dump_thread_profiles():\n"
    "    stats = None\n"
    "    for profile in list(_profiles):\n"
    "        profile.create_stats()\n"
    "        if profile.stats:\n"
    "            stats = pstats.Stats(profile) if stats is None else (stats.add(profile) or stats)\n"
    "    if stats is not None: stats.dump_stats({to!r})\n"
    "atexit.register(_dump_thread_profiles)\n")


def stop_servers(servers: list[subprocess.Popen]) -> None:
    """Ctrl-C to every server process at once, then wait for each (killed after 30 s)."""
    for server in servers:
        server.send_signal(2)
    for server in servers:
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def launch_server(db_url: str, port: int, profile_to: str | None, log_path: Path) -> subprocess.Popen:
    code = "from server.cli import main; main()"
    if profile_to:
        code = (f"import cProfile, signal, sys; from server.cli import main\n"
                f"p = cProfile.Profile(); p.enable()\n"
                f"try: main()\nexcept SystemExit: pass\nfinally:\n    p.disable(); p.dump_stats({profile_to!r})")
        if PROFILE_THREADS:
            code = _THREAD_PROFILES.format(to=profile_to.replace(".prof", "-threads.prof")) + code
    return subprocess.Popen([sys.executable, "-c", code, "serve", "--host", HOST, "--port", str(port),
                             "--db", db_url, "--no-access-log"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=log_path.open("w"))


def wait_listening(process: subprocess.Popen, port: int, log_path: Path) -> subprocess.Popen:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server did not start: {log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start within 60 s")


def issue_codes(db_url: str, n: int) -> list[str]:
    """``n`` enrolment codes: at counters "Quầy 1–4" of sites "Phường 1…" on a server with one province
    (or none yet); on a server with several (bench/national.py's), at its counters, spread over them."""
    from sqlalchemy import select

    from server.accounts import issue_enrollment_code
    from server.db import open_engine, write_transaction
    from server.schema import nodes
    from server.settings import Settings

    engine = open_engine(Settings(db_url=db_url))
    with engine.connect() as conn, write_transaction(conn):
        provinces = conn.execute(select(nodes.c.id).where(nodes.c.kind == "province")).all()
        counters = conn.execute(select(nodes.c.id).where(nodes.c.kind == "counter").order_by(nodes.c.id)).scalars().all()
        if len(provinces) > 1:
            codes = [issue_enrollment_code(conn, node_id=counters[i * len(counters) // n], ttl_s=3600,
                                           now_ns=time.time_ns()) for i in range(n)]
        else:
            codes = [issue_enrollment_code(conn, site=f"Phường {i // 4 + 1}", counter=f"Quầy {i % 4 + 1}",
                                           ttl_s=3600, now_ns=time.time_ns()) for i in range(n)]
    engine.dispose()
    return codes


#: How the simulated terminals make rating ids (``--ids``): as the terminal does (UUIDv7, time-ordered), or
#: as terminals did before 2026-12 (UUIDv4, random: each new id lands on a random page of the server's index).
RATING_IDS = {"v7": new_rating_id, "v4": lambda: str(uuid.uuid4())}


def start_rollout(db_url: str, wave_pct: int) -> None:
    """A release (its row only: no terminal downloads it here) rolled out to the whole fleet, so that every batch's
    receipt goes through the release offer (server/rollouts.py) as on a server in the middle of an update."""
    from server.audit import Actor
    from server.db import open_engine, write_transaction
    from server.rollouts import start_rollout as start
    from server.schema import releases
    from server.settings import Settings

    engine = open_engine(Settings(db_url=db_url))
    try:
        with engine.connect() as conn, write_transaction(conn):
            conn.execute(releases.insert().values(
                version="9.9.9", arch="x86_64", archive="hai-long-kiosk-9.9.9-x86_64.tar.gz", size=40_000_000,
                sha256="0" * 64, statement="{}", key_id="0" * 16, signature_checked=False, uploaded_by="bench",
                uploaded_at="2026-12-03T00:00:00.000Z"))
            start(conn, "9.9.9", node=None, wave_pct=wave_pct, actor=Actor("bench/fleet.py"), caller=None,
                  now_ns=time.time_ns())
    finally:
        engine.dispose()


async def enroll_fleet(pool: HttpPool, codes: list[str], ids: str = "v7") -> list[SimTerminal]:
    async def one(code):
        for _attempt in range(30):  # a server that says it is busy (503) is asked again: enrolling is not timed
            status, payload = await pool.request("POST", "/api/v1/enroll", json.dumps({"code": code}).encode())
            if status != 503:
                break
            await asyncio.sleep(1.0)
        if status != 201:
            raise RuntimeError(f"enrolment failed: {status} {payload[:200]!r}")
        body = json.loads(payload)
        return SimTerminal(body["terminal_id"], body["device_token"], RATING_IDS[ids])
    return list(await asyncio.gather(*(one(code) for code in codes)))


async def settle(pool: HttpPool, server_pids: list[int], limit_s: float = 20.0) -> None:
    """Wait until the server is idle (what a cut-off step left in flight is done) before the next step."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = processes_cpu_s(server_pids)
        await asyncio.sleep(0.5)
        if processes_cpu_s(server_pids) - before < 0.05:
            return


async def bench_backend(name: str, db_url: str, args) -> list[StepResult]:
    replicas = args.replicas if name == "postgresql" else 1
    ports = [free_port() for _ in range(replicas)]
    profile_to = str(ROOT / "var" / "bench" / f"fleet-{name}.prof") if args.profile else None
    servers = start_servers(db_url, ports, profile_to, args.workdir, name)  # they migrate the empty database
    pids = [server.pid for server in servers]
    balancer = pool = None
    try:
        if replicas > 1:
            from balancer import HAProxy
            balancer = HAProxy(ports, folder=args.workdir / f"haproxy-{name}").start()
            name = f"{name}, {replicas} replicas behind HAProxy"
        codes = issue_codes(db_url, args.terminals)
        pool = HttpPool(balancer.port if balancer else ports[0], size=args.connections)
        steps = {"server_pids": pids, "balancer_pid": balancer.process.pid if balancer else None,
                 "timeline_out": args.timeline}
        t0 = time.monotonic()
        fleet = await enroll_fleet(pool, codes, getattr(args, "ids", "v7"))
        if getattr(args, "rollout", None) is not None:
            # No batch was sent yet, so the server has not read the running rollouts: its first receipt does.
            start_rollout(db_url, args.rollout)
            print(f"{name}: a rollout with a first wave of {args.rollout}% is running: every receipt asks for an offer",
                  flush=True)
        gc.collect()
        gc.freeze()
        print(f"{name}: {len(fleet)} terminals enrolled in {time.monotonic() - t0:.1f} s; "
              f"batches of {args.batch}, steps of {args.step_s:.0f} s, p99 limit {args.p99_ms:.0f} ms", flush=True)
        targets = []
        for repeat in range(getattr(args, "repeat", 1)):
            if repeat:
                await settle(pool, pids)
            targets.append(await run_step(pool, fleet, offered=args.load, batch_size=args.batch,
                                          step_s=args.step_s, **steps))
            show("target", targets[-1], args.p99_ms)
        target = targets[-1]
        if len(targets) > 1:
            print(f"{name}: median p99 of {len(targets)} target steps: "
                  f"{statistics.median(r.p99_ms for r in targets):.1f} ms", flush=True)
        if getattr(args, "capacity", None):  # the knee given: no search
            await overload(name, pool, fleet, args.capacity, db_url, args, steps)
            return targets
        if args.no_search:
            return targets
        passing = target.offered if target.passed(args.p99_ms) else None
        failing = None if passing else target.offered
        load = target.offered * 1.5 if passing else target.offered / 1.5
        for _ in range(args.search_steps):
            await settle(pool, pids)
            result = await run_step(pool, fleet, offered=load, batch_size=args.batch, step_s=args.step_s, **steps)
            show("search", result, args.p99_ms)
            if result.passed(args.p99_ms):
                passing = max(passing or 0, load)
            else:
                failing = min(failing or float("inf"), load)
            if failing is None:
                load *= 1.5
            elif passing is None:
                load /= 1.5
            else:
                if failing / passing < 1.1:
                    break
                load = (passing + failing) / 2
        print(f"{name}: highest offered load with p99 ≤ {args.p99_ms:.0f} ms: "
              f"{f'{passing:,.0f} ratings/s' if passing else 'none found'}"
              f"{f' (first miss at {failing:,.0f})' if failing else ''}", flush=True)
        if getattr(args, "overload", None) and passing:
            await overload(name, pool, fleet, passing, db_url, args, steps)
        return targets
    finally:
        if pool is not None:
            pool.close()
        if balancer is not None:
            balancer.stop()
        stop_servers(servers)
        if profile_to:
            import pstats
            print(f"--- server profile ({profile_to}) ---")
            pstats.Stats(profile_to).sort_stats("cumulative").print_stats(25)
            threads_to = profile_to.replace(".prof", "-threads.prof")
            if PROFILE_THREADS and os.path.exists(threads_to):
                print(f"--- server worker threads' profile ({threads_to}) ---")
                pstats.Stats(threads_to).sort_stats("cumulative").print_stats(40)
                pstats.Stats(threads_to).sort_stats("tottime").print_stats(30)


async def overload(name: str, pool: HttpPool, fleet: list[SimTerminal], capacity: float, db_url: str, args,
                   steps: dict) -> list[OverloadResult]:
    """Offer each ``--overload`` multiple of ``capacity`` (a step each, the server left to settle between)."""
    results = []
    for multiple in args.overload:
        await settle(pool, steps["server_pids"])
        results.append(await run_overload_step(
            pool, fleet, multiple=multiple, offered=capacity * multiple, batch_size=args.batch, step_s=args.step_s,
            retry_window_s=args.retry_window_s, db_url=db_url, server_pids=steps["server_pids"],
            balancer_pid=steps["balancer_pid"]))
        print(f"  overload {multiple:.1f}x done: {results[-1].delivered}/{results[-1].batches} batches stored, "
              f"{len(results[-1].refused_ms)} answers 429, {results[-1].errors} errors", flush=True)
    show_overload(name, results, capacity, args.retry_window_s)
    return results


def multiples(text: str) -> list[float]:
    """``--overload``'s value: multiples of the capacity, e.g. ``1.5,3``.

        >>> multiples("1.5,3")
        [1.5, 3.0]
    """
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--overload: {text!r} is not a list of numbers such as 1.5,3") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError("--overload: give positive multiples of the capacity, such as 1.5,3")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--terminals", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--load", type=float, default=5000, help="offered ratings/s of the target step")
    parser.add_argument("--step-s", type=float, default=10.0, help="seconds of arrivals per step (≤ 12)")
    parser.add_argument("--p99-ms", type=float, default=250.0)
    parser.add_argument("--search-steps", type=int, default=6)
    parser.add_argument("--no-search", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="run the target step this many times (median p99)")
    parser.add_argument("--connections", type=int, default=64, help="client keep-alive connections")
    parser.add_argument("--postgres-url", help="a PostgreSQL role that may create databases; "
                                               "default: a throwaway cluster (fsync on)")
    parser.add_argument("--replicas", type=int, default=1,
                        help="server processes behind HAProxy, on PostgreSQL only (default 1: no balancer)")
    parser.add_argument("--profile", action="store_true", help="cProfile the server's event-loop thread and print the top")
    parser.add_argument("--profile-threads", action="store_true",
                        help="with --profile: cProfile the server's worker threads too (storage), printed apart")
    parser.add_argument("--timeline", action="store_true",
                        help="per step, print the slowest batches and the busiest 100 ms of arrivals")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (server logs, SQLite file)")
    parser.add_argument("--ids", choices=sorted(RATING_IDS), default="v7",
                        help="rating ids: v7 as the terminal makes them (default), v4 as terminals made them before 2026-12")
    parser.add_argument("--rollout", type=int, default=None, metavar="PCT",
                        help="with a release rolling out to the fleet, first wave PCT %% (the receipts' release offer)")
    parser.add_argument("--overload", type=multiples, default=None, metavar="M,M",
                        help="after the search, offer these multiples of the capacity found (e.g. 1.5,3): accepted "
                             "latency, 429 answers, errors, lost ratings; a 429'd batch is sent again after Retry-After")
    parser.add_argument("--capacity", type=float, default=None, metavar="R",
                        help="with --overload: take R ratings/s as the capacity instead of searching for it")
    parser.add_argument("--retry-window-s", type=float, default=60.0,
                        help="with --overload: how long after the arrivals a 429'd batch may still be sent again")
    args = parser.parse_args()
    if args.capacity and not args.overload:
        parser.error("--capacity needs --overload")
    global PROFILE_THREADS
    PROFILE_THREADS = args.profile_threads
    args.step_s = min(args.step_s, 20.0 - DRAIN_S)
    if args.replicas < 1:
        parser.error("--replicas: at least 1")
    if args.replicas > 1 and args.backend != "postgresql":
        parser.error("--replicas above 1 needs --backend postgresql: a SQLite file is served by one process")

    print(f"fleet bench: {os.cpu_count()} cores, Python {sys.version.split()[0]}, server and client on loopback")
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="fleet-", dir=ROOT / "var" / "bench"))
    args.workdir = workdir
    try:
        global DB_POSTMASTER
        if args.backend in ("sqlite", "both"):
            DB_POSTMASTER = 0
            asyncio.run(bench_backend("sqlite", f"sqlite:///{workdir / 'server.db'}", args))
        if args.backend in ("postgresql", "both"):
            cluster = None
            admin_url = args.postgres_url
            if admin_url is None:
                from server_fixtures import ThrowawayPostgres
                cluster = ThrowawayPostgres(durable=True).start()
                admin_url = cluster.url
            DB_POSTMASTER = postmaster_pid(cluster) if cluster is not None else None
            try:
                with throwaway_database(admin_url, "hl_fleet") as url:
                    asyncio.run(bench_backend("postgresql", url, args))
            finally:
                if cluster is not None:
                    cluster.stop()
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

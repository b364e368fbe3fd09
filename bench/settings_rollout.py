"""Settings rollout: a settings change reaching 1,000 terminals through a real server, in compressed time.

``kiosk-server serve`` runs in its own process on 127.0.0.1 (SQLite file, or PostgreSQL with
``--backend postgresql``); 1,000 simulated terminals (bench/fleet.py's HTTP client) are enrolled over HTTP and
heartbeat (``POST /api/v1/batches`` with no ratings) every ``heartbeat_s`` (the terminal's default, 300 s), each
at a random phase in [0, 300) s. Time is compressed: ``--scale 20`` runs 300 s of the fleet's time in 15 s, every
sleep divided by the scale (the server's own work is not: at 20×, a 5 ms answer counts as 0.1 s).

An administrator changes a fleet setting through the admin API at t = 0. A terminal learns the new version from
its next heartbeat's receipt (``settings_version``), fetches ``GET /api/v1/terminal/settings`` with
``If-None-Match`` and applies it (at once: the simulated home screen is always quiet), then reports the version:

``next heartbeat``
    in its next regular heartbeat (the terminal sends nothing extra): the report comes one interval later;
``at once``
    in a heartbeat sent as soon as it applied (the terminal reports at once after applying).

For each mode and each repeat it prints the fleet time until 50 %, 99 % and 100 % of the terminals had fetched
the new set and had reported it applied (acknowledged by the server, so stored on their row: checked against the
database at the end), and the heartbeats' latency; then the medians over the repeats. Also the receipts' cost on
the ingest path: ``WantedVersions.wanted`` per batch, cached and computed, measured in-process on the same
database. Prints figures; asserts nothing.

    .venv/bin/python bench/settings_rollout.py [--terminals 1000] [--heartbeat-s 300] [--scale 20] [--repeat 3]
        [--backend sqlite|postgresql] [--connections 32] [--seed 13]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from fleet import HttpPool, enroll_fleet, free_port, issue_codes, percentile, start_servers  # noqa: E402

MODES = ("next heartbeat", "at once")


@dataclass
class Terminal:
    id: str
    token: str
    applied: str | None = None
    boot_id: str = "bench-boot"

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def heartbeat(self) -> bytes:
        health = {"pending": 0, "app_version": "bench", "clock_synced": True}
        if self.applied:
            health["settings_version"] = self.applied
        return json.dumps({"sent_at": "2026-12-03T08:00:00.000Z", "boot_id": self.boot_id,
                           "monotonic_ns": time.monotonic_ns(), "health": health, "ratings": []}).encode()


@dataclass
class Rollout:
    mode: str
    version: str
    fetched: list[float] = field(default_factory=list)   # fleet seconds after the change
    reported: list[float] = field(default_factory=list)
    heartbeat_ms: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0

    def at(self, times: list[float], share: float, n: int) -> float:
        """Fleet seconds until ``share`` of ``n`` terminals (inf when fewer got there)."""
        rank = math.ceil(share * n)
        return sorted(times)[rank - 1] if len(times) >= rank else math.inf


async def heartbeat(pool: HttpPool, terminal: Terminal, rollout: Rollout) -> dict | None:
    started = time.perf_counter()
    status, payload = await pool.request("POST", "/api/v1/batches", terminal.heartbeat(), terminal.auth)
    rollout.heartbeat_ms.append((time.perf_counter() - started) * 1000)
    if status != 200:
        rollout.errors += 1
        return None
    return json.loads(payload)


async def fetch(pool: HttpPool, terminal: Terminal) -> str | None:
    headers = dict(terminal.auth)
    if terminal.applied:
        headers["If-None-Match"] = f'"{terminal.applied}"'
    status, payload = await pool.request("GET", "/api/v1/terminal/settings", headers=headers)
    if status == 304:
        return terminal.applied
    return json.loads(payload)["version"] if status == 200 else None


async def change_setting(pool: HttpPool, admin_token: str, value: float) -> str:
    status, payload = await pool.request("POST", "/api/v1/settings", json.dumps(
        {"set": {"feedback.thanks_s": value}, "note": "bench"}).encode(), {"Authorization": f"Bearer {admin_token}"})
    if status != 200:
        raise RuntimeError(f"the change was refused: {status} {payload[:300]!r}")
    return json.loads(payload)["change"]["version"]  # the fleet's own set is every terminal's whole set here


async def run_rollout(pool: HttpPool, fleet: list[Terminal], admin_token: str, *, mode: str, value: float,
                      heartbeat_s: float, scale: float, rng: random.Random) -> Rollout:
    phases = [rng.uniform(0, heartbeat_s) for _ in fleet]
    version = await change_setting(pool, admin_token, value)
    rollout = Rollout(mode, version)
    start = time.monotonic()
    limit = 3 * heartbeat_s  # fleet seconds: every terminal has had three heartbeats by then

    def fleet_now() -> float:
        return (time.monotonic() - start) * scale

    async def sleep_until(moment: float) -> None:
        delay = (moment - fleet_now()) / scale
        if delay > 0:
            await asyncio.sleep(delay)

    async def one(terminal: Terminal, phase: float) -> None:
        due = phase
        reported = False
        while due < limit and not reported:
            await sleep_until(due)
            receipt = await heartbeat(pool, terminal, rollout)
            if receipt is not None and terminal.applied == version:
                rollout.reported.append(fleet_now())
                reported = True
                break
            wanted = receipt.get("settings_version") if receipt else None
            if wanted is not None and wanted != terminal.applied:
                got = await fetch(pool, terminal)
                if got == version:
                    terminal.applied = got
                    rollout.fetched.append(fleet_now())
                    if mode == "at once" and await heartbeat(pool, terminal, rollout) is not None:
                        rollout.reported.append(fleet_now())
                        reported = True
                        break
            due += heartbeat_s

    await asyncio.gather(*(one(terminal, phase) for terminal, phase in zip(fleet, phases)))
    rollout.wall_s = time.monotonic() - start
    return rollout


async def warm_up(pool: HttpPool, fleet: list[Terminal], admin_token: str) -> None:
    """Every terminal on a first set (as after a long steady state): heartbeat, fetch, report."""
    await change_setting(pool, admin_token, 4.0)
    sink = Rollout("warm-up", "")

    async def one(terminal: Terminal) -> None:
        receipt = await heartbeat(pool, terminal, sink)
        if receipt and receipt.get("settings_version"):
            terminal.applied = await fetch(pool, terminal)
        await heartbeat(pool, terminal, sink)
    await asyncio.gather(*(one(terminal) for terminal in fleet))


def stored_versions(db_url: str, version: str) -> int:
    from sqlalchemy import func, select

    from server.db import open_engine
    from server.schema import terminals
    from server.settings import Settings

    engine = open_engine(Settings(db_url=db_url))
    with engine.connect() as conn:
        found = conn.execute(select(func.count()).where(terminals.c.settings_version == version)).scalar_one()
    engine.dispose()
    return found


def admin_token(db_url: str) -> str:
    from server.accounts import issue_admin_token
    from server.db import open_engine, write_transaction
    from server.settings import Settings

    engine = open_engine(Settings(db_url=db_url))
    with engine.connect() as conn, write_transaction(conn):
        token = issue_admin_token(conn, name="bench admin", now_ns=time.time_ns())
    engine.dispose()
    return token


def receipt_cost(db_url: str, fleet: list[Terminal], rounds: int = 2000) -> tuple[float, float]:
    """µs per batch of the receipts' settings_version: cached (same generation) and computed (a new one)."""
    from sqlalchemy import select

    from server.db import open_engine
    from server.schema import terminals
    from server.terminal_settings import LINEAGE, WantedVersions

    from server.settings import Settings

    engine = open_engine(Settings(db_url=db_url))
    with engine.connect() as conn:
        rows = {row.id: tuple(row)[1:] for row in conn.execute(select(terminals.c.id, *[terminals.c[n] for n in LINEAGE]))}
        cache = WantedVersions(recheck_s=3600)
        picked = [(t.id, rows[t.id]) for t in fleet[:rounds]]
        started = time.perf_counter()
        for terminal_id, lineage in picked:  # each once: computed
            cache.wanted(conn, terminal_id, lineage)
        computed = (time.perf_counter() - started) / len(picked) * 1e6
        started = time.perf_counter()
        for _ in range(5):
            for terminal_id, lineage in picked:
                cache.wanted(conn, terminal_id, lineage)
        cached = (time.perf_counter() - started) / (5 * len(picked)) * 1e6
    engine.dispose()
    return cached, computed


def show(rollout: Rollout, n: int) -> None:
    figures = "  ".join(f"{label} {share:.0%}: {rollout.at(times, share, n):6.1f} s"
                        for label, times in (("fetched", rollout.fetched), ("reported", rollout.reported))
                        for share in (0.5, 0.99, 1.0))
    print(f"  {rollout.mode:>14}: {figures}  (heartbeat p50 {percentile(rollout.heartbeat_ms, 0.5):.1f} ms, "
          f"p99 {percentile(rollout.heartbeat_ms, 0.99):.1f} ms; {rollout.errors} errors; "
          f"{rollout.wall_s:.0f} s of wall time)", flush=True)


async def bench(args) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="settings-rollout-"))
    if args.backend == "postgresql":
        from server_fixtures import ThrowawayPostgres
        cluster = ThrowawayPostgres().start()
        db_url = cluster.url
    else:
        cluster = None
        db_url = f"sqlite:///{workdir / 'server.db'}"
    port = free_port()
    servers = start_servers(db_url, [port], None, workdir, "settings")
    pool = HttpPool(port, size=args.connections)
    rng = random.Random(args.seed)
    try:
        codes = issue_codes(db_url, args.terminals)
        token = admin_token(db_url)
        fleet = [Terminal(one.id, one.token) for one in await enroll_fleet(pool, codes)]
        await warm_up(pool, fleet, token)
        print(f"{args.backend}: {len(fleet)} terminals, heartbeat every {args.heartbeat_s:g} s at random phases, "
              f"time compressed {args.scale:g}×; a fleet setting changed through the admin API at t = 0", flush=True)
        results: dict[str, list[Rollout]] = {mode: [] for mode in MODES}
        value = 5.0
        for repeat in range(args.repeat):
            print(f"repeat {repeat + 1}:", flush=True)
            for mode in MODES:
                value += 1
                rollout = await run_rollout(pool, fleet, token, mode=mode, value=value, heartbeat_s=args.heartbeat_s,
                                            scale=args.scale, rng=rng)
                show(rollout, len(fleet))
                stored = stored_versions(db_url, rollout.version)
                if stored != len(rollout.reported):
                    print(f"    ! {stored} terminal rows hold the new version, {len(rollout.reported)} reports acked")
                results[mode].append(rollout)
        print(f"medians over {args.repeat} repeat(s), fleet seconds after the change:")
        for mode, rollouts in results.items():
            n = len(fleet)
            line = "  ".join(f"{label} 99 %: {statistics.median(r.at(getattr(r, attr), 0.99, n) for r in rollouts):.1f} s"
                             for label, attr in (("fetched", "fetched"), ("reported", "reported")))
            print(f"  {mode:>14}: {line}  (heartbeat p99 "
                  f"{statistics.median(percentile(r.heartbeat_ms, 0.99) for r in rollouts):.1f} ms)", flush=True)
        cached, computed = receipt_cost(db_url, fleet)
        print(f"receipts' settings_version on the ingest path: {cached:.1f} µs per batch cached, "
              f"{computed:.0f} µs when computed (once per terminal after each change)", flush=True)
    finally:
        pool.close()
        for server in servers:
            server.send_signal(2)
        for server in servers:
            server.wait(timeout=30)
        if cluster is not None:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--terminals", type=int, default=1000)
    parser.add_argument("--heartbeat-s", type=float, default=300.0, help="the terminals' [server] heartbeat_s")
    parser.add_argument("--scale", type=float, default=20.0, help="fleet seconds per wall second")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--connections", type=int, default=32, help="client keep-alive connections")
    parser.add_argument("--seed", type=int, default=13)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()

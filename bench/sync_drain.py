"""Drain benchmark: a terminal with a backlog of pending ratings uploads to a local server.

    python bench/sync_drain.py [--ratings 100000] [--rounds 5] [--naive-sample 40] [--db sqlite|postgresql]

The server runs as its own process (`kiosk-server serve`) on a loopback port;
the terminal side is the real uploader (its own SQLite connection, default
batch size and pause between batches). Beside it, in the same run and
interleaved with it in rounds, the naive way: one POST per rating, on a sample.
Prints figures and the median of the per-round ratios, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from kiosk.config import parse_config  # noqa: E402
from kiosk.timekeeping import SystemClock  # noqa: E402
from sync.local import LocalRatings  # noqa: E402
from sync.uploader import Uploader, make_session  # noqa: E402

SERVER = [sys.executable, "-c", "from server.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fill(path: Path, terminal_id: str, n: int) -> None:
    """n sealed, pending ratings, written in bulk (the bench measures the drain, not the presses)."""
    from kiosk.store import RatingStore

    store = RatingStore(path, terminal_id=terminal_id)
    stamp = SystemClock().stamp()
    rows = [(str(uuid.uuid4()), terminal_id, ("very_satisfied", "satisfied", "dissatisfied")[i % 3],
             "processing_time" if i % 3 == 2 else None, "given" if i % 3 == 2 else None, "button",
             stamp.created_at, stamp.boot_id, stamp.monotonic_ns + i, stamp.clock_synced, 0, 1, None)
            for i in range(n)]
    with store.db.atomic():
        store.db.conn.executemany(
            "INSERT INTO ratings (id, terminal_id, rating, reason, reason_outcome, source, created_at, boot_id, "
            "monotonic_ns, clock_synced, filtered, sealed, synced_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    store.close()


def enroll(db_url: str, url: str, session) -> tuple[str, str]:
    code = subprocess.run([*SERVER, "enroll-code", "--db", db_url, "--site", "Bench ward"],
                          capture_output=True, text=True, check=True).stdout.split()[0]
    from sync.enrollment import enroll as do_enroll

    receipt = do_enroll(url, code, session=session, app_version="bench")
    return receipt.terminal_id, receipt.device_token


def run(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="drain-", dir=ROOT / "var"))
    pg = None
    if args.db == "postgresql":
        from server_fixtures import ThrowawayPostgres

        pg = ThrowawayPostgres(durable=True).start()
        db_url = pg.url
    else:
        db_url = f"sqlite:///{work / 'server.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*SERVER, "serve", "--db", db_url, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        session = make_session()
        deadline = time.monotonic() + 30
        while True:
            try:
                if session.get(f"{url}/healthz", timeout=1).ok:
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.1)
        defaults = parse_config({}).server
        clock = SystemClock()
        print(f"sync drain: {args.ratings:,} pending ratings, server backend {args.db}, "
              f"batch_size {defaults.batch_size}, pause_s {defaults.pause_s} (defaults); loopback; "
              f"{os.cpu_count()} CPUs")

        # The real drain, and beside it the naive way (one POST per rating) on a
        # sample, interleaved in rounds so both see the same machine: the
        # machine is small and noisy, and a ratio of two far-apart runs is not.
        terminal_id, token = enroll(db_url, url, session)
        db_path = work / "terminal.db"
        fill(db_path, terminal_id, args.ratings)
        local = LocalRatings(db_path)
        uploader = Uploader(local, server_url=url, token=token, stamp=clock.stamp, app_version="bench",
                            session=session, batch_size=defaults.batch_size, pause_s=defaults.pause_s)
        naive_id, naive_token = enroll(db_url, url, session)
        naive_path = work / "naive.db"
        fill(naive_path, naive_id, args.naive_sample * args.rounds)
        naive_local = LocalRatings(naive_path)
        naive = Uploader(naive_local, server_url=url, token=naive_token, stamp=clock.stamp,
                         app_version="bench", session=session, batch_size=1, pause_s=0)

        drain_s = 0.0
        batches = sent = 0
        round_rates, naive_rates, per_post = [], [], []
        pending = args.ratings
        for round_no in range(args.rounds):
            goal = args.ratings * (round_no + 1) // args.rounds
            uploader._answered_at = time.monotonic()  # the pause counts from the last answer, as in a drain
            started = time.perf_counter()
            round_sent = 0
            while pending and sent < goal:  # what Uploader.run does while a backlog is pending
                attempt = uploader.send_batch()  # keeps the pause (pause_s since the last answer) itself
                batches += 1
                if not attempt.ok:
                    raise SystemExit(f"batch failed: {attempt.error}")
                sent += attempt.sent
                round_sent += attempt.sent
                pending = attempt.pending
            elapsed = time.perf_counter() - started
            drain_s += elapsed
            round_rates.append(round_sent / elapsed)

            started = time.perf_counter()
            for _ in range(args.naive_sample):
                t0 = time.perf_counter()
                if not naive.send_batch().ok:
                    raise SystemExit("naive post failed")
                per_post.append(time.perf_counter() - t0)
            naive_rates.append(args.naive_sample / (time.perf_counter() - started))
            time.sleep(args.naive_sample / 40)  # the naive terminal's rate-limit tokens come back (50/s)
        left = local.pending_count()
        local.close()
        naive_local.close()
        rate = args.ratings / drain_s
        naive_rate = statistics.median(naive_rates)
        ratios = [r / n for r, n in zip(round_rates, naive_rates)]

        print(f"batched drain : {args.ratings:,} ratings in {drain_s:.2f} s, {batches} batches, "
              f"{rate:,.0f} ratings/s (left pending: {left}); per round: "
              + ", ".join(f"{r:,.0f}" for r in round_rates))
        print(f"naive (1/POST): {args.naive_sample} ratings per round x {args.rounds}, median "
              f"{naive_rate:,.0f} ratings/s, median POST {statistics.median(per_post) * 1000:.2f} ms; per round: "
              + ", ".join(f"{r:,.0f}" for r in naive_rates))
        median_ratio = statistics.median(ratios)
        print(f"ratio batched/naive per round: {', '.join(f'{x:.1f}x' for x in ratios)}; "
              f"median {median_ratio:.1f}x")
        print(f"targets: >= 10,000 ratings/s ({'MET' if rate >= 10_000 else 'NOT MET'}), "
              f">= 50x naive ({'MET' if median_ratio >= 50 else 'NOT MET'}, median ratio)")
    finally:
        server.terminate()
        server.wait(10)
        if pg is not None:
            pg.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=100_000)
    # Each round's sample stays within the server's per-terminal burst (100 requests), and
    # the tokens come back between rounds, so the rate limiter never slows the naive way
    # down: what is measured is the cost of a POST.
    parser.add_argument("--naive-sample", type=int, default=40, help="naive POSTs per round")
    parser.add_argument("--rounds", type=int, default=5, help="drain segments, each followed by a naive sample")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    run(parser.parse_args())

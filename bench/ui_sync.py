"""Frame times of the real app headless, idle and while the uploader drains a backlog.

    python bench/ui_sync.py [--backlog 50000] [--seconds 4]

The server runs as its own process on loopback; the app draws frames as it
would at a counter (Kivy's 60 fps pacing). Prints p50/p99/max of the interval
between frames without sync and during the drain, and the ratios.
"""

from __future__ import annotations

import argparse
import shutil
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

import conftest  # noqa: E402,F401 - sets Kivy's headless environment before Kivy is imported
from conftest import KioskDriver, kiosk_config_data  # noqa: E402
from sync_drain import SERVER, enroll, free_port  # noqa: E402

from kiosk.config import parse_config  # noqa: E402
from kiosk.store import RatingStore  # noqa: E402
from kiosk.terminal import open_terminal  # noqa: E402
from sync.uploader import make_session  # noqa: E402


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def frame_gaps(kiosk, *, seconds: float, until=None) -> list[float]:
    gaps, last = [], time.perf_counter()
    end = last + seconds
    while time.perf_counter() < end and (until is None or not until()):
        kiosk.frames(1)
        now = time.perf_counter()
        gaps.append((now - last) * 1000)
        last = now
    return gaps


def describe(name, gaps):
    return (f"{name:<22} frames {len(gaps):>5}  p50 {statistics.median(gaps):6.2f} ms  "
            f"p99 {percentile(gaps, 0.99):6.2f} ms  max {max(gaps):6.2f} ms")


def main(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="ui-sync-", dir=ROOT / "var"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db_url = f"sqlite:///{work / 'server.db'}"
    server = subprocess.Popen([*SERVER, "serve", "--db", db_url, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        session = make_session()
        for _ in range(300):
            try:
                if session.get(f"{url}/healthz", timeout=1).ok:
                    break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        terminal_id, token = enroll(db_url, url, session)
        (work / "device.token").write_text(token)
        data = kiosk_config_data(work, terminal={"id": terminal_id},
                                 server={"url": url, "token_file": str(work / "device.token")})
        config = parse_config(data)
        store = RatingStore(config.storage.path, terminal_id=terminal_id)
        stamp = store.clock.stamp()
        rows = [(str(uuid.uuid4()), terminal_id, "satisfied", None, None, "button", stamp.created_at,
                 stamp.boot_id, stamp.monotonic_ns, 0, 0, 1, None) for _ in range(args.backlog)]
        with store.db.atomic():
            store.db.conn.executemany(
                "INSERT INTO ratings (id, terminal_id, rating, reason, reason_outcome, source, created_at, boot_id, "
                "monotonic_ns, clock_synced, filtered, sealed, synced_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        store.close()

        terminal = open_terminal(config, mock_pins=True, sync=True)
        kiosk = KioskDriver(terminal, windowed=True)
        try:
            kiosk.frames(30)
            idle = frame_gaps(kiosk, seconds=args.seconds)
            uploader = terminal.uploader
            started = time.perf_counter()
            uploader.start()
            draining = frame_gaps(kiosk, seconds=120, until=lambda: uploader.local.pending_count() == 0)
            drain_s = time.perf_counter() - started
            left = uploader.local.pending_count()
        finally:
            kiosk.stop()
            terminal.close()
        print(f"UI frame times while syncing: backlog {args.backlog:,} ratings, server on loopback "
              f"(SQLite), default batch size and pause; window 800x480, offscreen SDL")
        print(describe("idle (no upload)", idle))
        print(describe("draining the backlog", draining))
        print(f"drain took {drain_s:.1f} s ({args.backlog / drain_s:,.0f} ratings/s), left pending {left}")
        print(f"ratio draining/idle: p50 {statistics.median(draining) / statistics.median(idle):.2f}  "
              f"p99 {percentile(draining, 0.99) / percentile(idle, 0.99):.2f}")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    main(parser.parse_args())

"""Press latency: a mock pin's edge to the committed row, beside a bare SQLite insert+commit.

The hardware path is the real one: ``MockPin.drive_low()`` → gpiozero's
callback → our ``Debouncer`` → ``RatingFlow.press`` → ``RatingStore.record_press``
→ a committed row (WAL, ``synchronous=FULL``) in a SQLite file on disk.
MockFactory calls back on the caller's thread, so the clock starts just
before ``drive_low()`` and stops in a flow listener registered ahead of the
LED/buzzer feedback: the flow calls it right after the row is committed. The
time until ``drive_low()`` returns (feedback included) is printed beside it.
Each row is then checked from a second connection (outside the timing). The debouncer and
the flow get a fake clock, moved 10 s before each press, so every press counts
with the production bounce (0.05 s), repeat interval (5 s) and thanks (3 s).

The baseline is a bare ``sqlite3`` insert of a comparable row (same table and
indexes, values built outside the timing) and ``commit()``, on a connection
with ``journal_mode=WAL`` and ``synchronous=FULL``, in the same folder.

The two are measured in interleaved blocks (A B, then B A, …) so that a noisy
machine hurts both alike. Prints p50 and p99 and their ratios; never asserts.

    .venv/bin/python bench/press_latency.py [--presses 1000] [--block 100]
        [--dir var/bench] [--leds] [--log] [--profile] [--sync-check-each-press]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import math
import os
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's packages, even before `pip install -e .` maps them all

from gpiozero.pins.mock import MockFactory  # noqa: E402

from hardware import ButtonPanel  # noqa: E402
from kiosk.flow import RatingFlow  # noqa: E402
from kiosk.store import RatingStore  # noqa: E402
from kiosk.terminal import wire_panel  # noqa: E402
from kiosk.timekeeping import SystemClock, iso_utc, monotonic_ns  # noqa: E402

TARGET_P99_RATIO = 1.5
RATING_PINS = {"very_satisfied": 17, "satisfied": 27, "dissatisfied": 22}
PRESSED = ("very_satisfied", "satisfied")  # dissatisfied would open the reason question
WARMUP = 20


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class HardwarePath:
    """A wired panel on MockFactory feeding a flow and a store on disk."""

    def __init__(self, folder: Path, *, leds: bool, sync_check_each_press: bool = False):
        self.clock = FakeClock()
        self.factory = MockFactory()
        # SystemClock re-reads the clock's sync state every 30 s while it is not synced: at a
        # counter presses are further apart than that, so on such a terminal every press does.
        stamps = SystemClock(sync_check_s=0) if sync_check_each_press else None
        self.store = RatingStore(folder / "kiosk.db", terminal_id="bench-01", clock=stamps)
        self.flow = RatingFlow(self.store, thanks_s=3, repeat_interval_s=5, clock=self.clock)
        wiring = {"led_pins": {"very_satisfied": 23, "satisfied": 24, "dissatisfied": 25},
                  "buzzer_pin": 18} if leds else {}
        self.panel = ButtonPanel(rating_pins=RATING_PINS, bounce_s=0.05, clock=self.clock,
                                 pin_factory=self.factory, **wiring)
        # Listening before wire_panel: called right after record_press has
        # committed, before the LED and buzzer feedback runs.
        self.events = []  # (perf_counter_ns, FlowEvent) of every event
        self.flow.add_listener(lambda event: self.events.append((time.perf_counter_ns(), event)))
        wire_panel(self.flow, self.panel, beep=True)
        self.returned = []  # ns from the edge until drive_low() returned (feedback included)
        self.pins = [self.panel.buttons[code].pin for code in PRESSED]
        self.reader = sqlite3.connect(folder / "kiosk.db")  # sees committed rows only
        self.n = 0

    def press(self) -> int:
        code = PRESSED[self.n % len(PRESSED)]
        pin = self.pins[self.n % len(PRESSED)]
        self.n += 1
        self.clock.now += 10.0
        before = len(self.events)
        t0 = time.perf_counter_ns()
        pin.drive_low()
        self.returned.append(time.perf_counter_ns() - t0)
        self.clock.now += 0.2
        pin.drive_high()
        # The press may first end the previous thank-you (a "screen" event), then is rated.
        rated = [(at, event) for at, event in self.events[before:] if event.kind == "rated"]
        if len(rated) != 1 or rated[0][1] is not self.events[-1][1]:
            raise SystemExit(f"press {self.n} was not counted: {self.events[before:]}")
        committed_at, event = rated[0]
        # fetchall() ends the statement, so no read transaction lingers to hold back checkpoints.
        found = self.reader.execute("SELECT rating FROM ratings WHERE id = ?", [event.rating_id]).fetchall()
        if found != [(code,)]:
            raise SystemExit(f"press {self.n}: row {event.rating_id} not committed (found {found})")
        return committed_at - t0

    def close(self):
        self.reader.close()
        self.panel.close()
        self.store.close()
        self.factory.reset()


class BareInsert:
    """sqlite3 alone: the same table, one insert and commit per row."""

    def __init__(self, folder: Path, schema: list[str]):
        self.conn = sqlite3.connect(folder / "bare.db")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        for sql in schema:
            self.conn.execute(sql)
        self.conn.commit()
        self.boot_id = SystemClock().boot_id
        self.sql = ("INSERT INTO ratings (id, terminal_id, rating, reason, reason_outcome, source,"
                    " created_at, boot_id, monotonic_ns, clock_synced, filtered, sealed, synced_at)"
                    " VALUES (?, 'bench-01', ?, NULL, NULL, 'button', ?, ?, ?, 0, 0, 1, NULL)")
        self.n = 0

    def press(self) -> int:
        self.n += 1
        values = [str(uuid.uuid4()), PRESSED[self.n % 2], iso_utc(datetime.now(timezone.utc)),
                  self.boot_id, monotonic_ns()]
        t0 = time.perf_counter_ns()
        self.conn.execute(self.sql, values)
        self.conn.commit()
        return time.perf_counter_ns() - t0

    def close(self):
        self.conn.close()


def table_schema(db_path: Path) -> list[str]:
    """The ratings table and its indexes, as the store's migrations made them."""
    with sqlite3.connect(db_path) as conn:
        return [sql for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'ratings' AND sql IS NOT NULL"
            " ORDER BY type = 'index'")]


def percentile(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    return sorted_ns[max(0, math.ceil(q / 100 * len(sorted_ns)) - 1)] / 1e6


def summary(samples: list[int]) -> dict:
    s = sorted(samples)
    return {"p50": percentile(s, 50), "p99": percentile(s, 99), "mean": sum(s) / len(s) / 1e6,
            "max": s[-1] / 1e6}


def profile_hardware_path(folder: Path, presses: int, **options) -> str:
    """cProfile over the hardware path alone: the 25 functions with the most time of their own."""
    path = HardwarePath(folder, **options)
    try:
        for _ in range(WARMUP):
            path.press()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(presses):
            path.press()
        profiler.disable()
    finally:
        path.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(25)
    return out.getvalue()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=1000)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--dir", type=Path, default=REPO / "var" / "bench",
                        help="where the SQLite files go (a fresh folder inside, removed afterwards)")
    parser.add_argument("--leds", action="store_true",
                        help="wire three LEDs and a buzzer (a blink thread per press)")
    parser.add_argument("--log", action="store_true",
                        help="log at INFO as `kiosk run` does, to a file beside the databases")
    parser.add_argument("--profile", action="store_true", help="also cProfile the hardware path")
    parser.add_argument("--sync-check-each-press", action="store_true",
                        help="re-check the clock's sync state at each press, as a terminal whose clock "
                             "is not synced does when presses are more than 30 s apart")
    args = parser.parse_args(argv)

    args.dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="press-", dir=args.dir))
    if args.log:
        logging.basicConfig(level=logging.INFO, filename=folder / "kiosk.log",
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        hardware_path = HardwarePath(folder, leds=args.leds,
                                     sync_check_each_press=args.sync_check_each_press)
        bare = BareInsert(folder, table_schema(folder / "kiosk.db"))
        for _ in range(WARMUP):
            hardware_path.press(), bare.press()
        samples = {"hardware path": [], "bare sqlite3": []}
        rounds = math.ceil(args.presses / args.block)
        for r in range(rounds):
            order = [("hardware path", hardware_path), ("bare sqlite3", bare)]
            for name, runner in order if r % 2 == 0 else reversed(order):
                n = min(args.block, args.presses - r * args.block)
                samples[name].extend(runner.press() for _ in range(n))
        rows = hardware_path.reader.execute("SELECT count(*) FROM ratings").fetchall()[0][0]
        hardware_path.close()
        bare.close()

        device = os.stat(folder).st_dev
        print(f"press latency: {args.presses} presses each, interleaved blocks of {args.block}, "
              f"{WARMUP} warm-up presses each not counted")
        print(f"SQLite files in {folder} (device {os.major(device)}:{os.minor(device)}, "
              f"same folder for both); leds={'yes' if args.leds else 'no'}, "
              f"logging={'INFO to file' if args.log else 'off (WARNING)'}, "
              f"clock sync check={'each press' if args.sync_check_each_press else 'cached 30 s'}; "
              f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs")
        print(f"hardware path rows committed and checked: {rows - WARMUP} (+{WARMUP} warm-up)")
        print(f"{'':28}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'max ms':>9}")
        stats = {name: summary(values) for name, values in samples.items()}
        returned = summary(hardware_path.returned[WARMUP:])
        for name, s in [("edge -> committed row", stats["hardware path"]),
                        ("bare sqlite3 insert+commit", stats["bare sqlite3"]),
                        ("(edge -> callback returned)", returned)]:
            print(f"{name:28}{s['p50']:9.3f}{s['p99']:9.3f}{s['mean']:9.3f}{s['max']:9.3f}")
        hw, base = stats["hardware path"], stats["bare sqlite3"]
        ratio50, ratio99 = hw["p50"] / base["p50"], hw["p99"] / base["p99"]
        verdict = "PASS" if ratio99 <= TARGET_P99_RATIO else "ABOVE TARGET"
        print(f"ratio p50/p50 {ratio50:.2f}   p99/p99 {ratio99:.2f}   "
              f"(target p99 ratio <= {TARGET_P99_RATIO}): {verdict}")
        if args.profile:
            print("\ncProfile of the hardware path (same folder, fresh database):")
            sub = folder / "profile"
            sub.mkdir()
            print(profile_hardware_path(sub, args.presses, leds=args.leds,
                                        sync_check_each_press=args.sync_check_each_press))
    finally:
        logging.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

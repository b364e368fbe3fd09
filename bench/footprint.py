"""Start-up time, memory and database size of the terminal.

    python bench/footprint.py [--runs 3] [--settle 3]

(a) start → first frame of the home screen: ``python -m kiosk run --config …
    --mock-pins --windowed`` in a subprocess (SDL's offscreen driver when there
    is no display), timed from spawning it until it logs that the first frame
    has been drawn; target ≤ 3 s.
(b) resident memory (VmRSS from /proc/<pid>/status) of that same process
    ``--settle`` seconds after its first frame, on a database holding 10,000
    ratings, against a bare Kivy window with three buttons measured the same
    way; target: the terminal costs ≤ 40 MB more than the bare window.
(c) database size per rating: the file after 10,000 ratings (WAL checkpointed
    into it) / 10,000; target ≤ 300 bytes.

Medians over ``--runs`` runs. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the repo, installed or not

RATINGS_N = 10_000
FIRST_FRAME = "first frame drawn"
TARGETS = {"start_s": 3.0, "rss_extra_mb": 40.0, "bytes_per_rating": 300.0}

# The baseline: what any Kivy app with three buttons costs, with the same window settings.
BARE_APP = f"""
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
sys.path.insert(0, {str(REPO)!r})
from kiosk.config import parse_config
from kiosk.ui.launch import configure_kivy
configure_kivy(parse_config({{"display": {{"kiosk": False}}}}), windowed=True)
from kivy.app import App
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button

class Bare(App):
    def build(self):
        box = BoxLayout()
        for label in ("Rất hài lòng", "Hài lòng", "Không hài lòng"):
            box.add_widget(Button(text=label, font_size=40))
        return box

    def on_start(self):
        Window.bind(on_flip=self.first)

    def first(self, *_):
        Window.unbind(on_flip=self.first)
        logging.getLogger("bare").info("{FIRST_FRAME}")

Bare().run()
"""


def config_text(db: Path) -> str:
    return f"""
[terminal]
id = "bench-01"
site = "UBND phường Phúc La"
counter = "Quầy 1"

[storage]
path = "{db}"

[display]
kiosk = false

[log]
level = "INFO"
"""


def fill_database(config_path: Path, n: int = RATINGS_N, seed: int = 1) -> None:
    """``n`` presses through the real store, in the proportions of a ward's counter."""
    from kiosk.config import load_config
    from kiosk.ratings import REASONS
    from kiosk.store import RatingStore

    config = load_config(config_path)
    store = RatingStore(config.storage.path, terminal_id=config.terminal.id)
    rng = random.Random(seed)
    with store.db.atomic():  # one commit: the figures, not 10,000 fsyncs, are the point here
        for _ in range(n):
            roll = rng.random()
            rating = "very_satisfied" if roll < 0.74 else "satisfied" if roll < 0.97 else "dissatisfied"
            filtered = rng.random() < 0.05
            ask = rating == "dissatisfied" and not filtered
            row = store.record_press(rating, source=rng.choice(("button", "touch")), filtered=filtered,
                                     ask_reason=ask)
            if ask:
                outcome = rng.choice(("given", "given", "skipped", "timeout"))
                store.seal(row["id"], outcome, rng.choice(REASONS) if outcome == "given" else None)
    store.close()


def database_size(db: Path) -> dict:
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        try:
            parts = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
        except sqlite3.OperationalError:  # SQLite built without dbstat
            parts = {}
    finally:
        conn.close()
    wal = db.with_name(db.name + "-wal")
    size = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return {"rows": rows, "bytes": size, "page_size": page_size, "parts": parts}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def measure(cmd: list[str], env: dict, settle_s: float, timeout_s: float = 30.0) -> dict:
    """Spawn ``cmd``; seconds until it logs its first frame; its RSS ``settle_s`` later."""
    seen = threading.Event()
    log_tail: list[str] = []

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", errors="replace")
    first_frame_at = []

    def read_stderr():
        for line in proc.stderr:  # keep draining, or the child blocks on a full pipe
            if not seen.is_set():
                log_tail.append(line.rstrip())
                del log_tail[:-20]
                if FIRST_FRAME in line:
                    first_frame_at.append(time.perf_counter())
                    seen.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        deadline = time.perf_counter() + timeout_s
        while not seen.wait(0.05) and proc.poll() is None and time.perf_counter() < deadline:
            pass
        if not seen.is_set():
            reader.join(2)
            raise RuntimeError(f"{' '.join(cmd[:4])}… showed no first frame in {timeout_s:.0f} s:\n"
                               + "\n".join(log_tail))
        time.sleep(settle_s)
        if proc.poll() is not None:
            raise RuntimeError(f"process ended early with status {proc.returncode}")
        rss = rss_kb(proc.pid)
    finally:
        proc.terminate()  # our own child, by its pid
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(5)
    return {"start_s": first_frame_at[0] - started, "rss_mb": rss / 1024}


def median(values):
    return statistics.median(values)


def listing(runs, key, fmt=".2f"):
    return ", ".join(format(run[key], fmt) for run in runs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the first frame before reading RSS")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="hai-long-footprint-"))
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, work: Path) -> int:
    db = work / "kiosk.db"
    config_path = work / "kiosk.toml"
    config_path.write_text(config_text(db), encoding="utf-8")

    t = time.perf_counter()
    fill_database(config_path)
    fill_s = time.perf_counter() - t
    size = database_size(db)

    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON", "PYTHONUNBUFFERED": "1"}
    env.setdefault("SDL_VIDEODRIVER", "offscreen")
    bare_env = {**env, "KIVY_HOME": str(work / "kivy-bare")}
    app_cmd = [sys.executable, "-m", "kiosk", "run", "--config", str(config_path), "--mock-pins", "--windowed"]
    bare_script = work / "bare_kivy.py"  # a file: Kivy's App looks up its class's source
    bare_script.write_text(BARE_APP, encoding="utf-8")
    bare_cmd = [sys.executable, str(bare_script)]

    app_runs, bare_runs = [], []
    for _ in range(args.runs):  # interleaved, so both see the same machine
        app_runs.append(measure(app_cmd, env, args.settle))
        bare_runs.append(measure(bare_cmd, bare_env, args.settle))

    print(f"Footprint ({args.runs} runs each, medians; SDL_VIDEODRIVER={env['SDL_VIDEODRIVER']}, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print()
    print("(a) start → first frame of the home screen (`python -m kiosk run --mock-pins --windowed`, "
          f"database with {size['rows']:,} ratings)")
    app_start = median(r["start_s"] for r in app_runs)
    bare_start = median(r["start_s"] for r in bare_runs)
    print(f"    terminal     {app_start:5.2f} s   runs: {listing(app_runs, 'start_s')}")
    print(f"    bare Kivy    {bare_start:5.2f} s   runs: {listing(bare_runs, 'start_s')}")
    print(f"    target ≤ {TARGETS['start_s']:.0f} s: {'MET' if app_start <= TARGETS['start_s'] else 'NOT MET'}")
    print()
    print(f"(b) resident memory (VmRSS) {args.settle:g} s after the first frame")
    app_rss = median(r["rss_mb"] for r in app_runs)
    bare_rss = median(r["rss_mb"] for r in bare_runs)
    extra = app_rss - bare_rss
    print(f"    terminal, {size['rows']:,} ratings stored   {app_rss:6.1f} MB   runs: "
          f"{listing(app_runs, 'rss_mb', '.1f')}")
    print(f"    bare Kivy window, 3 buttons      {bare_rss:6.1f} MB   runs: "
          f"{listing(bare_runs, 'rss_mb', '.1f')}")
    print(f"    difference                       {extra:6.1f} MB   target ≤ {TARGETS['rss_extra_mb']:.0f} MB: "
          f"{'MET' if extra <= TARGETS['rss_extra_mb'] else 'NOT MET'}")
    print()
    per_rating = size["bytes"] / size["rows"]
    print(f"(c) database size: {size['bytes']:,} bytes for {size['rows']:,} ratings after checkpoint "
          f"(page size {size['page_size']}; filled in {fill_s:.1f} s)")
    for name, nbytes in sorted(size["parts"].items(), key=lambda kv: -kv[1]):
        print(f"    {name:<32} {nbytes:>10,} bytes  {nbytes / size['rows']:6.1f} per rating")
    print(f"    per rating {per_rating:.0f} bytes   target ≤ {TARGETS['bytes_per_rating']:.0f}: "
          f"{'MET' if per_rating <= TARGETS['bytes_per_rating'] else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

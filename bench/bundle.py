"""The PyInstaller bundle: its size on disk, and its start time beside ``python -m kiosk``.

    make bundle && python bench/bundle.py [--runs 5]

(a) size: every file under dist/kiosk (MB, 1 MB = 2**20 bytes), and its largest parts.
(b) start → first frame of the home screen: ``dist/kiosk/kiosk run --mock-pins
    --windowed`` and ``python -m kiosk run --mock-pins --windowed`` on the same
    config, each timed from spawning it until it logs "first frame drawn" (SDL's
    offscreen driver when there is no display), interleaved after one warm-up
    run each (which also creates their databases); resident memory at that
    moment too.

Medians over ``--runs`` runs. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from footprint import config_text, measure  # noqa: E402  (bench/footprint.py: same timing, same marker)

REPO = HERE.parent
DIST = REPO / "dist" / "kiosk"
EXECUTABLE = DIST / "kiosk"
MB = 2 ** 20


def size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / MB
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / MB


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not EXECUTABLE.exists():
        print(f"no bundle at {EXECUTABLE}: run `make bundle` first", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="hai-long-bundle-bench-"))
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, work: Path) -> int:
    internal = DIST / "_internal"
    parts = sorted(((size_mb(p), p.name) for p in internal.iterdir()), reverse=True)
    total = size_mb(DIST)

    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON", "PYTHONUNBUFFERED": "1"}
    env.setdefault("SDL_VIDEODRIVER", "offscreen")
    commands = {}
    for name, head in (("bundle", [str(EXECUTABLE)]), ("python -m kiosk", [sys.executable, "-m", "kiosk"])):
        folder = work / name.replace(" ", "_")
        folder.mkdir()
        config = folder / "kiosk.toml"
        config.write_text(config_text(folder / "kiosk.db"), encoding="utf-8")
        commands[name] = ([*head, "run", "--config", str(config), "--mock-pins", "--windowed"],
                          {**env, "KIVY_HOME": str(folder / "kivy")})
    for cmd, cmd_env in commands.values():  # warm-up: page cache, databases, Kivy's config
        measure(cmd, cmd_env, settle_s=0)
    runs = {name: [] for name in commands}
    for _ in range(args.runs):  # interleaved, so both see the same machine
        for name, (cmd, cmd_env) in commands.items():
            runs[name].append(measure(cmd, cmd_env, settle_s=0))

    print(f"Bundle (dist/kiosk; {args.runs} runs each after one warm-up, medians; "
          f"SDL_VIDEODRIVER={env['SDL_VIDEODRIVER']}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print()
    print(f"(a) size on disk: {total:.1f} MB   (executable {size_mb(EXECUTABLE):.1f} MB; largest parts of _internal:")
    print("    " + ", ".join(f"{name} {mb:.1f}" for mb, name in parts[:6]) + ")")
    print()
    print("(b) start → first frame of the home screen (`run --mock-pins --windowed`), and VmRSS then")
    for name, measured in runs.items():
        start = statistics.median(r["start_s"] for r in measured)
        rss = statistics.median(r["rss_mb"] for r in measured)
        listing = ", ".join(f"{r['start_s']:.2f}" for r in measured)
        print(f"    {name:<16} {start:5.2f} s   {rss:6.1f} MB   runs: {listing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Press → thank-you frame at a counter (officer signed in, dossier invitation open) against today's, same run.

    python bench/counter_frame.py [--rounds 4] [--presses 120] [--size 800x480]

Runs ``bench/ui_latency.py`` (the real Kivy app headless, its own main loop, a SQLite file with WAL and
synchronous=FULL, touches and mock-pin presses alternating, the spoken prompts on and played into SDL's disk
audio driver unless ``SDL_AUDIODRIVER`` is set) as fresh processes, today's terminal and the
counter's (``--counter``: ``[officers]`` and ``[dossier]`` on, an officer signed in, a dossier scanned before
each press so the press is on the invitation's tiles and its rating linked), interleaved round by round
(A B, then B A, …) so that both meet the machine in the same state. Pools each side's samples and prints p50
and p99 of press → thank-you frame drawn and of press → row committed, and the ratios counter / today
(the issue's target: p99 ratio ≤ 1.1). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from audio_sink import disk_audio_env  # noqa: E402

TARGET_RATIO = 1.1


def percentile(values, q):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run(counter: bool, presses: int, size: str, seed: int, env: dict) -> dict:
    command = [sys.executable, str(BENCH / "ui_latency.py"), "--presses", str(presses), "--size", size,
               "--seed", str(seed), "--json"] + (["--counter"] if counter else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    for line in done.stdout.splitlines():
        if line.startswith("SAMPLES "):
            samples = json.loads(line[len("SAMPLES "):])
            if samples["failures"]:
                raise SystemExit(f"{'counter' if counter else 'today'}: {samples['failures']}")
            return samples
    raise SystemExit(f"ui_latency.py printed no samples (status {done.returncode}):\n{done.stdout[-2000:]}\n"
                     f"{done.stderr[-3000:]}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--presses", type=int, default=120, help="presses per process (touch and button alternate)")
    parser.add_argument("--size", default="800x480")
    args = parser.parse_args(argv)
    pooled = {side: {"frame": [], "stored": []} for side in ("today", "counter")}
    work = Path(tempfile.mkdtemp(prefix="hai-long-counter-frame-"))
    # Both sides speak their prompts (the thank-you, the invitation) into a sound output, as a terminal does.
    env = disk_audio_env(dict(os.environ), work)
    try:
        for r in range(args.rounds):
            order = [False, True] if r % 2 == 0 else [True, False]
            for counter in order:
                samples = run(counter, args.presses, args.size, seed=7 + r, env=env)
                side = pooled["counter" if counter else "today"]
                for measure in ("frame", "stored"):
                    side[measure] += samples[measure]["touch"] + samples[measure]["button"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"Counter frame: press → thank-you frame drawn, {args.rounds} rounds × {args.presses} presses per side "
          f"(touch and button alternating), window {args.size}, interleaved processes, voice on "
          f"(SDL_AUDIODRIVER={env['SDL_AUDIODRIVER']})")
    print(f"{'':44}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}")
    figures = {}
    for measure, label in (("frame", "press → thank-you frame"), ("stored", "press → row committed")):
        for side in ("today", "counter"):
            values = pooled[side][measure]
            figures[(measure, side)] = (percentile(values, 50), percentile(values, 99))
            name = "today" if side == "today" else "officer + dossier"
            print(f"{label + ', ' + name:44}{len(values):6d}{figures[(measure, side)][0]:9.2f}"
                  f"{figures[(measure, side)][1]:9.2f}")
    for measure, label in (("frame", "thank-you frame"), ("stored", "row committed")):
        p50 = figures[(measure, "counter")][0] / figures[(measure, "today")][0]
        p99 = figures[(measure, "counter")][1] / figures[(measure, "today")][1]
        print(f"ratio counter/today, {label:16} p50 {p50:.2f}   p99 {p99:.2f}   (target p99 ≤ {TARGET_RATIO}): "
              f"{'PASS' if p99 <= TARGET_RATIO else 'ABOVE TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

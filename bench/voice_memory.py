"""Memory of the spoken prompts: the terminal's resident memory with the voice files loaded against none.

    python bench/voice_memory.py [--runs 5] [--settle 2]

Each run is a fresh process running the real terminal (``open_terminal`` with
mock pins, ``KioskApp`` headless, ``[voice] enabled = false`` so that the app
itself loads nothing). After its first frame and ``--settle`` seconds, VmRSS is
read (no sound loaded, SDL's audio not opened); then prompts are loaded with the
terminal's own :class:`kiosk.ui.voice.VoicePlayer`, the way the app preloads
them, and VmRSS is read again after:

- the 8 prompts that are not reasons (question, three choices, reason question,
  thank-you, warning, invitation): the issue's "8 voice files", target ≤ +10 MB;
- all 14 prompts of one language (what a terminal with six reasons preloads);
- both languages (28: a citizen switched to English).

SDL_mixer decodes each file into memory at the output's format (44.1 kHz,
16-bit stereo: 176 KB per second of speech), so the cost follows the seconds of
speech, whatever the file's format. The first figure includes opening SDL's
audio output. Without ``SDL_AUDIODRIVER`` set, SDL's disk driver writing into
a FIFO that this process drains stands in for a sound card (on a Pi, run it with the real one).
Medians over ``--runs``; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from audio_sink import disk_audio_env  # noqa: E402

TARGET_MB = 10.0

CHILD = r"""
import gc, json, logging, sys
sys.path.insert(0, {repo!r})
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
from kiosk.config import VoiceSettings, parse_config
from kiosk.terminal import open_terminal
from kiosk.ui.launch import configure_kivy

config = parse_config({{"terminal": {{"id": "bench-voice"}}, "storage": {{"path": {db!r}}},
                        "display": {{"kiosk": False}}, "voice": {{"enabled": False}}}})
configure_kivy(config, windowed=True)
from kivy.clock import Clock
from kivy.core.window import Window
from kiosk.prompts import PROMPTS
from kiosk.ratings import REASONS
from kiosk.ui.app import KioskApp
from kiosk.ui.voice import VoicePlayer

EIGHT = [name for name in PROMPTS if name not in REASONS]
assert len(EIGHT) == 8, EIGHT

def rss_mb():
    gc.collect()
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

terminal = open_terminal(config, mock_pins=True, sync=False)
app = KioskApp(terminal, windowed=True)
figures = {{}}

def measure(_dt):
    figures["none"] = rss_mb()
    player = VoicePlayer(VoiceSettings(enabled=True, volume=0.8, folder=""))
    failed = player.preload("vi", EIGHT)
    figures["eight"] = rss_mb()
    failed += player.preload("vi")
    figures["one_language"] = rss_mb()
    failed += player.preload("en")
    figures["both_languages"] = rss_mb()
    def length(name, language):
        sound = player.sound(name, language)
        return sound.length if sound is not None else 0.0
    figures["seconds"] = {{"eight": sum(length(n, "vi") for n in EIGHT),
                          "one_language": sum(length(n, "vi") for n in PROMPTS),
                          "both_languages": sum(length(n, l) for n in PROMPTS for l in ("vi", "en"))}}
    figures["failed"] = failed
    print("FIGURES " + json.dumps(figures), flush=True)
    app.stop()

def first_frame(*_):
    Window.unbind(on_flip=first_frame)
    Clock.schedule_once(measure, {settle})

Window.bind(on_flip=first_frame)
try:
    app.run()
finally:
    terminal.close()
"""


def run_once(work: Path, settle: float, env: dict) -> dict:
    db = work / "kiosk.db"
    for leftover in work.glob("kiosk.db*"):
        leftover.unlink()
    script = work / "voice_memory_child.py"
    script.write_text(CHILD.format(repo=str(REPO), db=str(db), settle=settle), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], env=env, cwd=work, capture_output=True, text=True,
                          timeout=120)
    for line in done.stdout.splitlines():
        if line.startswith("FIGURES "):
            return json.loads(line[len("FIGURES "):])
    raise RuntimeError(f"the terminal printed no figures (status {done.returncode}):\n{done.stderr[-3000:]}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after the first frame before measuring")
    args = parser.parse_args(argv)
    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON", "PYTHONUNBUFFERED": "1",
           "KIVY_AUDIO": "sdl2"}
    env.setdefault("SDL_VIDEODRIVER", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="hai-long-voice-memory-"))
    env = disk_audio_env(env, work)
    env["KIVY_HOME"] = str(work / "kivy")
    try:
        runs = [run_once(work, args.settle, env) for _ in range(args.runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = sorted({name for run in runs for name in run["failed"]})
    median = {key: statistics.median(run[key] for run in runs)
              for key in ("none", "eight", "one_language", "both_languages")}
    seconds = runs[0]["seconds"]
    print(f"Voice memory ({args.runs} runs, medians; SDL_AUDIODRIVER={env['SDL_AUDIODRIVER']}, "
          f"SDL_VIDEODRIVER={env['SDL_VIDEODRIVER']}, Python {sys.version.split()[0]})")
    print(f"    terminal, no voice file loaded        {median['none']:6.1f} MB   runs: "
          + ", ".join(f"{run['none']:.1f}" for run in runs))
    rows = (("eight", "8 prompts (no reasons), vi"), ("one_language", "all 14 prompts, vi"),
            ("both_languages", "all 28 prompts, vi + en"))
    for key, label in rows:
        extra = median[key] - median["none"]
        line = (f"    + {label:<34} {extra:+6.1f} MB   ({seconds[key]:.1f} s of speech; runs: "
                + ", ".join(f"{run[key] - run['none']:+.1f}" for run in runs) + ")")
        if key == "eight":
            line += f"   target ≤ +{TARGET_MB:.0f} MB: {'MET' if extra <= TARGET_MB else 'NOT MET'}"
        print(line)
    if failed:
        print(f"    NOTE: these could not be loaded, the figures leave them out: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

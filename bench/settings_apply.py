"""Remote settings on one terminal (issue 13): what checking a set costs, how long a change on the server takes
to show on the screen and be reported, and how long the screens are blank when a key needs them rebuilt.

    python bench/settings_apply.py [--runs 3] [--heartbeat 10]

(a) check: :func:`kiosk.remote_settings.overlay` of a set holding every remote key against the local file
    (what the terminal does with each new set), median over 2,000.
(b) change → reported: the real ``python -m kiosk run --mock-pins`` (SDL's offscreen driver without a display)
    against a small real server (tests/settings_server.py, uvicorn on a loopback port) that serves one
    terminal; a text is changed on the server at a random moment of the heartbeat interval, and the time until
    a heartbeat reports that version applied is measured: the heartbeat's wait, the fetch, the quiet moment on
    home, the report sent at once. The fleet's figure (1,000 terminals through the real server) is
    bench/settings_rollout.py's.
(c) restart: a set changing ``display.large_text`` (the screens are built again): from the log line saying so
    to the restarted terminal's first frame.

Medians over ``--runs``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the small settings server and LiveServer

TOKEN = "bench-settings-token"


def check_cost(n: int = 2000) -> float:
    from kiosk.config import SCHEMA, parse_config
    from kiosk.remote_settings import REMOTE_KEYS, overlay
    from kiosk.settings_apply import config_data

    samples = {"citizen_text": "Anh/chị có hài lòng không?", "opening_hours": "Mon-Fri 07:30-17:00; Sat 07:30-11:30"}
    values = {}
    for name in REMOTE_KEYS:
        section, _, key = name.partition(".")
        rule = SCHEMA[section][key]
        values[name] = samples.get(rule.kind, rule.default)
    local = config_data(parse_config({"pins": {"reasons": [5, 6]}}))
    times = []
    for _ in range(n):
        start = time.perf_counter()
        overlay(local, values)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


class KioskProcess:
    """``kiosk run`` in a subprocess; its log lines read on a thread, each with the moment it was read."""

    def __init__(self, folder: Path, url: str, heartbeat_s: float):
        (folder / "device.token").write_text(TOKEN)
        config = folder / "kiosk.toml"
        config.write_text(f'[terminal]\nid = "bench-01"\n[storage]\npath = "{folder / "kiosk.db"}"\n'
                          f'[display]\nkiosk = false\n[server]\nurl = "{url}"\n'
                          f'token_file = "{folder / "device.token"}"\nheartbeat_s = {heartbeat_s}\n',
                          encoding="utf-8")
        env = {**os.environ, "KIVY_HOME": str(folder / "kivy"), "KIVY_NO_ARGS": "1"}
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            env["SDL_VIDEODRIVER"] = "offscreen"
        self.proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config), "--mock-pins"],
                                     cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append((time.monotonic(), line))

    def wait_for(self, text: str, count: int = 1, timeout: float = 90) -> float:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = [at for at, line in self.lines if text in line]
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.02)
        raise RuntimeError(f"no {text!r} in the terminal's log: " + "".join(l for _, l in self.lines[-20:]))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def change_to_reported(runs: int, heartbeat_s: float) -> tuple[list[float], list[float]]:
    from server_fixtures import LiveServer
    from settings_server import SettingsServer

    reported, blank = [], []
    rng = random.Random(13)
    for run in range(runs):
        server = SettingsServer(token=TOKEN)
        live = LiveServer(server.app)
        with tempfile.TemporaryDirectory(prefix="bench-settings-") as tmp:
            kiosk = KioskProcess(Path(tmp), live.url, heartbeat_s)
            try:
                kiosk.wait_for("first frame drawn")
                while not server.healths:  # its first heartbeat, then a random moment of the interval
                    time.sleep(0.02)
                time.sleep(rng.uniform(0, heartbeat_s))
                version = server.set_values({"texts.question_vi": f"Câu hỏi mới {run}"})
                changed_at = time.monotonic()
                while (server.last_health() or {}).get("settings_version") != version:
                    if time.monotonic() - changed_at > heartbeat_s * 3 + 30:
                        raise RuntimeError("the change was never reported")
                    time.sleep(0.01)
                reported.append(time.monotonic() - changed_at)
                # (c) a key that rebuilds the screens.
                server.set_values({"texts.question_vi": f"Câu hỏi mới {run}", "display.large_text": True})
                said = kiosk.wait_for("the screens start again", timeout=heartbeat_s * 3 + 30)
                drawn = kiosk.wait_for("first frame drawn", count=2)
                blank.append(drawn - said)
            finally:
                kiosk.stop()
                live.stop()
    return reported, blank


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--heartbeat", type=float, default=10.0, help="[server] heartbeat_s of the terminal (≥ 10)")
    args = parser.parse_args(argv)
    print(f"(a) check of a set holding every remote key against the local file: {check_cost():.0f} µs (median)")
    reported, blank = change_to_reported(args.runs, args.heartbeat)
    print(f"(b) text changed on the server → the terminal reports it applied, heartbeat {args.heartbeat:g} s: "
          f"median {statistics.median(reported):.1f} s, max {max(reported):.1f} s over {len(reported)} run(s) "
          f"({', '.join(f'{s:.1f}' for s in reported)})")
    print(f"(c) a key that rebuilds the screens: blank from the restart to the first frame: median "
          f"{statistics.median(blank):.1f} s over {len(blank)} run(s) ({', '.join(f'{s:.1f}' for s in blank)})")


if __name__ == "__main__":
    main()

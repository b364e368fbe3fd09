"""A terminal installed from real release archives, run by deploy/hai-long-launch under a stand-in for systemd.

Used by tests/test_update_bundles.py and bench/update_start.py. The releases are the bundle ``make bundle``
built (dist/kiosk), packed with ``kiosk-release pack`` under different versions and signed; the "broken"
one is the same bundle whose ``kiosk`` program is replaced by a two-line shell script that exits 70 at
start (the real program is kept beside it as ``kiosk.real``, unused): a release that cannot start, made
without any hook in the terminal's code.

:class:`Supervisor` does what kiosk.service asks of systemd (Restart=always): it starts the launcher,
and starts it again shortly after the program exits, however it exits, until told to stop.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from release import make_statement, pack, sign_statement, unpack
from release.signing import new_key_pair, public_key_text

REPO = Path(__file__).resolve().parent.parent
LAUNCHER = REPO / "deploy" / "hai-long-launch"
PRESS_KEYS = Path(__file__).parent / "kivy_mods" / "press_keys.py"
TOKEN = "release-test-token"
FIRST_FRAME = r"first frame drawn \(home screen\)"


class Releases:
    """Signed archives of one bundle under several versions (``broken`` ones cannot start)."""

    def __init__(self, bundle_dir: Path, folder: Path):
        self.bundle_dir = Path(bundle_dir)
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.private, public = new_key_pair()
        self.public = public_key_text(public)
        self.archives: dict[str, Path] = {}

    def make(self, version: str, *, broken: bool = False) -> Path:
        source = self.bundle_dir
        if broken:
            source = self.folder / f"broken-{version}" / "kiosk"
            if not source.exists():
                shutil.copytree(self.bundle_dir, source, symlinks=True)
                os.replace(source / "kiosk", source / "kiosk.real")
                (source / "kiosk").write_text("#!/bin/sh\necho 'broken release: exits at start' >&2\nexit 70\n")
                (source / "kiosk").chmod(0o755)
        archive = pack(source, version=version, out_dir=self.folder, compresslevel=1)
        self.sign(archive)
        self.archives[version] = archive
        return archive

    def sign(self, archive: Path, private=None, out: Path | None = None) -> Path:
        sig = out or Path(f"{archive}.sig")
        sig.write_text(json.dumps(sign_statement(make_statement(archive), private or self.private)),
                       encoding="utf-8")
        return sig


def install(root: Path, archive: Path, slot: str = "a") -> None:
    """What deploy/pi-setup.sh --bundle does for the slots: the first bundle into ``slot``, ``current`` at it."""
    root.mkdir(parents=True, exist_ok=True)
    unpack(archive, root / slot)
    os.symlink(slot, root / "current")


def write_config(folder: Path, *, server_url: str, public_key: str, root: Path, health_s: float = 90.0,
                 max_kbps: int = 0, terminal_id: str = "update-01", device_token: str = TOKEN) -> Path:
    token = folder / "device.token"
    token.write_text(device_token)
    config = folder / "kiosk.toml"
    config.write_text(
        f'[terminal]\nid = "{terminal_id}"\n\n[storage]\npath = "{folder / "data" / "kiosk.db"}"\n\n'
        f'[server]\nurl = "{server_url}"\ntoken_file = "{token}"\nheartbeat_s = 10.0\n\n'
        f'[display]\nkiosk = false\n\n'
        f'[updates]\npublic_key = "{public_key}"\nroot = "{root}"\nhealth_s = {health_s}\n'
        f'max_kbps = {max_kbps}\nmin_free_mb = 0\n', encoding="utf-8")
    return config


def frozen_env(folder: Path, root: Path, *, press: bool = True) -> dict:
    kivy = folder / "kivy"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "LANG": "C.UTF-8", "SDL_VIDEODRIVER": "offscreen",
           "KIVY_HOME": str(kivy), "KCFG_GRAPHICS_WIDTH": "800", "KCFG_GRAPHICS_HEIGHT": "480",
           "SDL_AUDIODRIVER": "dummy", "HAI_LONG_ROOT": str(root)}
    if press:  # every start of the screens types "2" (satisfied) once, a second after its first frame
        (kivy / "mods").mkdir(parents=True, exist_ok=True)
        shutil.copy(PRESS_KEYS, kivy / "mods")
        env["KCFG_MODULES_PRESS_KEYS"] = "keys=2,delay=1.0"
    return env


class Supervisor:
    """systemd's part: start the launcher, start it again ``restart_s`` after each exit; keep the log."""

    def __init__(self, config: Path, env: dict, cwd: Path, restart_s: float = 0.5):
        self.argv = [str(LAUNCHER), "run", "--config", str(config), "--mock-pins"]
        self.env, self.cwd, self.restart_s = env, cwd, restart_s
        self.lines: list[str] = []
        #: time.monotonic() when each line arrived (same index as ``lines``)
        self.times: list[float] = []
        self.starts = 0
        self.exits: list[int] = []
        self.proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Supervisor":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE, text=True, errors="replace")
                self.starts += 1
                self._add(f"supervisor: start {self.starts}\n")
            for line in self.proc.stderr:
                self._add(line)
            self.exits.append(self.proc.wait())
            self._add(f"supervisor: exit {self.exits[-1]}\n")
            self._stop.wait(self.restart_s)

    def _add(self, line: str) -> None:
        self.times.append(time.monotonic())
        self.lines.append(line)

    def count(self, text: str) -> int:
        return sum(1 for line in list(self.lines) if text in line)

    def wait_for(self, pattern: str, timeout: float = 60.0, *, after: int = 0) -> int:
        """Wait until a log line from ``after`` on matches ``pattern`` (a regex); its index."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            lines = list(self.lines)
            for i in range(after, len(lines)):
                if regex.search(lines[i]):
                    return i
            time.sleep(0.05)
        story = [line for line in self.lines if re.search(r"supervisor:|kiosk\.updates|hai-long-launch|restart|"
                                                          r"first frame|Traceback|Error", line)]
        raise AssertionError(f"no log line matching {pattern!r} within {timeout} s; what happened:\n"
                             + "".join(story[-80:]) + "the last lines:\n" + "".join(self.lines[-15:]))

    def kill(self) -> None:
        """SIGKILL the running program (a power cut, for the program); the supervisor starts it again."""
        with self._lock:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
                self._add("supervisor: SIGKILL\n")

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._thread.join(30)

    def log(self, last: int = 60) -> str:
        return "".join(self.lines[-last:])

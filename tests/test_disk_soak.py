"""Suite 7 of issue 10, disk trouble on the terminal, as a soak.

1. The real terminal app (mock pins, real Kivy, headless) on a tiny tmpfs that its log shares: another file
   grows until the disk is full while presses go on (touches and buttons, dissatisfied with a reason), then
   the space comes back, cycle after cycle. What the citizen saw is read from the app's screen: a press is
   acknowledged when the thank-you (or the reason question, which follows a stored press) appears, and
   refused when home says "Tạm ngừng nhận đánh giá". Every acknowledged press must be stored, and only
   those; the technician is told (the out-of-service home, ``kiosk status`` exit 1 with a sentence); the
   terminal takes ratings again by itself; ``integrity_check`` stays ok.
2. A loop of database damage at a kill's state (the files copied while the store is open): the file
   truncated to a random length, overwritten with garbage from the start, or its WAL truncated or
   scribbled over. The terminal must start every time, with the damaged file moved aside or the missing
   ratings counted, and ``kiosk status`` must say so; a rating lost without a word is a loss.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cli_helpers import run_main, tmpfs
from reliability import record, scale
from test_disk_trouble import fill, filled_database, write_config

REPO = Path(__file__).resolve().parent.parent
COMMAND = "HAILONG_SOAK=1 .venv/bin/python -m pytest -m reliability tests/test_disk_soak.py"
FILL_CYCLES = scale(2, 12)
DAMAGE_CASES = scale(9, 90)
KEYS = {"very_satisfied": "1", "satisfied": "2", "dissatisfied": "3"}
REASON_KEYS = "456789"  # reason buttons 1-6; "0" is skip
THANKS_S = 0.5
#: How long a press may take to show its thank-you (real time, on a loaded machine) before it counts as refused.
ANSWER_S = 1.0


def kiosk_status(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", "status", "--config", str(config)], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "SDL_VIDEODRIVER": "offscreen"},
                          timeout=120)


class Citizen:
    """Presses on the running app and writes down what the screen answered.

    Every screen the app switches to is noted as it switches (a thank-you may come and go between two
    frames on a loaded machine); a press is refused when, after :data:`ANSWER_S` and a few frames, home
    says that no rating is taken and no thank-you or question was shown.
    """

    def __init__(self, kiosk, rng: random.Random):
        self.kiosk = kiosk
        self.rng = rng
        self.presses = 0
        #: One entry per press the screen acknowledged: (rating, source, reason outcome or None).
        self.acknowledged: list[tuple] = []
        self.refused = 0
        self.shown: list[str] = []
        self.out_of_service_seen = False
        kiosk.app.root.bind(current=lambda _screens, name: self.shown.append(name))
        kiosk.app.bind(out_of_service=self._out_of_service)

    def _out_of_service(self, _app, value) -> None:
        self.out_of_service_seen = self.out_of_service_seen or value

    def at_home(self) -> bool:
        # A question left open while the disk was full comes back, then times out: wait for home.
        home = self.kiosk.wait_for(lambda: self.kiosk.screen == "home", timeout=10 + THANKS_S)
        self.kiosk.frames(2)  # the tiles laid out again (out of service hides them), so a touch lands
        return home

    def answer(self, screens: tuple[str, ...]) -> bool:
        """Run frames until one of ``screens`` was shown (True) or home says out of service (False)."""
        kiosk = self.kiosk
        start, frames = time.monotonic(), 0
        while time.monotonic() - start < 30:
            if any(name in screens for name in self.shown):
                return True
            # Out of service at the press or since (a touch on that home is not taken, the screen may be
            # back in service by now): refused once no thank-you came in time.
            if self.out_of_service_seen and frames >= 5 and time.monotonic() - start >= ANSWER_S:
                return False
            kiosk.frames(1)
            frames += 1
        raise AssertionError(f"no answer on screen to a press in 30 s (shown: {self.shown})")

    def press(self) -> bool:
        """One press (touch or button, any level; a reason or skip after a dissatisfied one); True when the
        screen acknowledged it."""
        kiosk, rng = self.kiosk, self.rng
        assert self.at_home()
        rating = rng.choice(list(KEYS))
        source = rng.choice(["touch", "button"])
        self.presses += 1
        self.shown.clear()
        self.out_of_service_seen = kiosk.app.out_of_service
        if source == "touch":
            kiosk.touch(kiosk.widget("home", rating))
        else:
            kiosk.terminal.keyboard.tap(KEYS[rating])
        if not self.answer(("thanks", "reason")):
            self.refused += 1
            assert kiosk.screen == "home" and "thanks" not in self.shown
            if kiosk.app.out_of_service:
                assert kiosk.widget("home", "question").text == kiosk.app.texts["out_of_service"]
            return False
        outcome = None
        if "reason" in self.shown:
            assert kiosk.wait_for(lambda: kiosk.screen == "reason" or kiosk.app.out_of_service, timeout=10)
            key = rng.choice(REASON_KEYS + "0")
            self.shown.clear()
            self.out_of_service_seen = kiosk.app.out_of_service
            kiosk.terminal.keyboard.tap(key)
            if self.answer(("thanks", "home")) and "thanks" in self.shown:
                outcome = "skipped" if key == "0" else f"given:{kiosk.terminal.flow.reasons[REASON_KEYS.index(key)]}"
            else:  # the seal was refused (or the question had timed out): the rating stays, as a timeout
                outcome = "timeout"
        self.acknowledged.append((rating, source, outcome))
        return True


def stored(db: Path) -> list[tuple]:
    """The counted rows as (rating, source, reason outcome) in the order they were stored; filtered rows too."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT rating, source, reason_outcome, reason, filtered FROM ratings ORDER BY rowid")
        out = []
        for rating, source, outcome, reason, filtered in rows.fetchall():
            assert not filtered  # presses come one at a time from home, with no repeat interval
            out.append((rating, source, f"given:{reason}" if outcome == "given" else outcome))
        return out


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def fill_cycles(start_kiosk, tmp_path, rng: random.Random) -> dict:
    from kiosk.logs import setup_logging

    with tmpfs(tmp_path / "tiny", size="2m") as folder:
        db = folder / "kiosk.db"
        log_file = setup_logging("INFO", log_file=folder / "kiosk.log", max_kb=64, count=2)  # as `kiosk run`
        try:
            return run_fill_cycles(start_kiosk, tmp_path, rng, folder, db, log_file)
        finally:
            stop_logging_to(folder)


def run_fill_cycles(start_kiosk, tmp_path, rng, folder: Path, db: Path, log_file) -> dict:
    """Presses, a filling disk and space coming back, :data:`FILL_CYCLES` times; the figures."""
    config = write_config(tmp_path, db)
    kiosk = start_kiosk(storage={"path": str(db)}, pins={"reasons": [5, 6, 13, 19, 26, 21], "skip": 20},
                        feedback={"thanks_s": THANKS_S, "repeat_interval_s": 0, "reason_timeout_s": 5})
    watch = kiosk.terminal.watch
    watch.probe_s, watch.idle_s = 0.2, 1.0
    watch.start()  # as `kiosk run`: it probes the full disk and checkpoints when idle
    citizen = Citizen(kiosk, rng)
    for _cycle in range(FILL_CYCLES):
        for _ in range(rng.randint(2, 5)):
            assert citizen.press(), "a press with room on the disk"
        # Another file grows while presses go on, until the disk is full.
        filler = folder / "filler"
        while True:
            free = shutil.disk_usage(folder).free
            if free < 8192:
                fill(folder)
                break
            with open(filler, "ab") as file:
                file.write(b"\0" * (free // 2))
            citizen.press()
        refused_before = citizen.refused
        for _ in range(60):  # the WAL may have room left from before: press until the disk says no
            citizen.press()
            if citizen.refused - refused_before >= 2:
                break
        if citizen.refused > refused_before:
            status = kiosk_status(config)
            assert status.returncode == 1 and "Traceback" not in status.stderr
            assert "FAILED" in status.stdout and "the disk is full; free some space" in status.stdout
        filler.unlink()
        assert kiosk.wait_for(lambda: not kiosk.app.out_of_service, timeout=10), "recording did not resume"
        for _ in range(rng.randint(1, 3)):
            assert citizen.press(), "a press once space returned"
        assert integrity(db) == "ok"
        kiosk.advance(watch.idle_s + 0.3)  # a lull: the WAL is checkpointed, its room is reused
    assert citizen.at_home()
    rows = stored(db)
    missing = Counter(citizen.acknowledged) - Counter(rows)
    unthanked = Counter(rows) - Counter(citizen.acknowledged)
    assert not missing, f"acknowledged but not stored: {missing}"
    assert not unthanked, f"stored without a thank-you: {unthanked}"
    assert integrity(db) == "ok"
    text = "".join(p.read_text(encoding="utf-8") for p in folder.glob("kiosk.log*"))
    assert "Traceback" not in text and "unexpected error" not in text
    assert log_file is not None
    return {"presses": citizen.presses, "acknowledged": len(citizen.acknowledged),
            "refused_while_full": citizen.refused, "lost": sum(missing.values())}


def stop_logging_to(folder: Path) -> None:
    """Close the log file on the tmpfs before it is unmounted (the terminal's teardown still logs)."""
    import logging

    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == folder:
            root.removeHandler(handler)
            try:
                handler.close()
            except OSError:  # a suite that failed may leave the disk full: the last lines cannot be flushed
                pass


# -- damage: at a kill's state, then the terminal starts ------------------------------------------------------

def killed_terminal_files(folder: Path, rng: random.Random) -> int:
    """A terminal's files as a SIGKILL leaves them (some ratings in the file, the last ones in the WAL only);
    how many ratings it had committed."""
    from kiosk.store import RatingStore

    live = folder / "live"
    live.mkdir()
    store = RatingStore(live / "kiosk.db", terminal_id="hd-phucla-01")
    store.keep_mark()
    first, last = rng.randint(0, 40), rng.randint(1, 20)
    for _ in range(first):
        store.record_press(rng.choice(list(KEYS)), source="button")
    store.checkpoint()
    for _ in range(last):
        store.record_press(rng.choice(list(KEYS)), source="touch")
    for suffix in ("", "-wal", "-mark"):  # no -shm: it is rebuilt from the WAL
        shutil.copyfile(live / f"kiosk.db{suffix}", folder / f"kiosk.db{suffix}")
    store.close()
    shutil.rmtree(live)
    return first + last


def damage(db: Path, kind: str, rng: random.Random) -> None:
    wal = db.with_name("kiosk.db-wal")
    if kind == "truncated":
        with open(db, "r+b") as file:
            file.truncate(rng.randrange(db.stat().st_size))
    elif kind == "garbage":
        size = db.stat().st_size
        with open(db, "r+b") as file:
            file.write(os.urandom(rng.randint(16, max(16, size))))
    elif rng.random() < 0.5:  # the WAL truncated
        with open(wal, "r+b") as file:
            file.truncate(rng.randrange(wal.stat().st_size))
    else:  # the WAL scribbled over
        with open(wal, "r+b") as file:
            file.seek(rng.randrange(wal.stat().st_size))
            file.write(os.urandom(rng.randint(1, 8192)))


def damage_loop(tmp_path, rng: random.Random, capsys) -> dict:
    from kiosk.cli import main as kiosk_main
    from kiosk.config import load_config
    from kiosk.terminal import open_terminal

    seen = Counter()
    for case in range(DAMAGE_CASES):
        kind = ("truncated", "garbage", "wal")[case % 3]
        folder = tmp_path / f"damage-{case}"
        folder.mkdir()
        expected = killed_terminal_files(folder, rng)
        db = folder / "kiosk.db"
        damage(db, kind, rng)
        config = write_config(folder, db)
        terminal = open_terminal(load_config(str(config)), mock_pins=True)
        try:
            store = terminal.store
            found = store.counts()["counted"] + store.counts()["filtered"]
            lost = store.ratings_missing()
            if store.recovery is not None:
                outcome = "moved_aside"
                # Kept, never deleted (SQLite may have written to it while trying to open it).
                assert Path(store.recovery.moved_to).exists() and found == 0
            elif found < expected:
                outcome = "missing_counted"
                if lost is None or lost["ratings"] != expected - found:
                    outcome = "lost_silently"
            else:
                outcome = "intact"
                assert found == expected
            seen[outcome] += 1
            terminal.flow.press("satisfied", source="button")  # a fresh start takes ratings
            assert store.counts()["counted"] + store.counts()["filtered"] == found + 1
        finally:
            terminal.close()
        assert integrity(db) == "ok"
        status, out, err = run_main(kiosk_main, ["status", "--config", str(config)], capsys)
        assert "Traceback" not in err
        if outcome == "moved_aside":
            assert "WARNING: the database was unreadable" in out and store.recovery.moved_to in out
        elif outcome == "missing_counted":
            assert f"WARNING: {expected - found} rating(s) were missing when the terminal started" in out
        shutil.rmtree(folder)
    assert seen["lost_silently"] == 0, dict(seen)
    return dict(seen)


@pytest.mark.reliability
@pytest.mark.ui
def test_disk_trouble_soak(start_kiosk, tmp_path, capsys):
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    print(f"seed {seed}")
    filled = fill_cycles(start_kiosk, tmp_path, rng)
    damaged = damage_loop(tmp_path, rng, capsys)
    record("Disk trouble", cases=FILL_CYCLES + DAMAGE_CASES, lost=filled["lost"] + damaged.get("lost_silently", 0),
           command=COMMAND, fill_cycles=FILL_CYCLES, damage_cases=DAMAGE_CASES, presses=filled["presses"],
           acknowledged=filled["acknowledged"], refused_while_full=filled["refused_while_full"],
           moved_aside=damaged.get("moved_aside", 0), missing_counted=damaged.get("missing_counted", 0),
           intact=damaged.get("intact", 0))
    assert filled["refused_while_full"] > 0, "the disk never refused a press: the suite proved nothing"

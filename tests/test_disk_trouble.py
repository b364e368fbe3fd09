"""Disk trouble on the terminal, each made for real: a database file overwritten with garbage or truncated
mid-page, a WAL truncated after a SIGKILL, a tiny filesystem (tmpfs) that is full."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli_helpers import tmpfs, wait_for_line
from kiosk.store import RatingStore

REPO = Path(__file__).resolve().parent.parent


def fill(folder: Path) -> Path:
    """Fill the filesystem of ``folder`` to the last byte; the filler's path (delete it to free the space)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def write_config(tmp_path: Path, db: Path) -> Path:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[terminal]\nid = "hd-phucla-01"\n[storage]\npath = "{db}"\n', encoding="utf-8")
    return config


def kiosk(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "SDL_VIDEODRIVER": "offscreen"}, timeout=timeout)


@contextmanager
def running_kiosk(tmp_path: Path, config: Path):
    """``kiosk run --mock-pins`` headless in its own process, until its first frame; yields (process, lines)."""
    env = {**os.environ, "KIVY_HOME": str(tmp_path / "kivy"), "SDL_VIDEODRIVER": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config), "--mock-pins",
                             "--windowed"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    lines: list[str] = []
    try:
        wait_for_line(proc, lines, "first frame drawn", 60)
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                _, rest = proc.communicate(timeout=15)
                lines.append(rest)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def filled_database(path: Path, n: int = 1500) -> None:
    store = RatingStore(path, terminal_id="hd-phucla-01")
    for _ in range(n):
        store.record_press("satisfied", source="button")
    store.close()  # the last connection checkpoints the WAL into the file


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(64 * 1024))


def truncated(path: Path) -> None:
    filled_database(path)
    with open(path, "r+b") as file:
        file.truncate(path.stat().st_size // 2 + 1000)  # mid-page


# -- a damaged database file: moved aside, a fresh one started, status says so ---------------------

@pytest.mark.parametrize("damage", [garbage, truncated], ids=["random-bytes", "truncated-mid-page"])
def test_the_store_moves_a_damaged_file_aside(tmp_path, damage):
    db = tmp_path / "kiosk.db"
    damage(db)
    before = db.read_bytes()
    store = RatingStore(db, terminal_id="t")
    try:
        assert store.recovery is not None
        assert Path(store.recovery.moved_to).read_bytes() == before
        store.record_press("satisfied", source="touch")
        assert store.counts()["counted"] == 1
    finally:
        store.close()


@pytest.mark.parametrize("damage", [garbage, truncated], ids=["random-bytes", "truncated-mid-page"])
def test_kiosk_run_starts_on_a_damaged_file_and_status_says_so(tmp_path, damage):
    db = tmp_path / "data" / "kiosk.db"
    db.parent.mkdir()
    damage(db)
    before = db.read_bytes()
    config = write_config(tmp_path, db)
    with running_kiosk(tmp_path, config) as (proc, lines):
        assert proc.poll() is None
    assert proc.returncode == 0, "".join(lines[-30:])
    [moved] = db.parent.glob("kiosk.db.corrupt-*[0-9TZ]")
    assert moved.read_bytes() == before
    assert "moved aside" in "".join(lines)
    status = kiosk("status", "--config", str(config))
    assert "WARNING: the database was unreadable" in status.stdout and str(moved) in status.stdout
    info = json.loads(kiosk("status", "--json", "--config", str(config)).stdout)
    assert info["recovered"]["moved_to"] == str(moved)


# -- a damaged WAL: the missing ratings are counted and said ---------------------------------------

PRESS_THEN_DIE = """
import os, signal, sys
from kiosk.store import RatingStore
store = RatingStore(sys.argv[1], terminal_id="t")
store.keep_mark()
for _ in range(int(sys.argv[2])):
    store.record_press("satisfied", source="button")
store.checkpoint()
for _ in range(int(sys.argv[3])):
    store.record_press("very_satisfied", source="button")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_truncated_wal_after_a_kill_is_counted_and_said(tmp_path, caplog):
    db = tmp_path / "kiosk.db"
    config = write_config(tmp_path, db)
    done = subprocess.run([sys.executable, "-c", PRESS_THEN_DIE, str(db), "30", "12"], cwd=REPO)
    assert done.returncode == -signal.SIGKILL
    wal = db.with_name("kiosk.db-wal")
    assert wal.stat().st_size > 32
    with open(wal, "r+b") as file:
        file.truncate(32)  # the header only: every frame after the checkpoint is gone
    store = RatingStore(db, terminal_id="t")
    try:
        with caplog.at_level(logging.ERROR, logger="kiosk.store"):
            missing = store.keep_mark()
        assert missing == 12
        assert store.counts()["counted"] == 30
    finally:
        store.close()
    assert "12 rating(s) committed before the last stop are missing" in caplog.text
    status = kiosk("status", "--config", str(config))
    assert "WARNING: 12 rating(s) were missing when the terminal started" in status.stdout
    info = json.loads(kiosk("status", "--json", "--config", str(config)).stdout)
    assert info["ratings_missing"]["ratings"] == 12 and info["ratings_missing"]["expected"] == 42


def test_status_counts_missing_ratings_before_the_terminal_restarts(tmp_path):
    db = tmp_path / "kiosk.db"
    config = write_config(tmp_path, db)
    subprocess.run([sys.executable, "-c", PRESS_THEN_DIE, str(db), "5", "7"], cwd=REPO)
    with open(db.with_name("kiosk.db-wal"), "r+b") as file:
        file.seek(32 + 24 + 4096 * 2)
        file.write(os.urandom(4096))  # scribbled over after the first frames
    info = json.loads(kiosk("status", "--json", "--config", str(config)).stdout)
    assert info["ratings_missing"]["ratings"] > 0
    assert info["ratings_missing"]["expected"] == 12


def test_an_intact_wal_after_a_kill_misses_nothing(tmp_path):
    db = tmp_path / "kiosk.db"
    subprocess.run([sys.executable, "-c", PRESS_THEN_DIE, str(db), "5", "7"], cwd=REPO)
    store = RatingStore(db, terminal_id="t")
    try:
        assert store.keep_mark() == 0 and store.counts()["counted"] == 12
        assert store.ratings_missing() is None
    finally:
        store.close()


def test_an_idle_terminal_checkpoints_its_wal(tmp_path):
    from kiosk.storage_watch import StorageWatch

    now = [0.0]
    store = RatingStore(tmp_path / "kiosk.db", terminal_id="t")
    try:
        store.keep_mark()
        watch = StorageWatch(store, idle_s=20, clock=lambda: now[0])
        for _ in range(10):
            store.record_press("satisfied", source="button")
            watch.pressed()
        wal = tmp_path / "kiosk.db-wal"
        assert wal.stat().st_size > 0
        now[0] = 19.0
        watch.step()
        assert not watch._settled
        now[0] = 21.0
        watch.step()
        assert watch._settled
        # Everything is in the database file: a lost WAL now loses nothing.
        copy = tmp_path / "copy.db"
        copy.write_bytes((tmp_path / "kiosk.db").read_bytes())
        import sqlite3

        with sqlite3.connect(copy) as conn:
            assert conn.execute("SELECT count(*) FROM ratings").fetchone()[0] == 10
    finally:
        store.close()


# -- a full disk: one plain line per refused press, out of service, back by itself ------------------

@pytest.mark.ui
def test_a_full_disk_refuses_presses_calmly_and_recovers(start_kiosk, tmp_path, caplog):
    from kiosk.ui.app import KioskApp  # noqa: F401  (the app's module logs the screens' state)

    with tmpfs(tmp_path / "tiny") as folder:
        kiosk = start_kiosk(storage={"path": str(folder / "kiosk.db")}, feedback={"thanks_s": 0.5})
        filler = fill(folder)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            kiosk.touch(kiosk.widget("home", "satisfied"))
            kiosk.frames(2)
            assert kiosk.screen == "home" and kiosk.app.out_of_service  # no thank-you for a press not stored
            assert kiosk.widget("home", "question").text == kiosk.app.texts["out_of_service"]
            kiosk.terminal.keyboard.tap("1")  # a button press too
            kiosk.frames(2)
            assert kiosk.screen == "home" and kiosk.rows() == []
        refused = [r for r in caplog.records if r.name == "kiosk.terminal" and "not stored" in r.getMessage()]
        assert len(refused) == 2 and all(r.exc_info is None for r in refused)
        assert "the disk is full" in refused[0].getMessage()
        assert "unexpected error" not in caplog.text and "Traceback" not in caplog.text
        assert kiosk.terminal.watch.step() is None and kiosk.terminal.store.refusing == "the disk is full"
        filler.unlink()
        kiosk.terminal.watch.probe_s = 0  # the next look probes at once
        kiosk.terminal.watch.step()
        assert kiosk.wait_for(lambda: not kiosk.app.out_of_service) and kiosk.terminal.store.refusing is None
        kiosk.touch(kiosk.widget("home", "satisfied"))
        assert kiosk.screen == "thanks" and len(kiosk.rows()) == 1


def test_status_on_a_full_disk_fails_and_says_so_live(tmp_path):
    with tmpfs(tmp_path / "tiny") as folder:
        filled_database(folder / "kiosk.db", 10)
        config = write_config(tmp_path, folder / "kiosk.db")
        earlier = RatingStore(folder / "kiosk.db", terminal_id="hd-phucla-01")  # a running terminal
        fill(folder)
        words = kiosk("status", "--config", str(config))
        info = kiosk("status", "--json", "--config", str(config))
        earlier.close()
    assert words.returncode == 1 and info.returncode == 1
    assert "FAILED" in words.stdout and "Traceback" not in words.stderr
    last = json.loads(info.stdout)["recent_errors"][-1]
    assert last["level"] == "ERROR" and "the disk is full" in last["message"]


def test_kiosk_run_on_a_full_disk_starts_out_of_service_and_recovers(tmp_path):
    with tmpfs(tmp_path / "tiny") as folder:
        filled_database(folder / "kiosk.db", 10)
        config = write_config(tmp_path, folder / "kiosk.db")
        # The terminal stopped while the disk filled (its WAL index, -shm, is still there), then restarts.
        earlier = RatingStore(folder / "kiosk.db", terminal_id="hd-phucla-01")
        filler = fill(folder)
        with running_kiosk(tmp_path, config) as (proc, lines):
            assert any("out of service" in line for line in lines), "".join(lines[-30:])
            filler.unlink()
            wait_for_line(proc, lines, "taking ratings again", 30)
            assert proc.poll() is None
    earlier.close()
    assert proc.returncode == 0, "".join(lines[-30:])
    assert "Traceback" not in "".join(lines)


def test_kiosk_run_on_a_full_disk_after_a_clean_stop_starts_out_of_service_and_recovers(tmp_path):
    with tmpfs(tmp_path / "tiny") as folder:
        filled_database(folder / "kiosk.db", 10)  # closed cleanly: no WAL index (-shm) is left behind
        assert not (folder / "kiosk.db-shm").exists()
        config = write_config(tmp_path, folder / "kiosk.db")
        filler = fill(folder)
        with running_kiosk(tmp_path, config) as (proc, lines):
            assert any("out of service" in line for line in lines), "".join(lines[-30:])
            full = kiosk("status", "--config", str(config))
            assert full.returncode == 1 and "Traceback" not in full.stderr
            assert "kiosk: the database" in full.stderr and "while the disk is full" in full.stderr
            filler.unlink()
            wait_for_line(proc, lines, "taking ratings again", 30)
            assert proc.poll() is None
            back = json.loads(kiosk("status", "--json", "--config", str(config)).stdout)  # shared again
            assert back["total"]["counted"] == 10
    assert proc.returncode == 0, "".join(lines[-30:])
    assert "Traceback" not in "".join(lines)

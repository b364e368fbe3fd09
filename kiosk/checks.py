"""Startup checks: what must hold for a terminal to work, each said in one sentence.

``kiosk run`` runs them before the window opens (a database that cannot be
written stops it; the rest warn) and ``kiosk status`` lists them. The GL
renderer is known only once a window exists, so the screens check it
(:func:`check_renderer`) and keep the verdict in the database for
``kiosk status``. No Kivy here.

    >>> check_clock(True).level
    'ok'
    >>> print(check_renderer("llvmpipe (LLVM 15.0.6, 128 bits)", pi_model="Raspberry Pi 4 Model B").message)
    The screen is drawn by llvmpipe, a software renderer: animations will stutter and the CPU runs hot. Check that dtoverlay=vc4-kms-v3d is in /boot/firmware/config.txt and that the terminal's user is in the video and render groups, then reboot.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

OK, WARN, FAIL = "ok", "warn", "fail"
#: Where the Raspberry Pi's firmware names the board.
PI_MODEL_PATH = Path("/proc/device-tree/model")
#: Mesa's software renderers: the Pi's GPU is not used.
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast")
PROBE_NAME = ".hai-long-write-check"


@dataclass(frozen=True)
class Check:
    """One check's verdict: ``level`` is ok, warn or fail; ``message`` says it (and what to do)."""

    name: str
    level: str
    message: str

    @property
    def ok(self) -> bool:
        return self.level == OK

    def to_dict(self) -> dict:
        return asdict(self)


def _write_probe(folder: Path) -> OSError | None:
    """Create, write and sync a file in ``folder``; the error, or None when it worked."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / PROBE_NAME
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as exc:
        return exc
    return None


def disk_is_full(path: str | Path) -> bool:
    """True when a write beside the database at ``path`` is refused because the disk is full."""
    exc = _write_probe(Path(path).resolve().parent)
    return exc is not None and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def check_database(path: str | Path, *, file: bool = True) -> Check:
    """The database's folder can be written (a file created, written, synced) and, with ``file``, so can the file.

    The test is a real write, so it holds for root too (whom file modes do
    not stop): a read-only filesystem, a full disk or a missing folder fail.
    ``kiosk run`` checks the folder first and the file after its recovery
    has moved a damaged one aside.
    """
    path = Path(path).resolve()
    folder = path.parent
    exc = _write_probe(folder)
    if exc is not None:
        return Check("database", FAIL, f"The database folder {folder} cannot be written ({_why(exc)}): "
                     f"{_fix(exc, folder)}")
    if file and path.exists():
        try:
            conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=5)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return Check("database", FAIL, f"The database {path} cannot be written ({exc}): give the "
                         "terminal's user write access to it, or move it aside so a fresh one is started.")
    return Check("database", OK, f"The database {path} can be written.")


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _fix(exc: OSError, folder: Path) -> str:
    if exc.errno == errno.EROFS:
        return ("it is on a read-only filesystem; remount it read-write or set [storage] path to a "
                "writable place (e.g. /var/lib/hai-long/kiosk.db).")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ("the disk is full; free some space (old logs, files in /tmp): the terminal takes ratings "
                "again by itself.")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"give the terminal's user write access (e.g. chown hailong {folder}) or set [storage] path."
    return "set [storage] path to a folder the terminal's user can write."


def check_disk(path: str | Path, min_free_mb: int) -> Check:
    """At least ``min_free_mb`` MiB are free on the database's filesystem."""
    folder = Path(path).resolve().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return Check("disk", WARN, f"The free space at {folder} cannot be read ({_why(exc)}).")
    free_mb = free / 2**20
    if free_mb < min_free_mb:
        return Check("disk", WARN, f"Only {free_mb:.1f} MB free at {folder} (fewer than [storage] min_free_mb = "
                     f"{min_free_mb}): free some space before the disk fills and ratings cannot be stored.")
    return Check("disk", OK, f"{free_mb:,.0f} MB free at {folder}.")


def check_gpio(*, mock_pins: bool = False, probe: Callable[[], str] | None = None,
               error: str | None = None) -> Check:
    """GPIO can be driven (``probe()`` names the pin factory), or mock pins are on.

    ``error`` given: the buttons already failed to open with that message.
    """
    if mock_pins:
        return Check("gpio", OK, "Mock pins (--mock-pins): keys 1-9 and 0 press the buttons; no GPIO is used.")
    if error is None and probe is not None:
        try:
            name = probe()
        except Exception as exc:  # hardware.HardwareError; kept generic so no hardware import here
            error = str(exc)
        else:
            return Check("gpio", OK, f"GPIO can be driven ({name}).")
    if error is None:
        return Check("gpio", OK, "GPIO can be driven.")
    return Check("gpio", WARN, f"No buttons: {error}. The terminal works by touch only. On a Raspberry Pi, "
                 "install lgpio (the [pi] extra) and put the terminal's user in the gpio group.")


def pi_model(path: Path = PI_MODEL_PATH) -> str | None:
    """The board's model (``"Raspberry Pi 4 Model B Rev 1.5"``), or None when this is not a Raspberry Pi."""
    try:
        model = path.read_bytes().rstrip(b"\0").decode("utf-8", "replace").strip()
    except OSError:
        return None
    return model if model.startswith("Raspberry Pi") else None


def check_renderer(renderer: str | None, *, pi_model: str | None) -> Check:
    """On a Raspberry Pi the screen must be drawn by its GPU (V3D), not by a software renderer."""
    if pi_model is None:
        shown = f" ({renderer})" if renderer else ""
        return Check("renderer", OK, f"Not a Raspberry Pi: the GL renderer{shown} is not checked.")
    if renderer is None:
        return Check("renderer", OK, f"{pi_model}: the GL renderer is checked when the screens start.")
    if any(name in renderer.lower() for name in SOFTWARE_RENDERERS):
        return Check("renderer", WARN, f"The screen is drawn by {renderer.split()[0]}, a software renderer: "
                     "animations will stutter and the CPU runs hot. Check that dtoverlay=vc4-kms-v3d is in "
                     "/boot/firmware/config.txt and that the terminal's user is in the video and render "
                     "groups, then reboot.")
    return Check("renderer", OK, f"{pi_model}: the screen is drawn by the GPU ({renderer}).")


def check_clock(synced: bool) -> Check:
    """The system clock has been set by the network."""
    if synced:
        return Check("clock", OK, "The clock is set by the network.")
    return Check("clock", WARN, "The clock is NOT confirmed by the network: ratings are kept and the server "
                 "corrects their times later. Connect the network; check `timedatectl` shows "
                 "\"System clock synchronized: yes\".")


def startup_checks(config, *, mock_pins: bool = False, gpio_probe: Callable[[], str] | None = None,
                   gpio_error: str | None = None, clock_synced: bool | None = None,
                   renderer: str | None = None, model: str | None | bool = False) -> list[Check]:
    """Every check for ``config``'s terminal, in the order a technician reads them.

    ``model`` False: read it from the board (:func:`pi_model`).
    """
    from .timekeeping import clock_is_synced

    if model is False:
        model = pi_model()
    return [
        check_database(config.storage.path),
        check_disk(config.storage.path, config.storage.min_free_mb),
        check_gpio(mock_pins=mock_pins, probe=gpio_probe, error=gpio_error),
        check_renderer(renderer, pi_model=model),
        check_clock(clock_is_synced() if clock_synced is None else clock_synced),
    ]


def blocking(checks: list[Check]) -> list[Check]:
    """The checks that stop ``kiosk run``."""
    return [c for c in checks if c.level == FAIL]


def format_checks(checks: list[Check], *, marks: dict[str, str] | None = None) -> list[str]:
    """One line per check: ``OK``, ``WARNING`` or ``FAILED`` (or ``marks[level]``) and the sentence.

        >>> format_checks([check_clock(True)], marks={OK: "ĐẠT", WARN: "CẢNH BÁO", FAIL: "LỖI"})
        ['ĐẠT      clock: The clock is set by the network.']
    """
    marks = marks or {OK: "OK", WARN: "WARNING", FAIL: "FAILED"}
    width = max(map(len, marks.values()))
    return [f"{marks[c.level]:<{width}} {c.name}: {c.message}" for c in checks]

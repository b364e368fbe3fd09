"""What the terminal knows about time at a press.

A Raspberry Pi has no battery clock, so each press carries, beside the wall
clock, the kernel boot id and a monotonic reading: the server can later place
presses taken before the network set the clock.
"""

from __future__ import annotations

import ctypes
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
#: systemd-timesyncd touches this file once it has set the clock.
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
_TIME_ERROR = 5  # adjtimex() result while the kernel clock is unsynchronised


@dataclass(frozen=True)
class Stamp:
    """The time facts stored with one press."""

    created_at: str
    boot_id: str
    monotonic_ns: int
    clock_synced: int


def iso_utc(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds: ``2026-11-25T09:30:12.345Z``."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def read_boot_id(path: Path = BOOT_ID_PATH) -> str:
    """The kernel's boot id, or a random one for this process where there is none."""
    try:
        return path.read_text().strip()
    except OSError:
        return _PROCESS_BOOT_ID


_PROCESS_BOOT_ID = str(uuid.uuid4())


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>: modes, then 10 longs, then padding.
    _fields_ = [("modes", ctypes.c_uint)] + [
        (name, ctypes.c_long)
        for name in ("offset", "freq", "maxerror", "esterror")
    ] + [("status", ctypes.c_int)] + [
        (name, ctypes.c_long)
        for name in ("constant", "precision", "tolerance")
    ] + [("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long)] + [
        (name, ctypes.c_long) for name in ("tick", "ppsfreq", "jitter")
    ] + [("shift", ctypes.c_int)] + [
        (name, ctypes.c_long) for name in ("stabil", "jitcnt", "calcnt", "errcnt", "stbcnt")
    ] + [("tai", ctypes.c_int), ("padding", ctypes.c_int * 11)]


def _load_libc():
    # Once, at import: find_library() runs ldconfig, far too slow for a press.
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _kernel_clock_synced() -> bool | None:
    """Ask the kernel (read-only adjtimex) whether NTP has synchronised it."""
    try:
        timex = _Timex()
        state = _LIBC.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR


def clock_is_synced() -> bool:
    """True when the system clock is known to have been set by the network."""
    if TIMESYNC_FLAG.exists():
        return True
    return bool(_kernel_clock_synced())


class SystemClock:
    """The real clocks of this machine; tests pass their own object with ``stamp()``.

    The sync state is read at most every ``sync_check_s`` seconds: it is a
    syscall, and it only ever changes once per boot.
    """

    def __init__(self, *, sync_check_s: float = 30.0):
        self.boot_id = read_boot_id()
        self._sync_check_s = sync_check_s
        self._synced = False
        self._checked_at: float | None = None

    @property
    def is_synced(self) -> bool:
        now = time.monotonic()
        if self._synced:
            return True
        if self._checked_at is None or now - self._checked_at >= self._sync_check_s:
            self._synced = clock_is_synced()
            self._checked_at = now
        return self._synced

    def stamp(self) -> Stamp:
        return Stamp(
            created_at=iso_utc(datetime.now(timezone.utc)),
            boot_id=self.boot_id,
            monotonic_ns=monotonic_ns(),
            clock_synced=int(self.is_synced),
        )


def monotonic_ns() -> int:
    """Nanoseconds since boot, counting suspend (CLOCK_BOOTTIME where there is one)."""
    try:
        return time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):
        return time.monotonic_ns()

"""The ratings' high-water mark: how many ratings the terminal has committed, kept apart from the database.

SQLite's WAL ends at its first damaged frame without a word: a WAL truncated
or scribbled over (a bad SD card, a power cut at the wrong moment) starts the
terminal with fewer ratings. The mark, a one-line file beside the database
(``kiosk.db-mark``), says how many there were, so the loss is noticed.

Each committed press rewrites the line in place (one ``pwrite``, no fsync:
it survives a crash of the process, and costs microseconds); the file is
fsynced on idle and at close (:meth:`HighWaterMark.sync`). What a power cut
can still hide: the presses since the last sync.

    >>> import tempfile
    >>> mark = HighWaterMark(Path(tempfile.mkdtemp()) / "kiosk.db-mark")
    >>> mark.read() is None
    True
    >>> mark.note(41)
    >>> mark.sync()
    True
    >>> mark.read()
    41
    >>> mark.close()
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

#: Beside ``kiosk.db``: ``kiosk.db-mark``.
SUFFIX = "-mark"
#: ``ratings <count> <crc32 of the count>``, padded to a fixed width so that one pwrite replaces it whole.
WIDTH = 48


def mark_path(database: str | Path) -> Path:
    """The mark file of the database at ``database``."""
    database = Path(database)
    return database.with_name(database.name + SUFFIX)


def _line(count: int) -> bytes:
    body = f"ratings {count} {zlib.crc32(str(count).encode()):08x}"
    return body.ljust(WIDTH - 1).encode("ascii") + b"\n"


def _parse(data: bytes) -> int | None:
    try:
        word, count, crc = data.decode("ascii").split()
        if word == "ratings" and f"{zlib.crc32(count.encode()):08x}" == crc:
            return int(count)
    except (UnicodeDecodeError, ValueError):
        pass
    return None


class HighWaterMark:
    """The mark file at ``path``: :meth:`read` it, :meth:`note` each new count, :meth:`sync` it to disk."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None
        self._dirty = False
        self._new = False

    def read(self) -> int | None:
        """The count last written, or None (no file yet, or a damaged one)."""
        try:
            return _parse(self.path.read_bytes())
        except OSError:
            return None

    def note(self, count: int) -> None:
        """Write ``count`` in place (no fsync). Raises OSError (e.g. the disk is full)."""
        if self._fd is None:
            self._new = not self.path.exists()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(self._fd, _line(count), 0)
        self._dirty = True

    def sync(self) -> bool:
        """Fsync what :meth:`note` wrote; True when there was something to sync."""
        if self._fd is None or not self._dirty:
            return False
        os.fsync(self._fd)
        if self._new:  # a new file: its name must reach the disk too
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
            self._new = False
        self._dirty = False
        return True

    def close(self) -> None:
        if self._fd is not None:
            try:
                self.sync()
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None

"""What every pulled file does, whatever its format."""

from __future__ import annotations

import os
from pathlib import Path

from ..client import PullError


class PulledFile:
    """A file of pulled ratings: where the last pull stopped, and appending the next page.

    ``append`` returns only once the page and its cursor are saved together
    (or, for ``.xlsx``, staged for :meth:`close`). Use as a context manager:
    leaving it saves what was appended, whether the pull finished or not.
    """

    def __init__(self, path: Path, server_url: str):
        self.path = path
        self.server_url = server_url
        #: The cursor of the last rating in the file (0: none yet).
        self.last_cursor = 0
        #: Ratings in the file, this pull's included.
        self.total = 0
        #: Ratings this pull added.
        self.added = 0

    def append(self, ratings: list[dict], last_cursor: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Save what is staged and release the file."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_server(self, stored: str | None) -> None:
        if stored is not None and stored != self.server_url:
            raise PullError(f"{self.path.name} holds ratings pulled from {stored}, not {self.server_url}: "
                            "pull into another file")

    def new_ratings(self, ratings: list[dict]) -> list[dict]:
        """The ratings after the file's last cursor (a guard: the server sends only those)."""
        if ratings and ratings[0]["cursor"] <= self.last_cursor:
            return [r for r in ratings if r["cursor"] > self.last_cursor]
        return ratings


def replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a crash leaves either the old or the new content, on disk."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

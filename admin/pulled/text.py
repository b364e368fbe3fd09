"""``.csv`` and ``.jsonl``: text files appended page by page, with a sidecar holding where they stand.

The sidecar ``FILE.pull-state.json`` says which server the file comes from,
the last cursor, how many ratings the file holds and its length in bytes
after the last whole page. A page is appended and fsynced first, then the
sidecar is replaced atomically; if the pull dies in between, the next one
cuts the file back to the recorded length before it appends, so no rating
is written twice and no half line is left.

CSV is UTF-8 with a byte-order mark (Excel then shows Vietnamese right), a
header row once, CRLF line ends, an empty cell for null. JSON Lines has one
object per line, UTF-8, null as null.
"""

from __future__ import annotations

import csv
import io
import json
import os

from reports.spreadsheet_text import csv_row

from ..client import PULLED_FIELDS, RATING_FIELDS, PullError
from .base import PulledFile, replace_atomically

STATE_SUFFIX = ".pull-state.json"


class TextPulledFile(PulledFile):
    #: What a new file starts with.
    preamble = b""
    #: What a file made before the officers' and dossiers' columns (issue 12) starts with: it goes on with its columns.
    older_preamble: bytes | None = None
    #: The columns written.
    fields = PULLED_FIELDS

    def __init__(self, path, server_url: str):
        super().__init__(path, server_url)
        self.state_path = path.with_name(path.name + STATE_SUFFIX)
        self.length = 0
        if self.state_path.exists() and path.exists():
            self._resume()
        elif path.exists() and not self._is_bare():
            raise PullError(f"{path.name} already exists but was not made by kiosk-admin pull "
                            f"(no {self.state_path.name} beside it): pull into a new file")
        else:  # new (its state, if any, left behind by a deleted file), or made by a pull that died at once
            path.write_bytes(self.preamble)
            self.length = len(self.preamble)
            self._save_state()

    def _is_bare(self) -> bool:
        """Empty, or only the preamble: nothing pulled into it yet."""
        size = self.path.stat().st_size
        return size == 0 or (size == len(self.preamble) and self.path.read_bytes() == self.preamble)

    def _resume(self) -> None:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            stored, cursor, total, length = state["server"], state["last_cursor"], state["ratings"], state["bytes"]
        except (OSError, ValueError, KeyError, TypeError):
            raise PullError(f"{self.state_path.name} is damaged: pull into a new file") from None
        self.check_server(stored)
        size = self.path.stat().st_size
        if size < length:
            raise PullError(f"{self.path.name} is shorter than {self.state_path.name} says "
                            "(changed outside kiosk-admin?): pull into a new file")
        with open(self.path, "rb") as existing:
            start = existing.read(max(len(self.preamble), len(self.older_preamble or b"")))
        if self.older_preamble is not None and start.startswith(self.older_preamble) \
                and not start.startswith(self.preamble):
            self.preamble, self.fields = self.older_preamble, RATING_FIELDS
        elif not start.startswith(self.preamble):
            raise PullError(f"{self.path.name} does not start like a pulled file: pull into a new file")
        if size > length:
            # The tail of a page whose cursor was never saved: it comes again from the server.
            os.truncate(self.path, length)
        self.last_cursor, self.total, self.length = cursor, total, length

    def append(self, ratings: list[dict], last_cursor: int) -> None:
        ratings = self.new_ratings(ratings)
        data = self.encode(ratings)
        with open(self.path, "ab") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        self.length += len(data)
        self.total += len(ratings)
        self.added += len(ratings)
        self.last_cursor = last_cursor
        self._save_state()

    def encode(self, ratings: list[dict]) -> bytes:
        raise NotImplementedError

    def _save_state(self) -> None:
        state = {"server": self.server_url, "last_cursor": self.last_cursor, "ratings": self.total,
                 "bytes": self.length, "file": self.path.name}
        replace_atomically(self.state_path, json.dumps(state, indent=1).encode("utf-8"))


class CsvPulledFile(TextPulledFile):
    preamble = ("\ufeff" + ",".join(PULLED_FIELDS) + "\r\n").encode("utf-8")
    older_preamble = ("\ufeff" + ",".join(RATING_FIELDS) + "\r\n").encode("utf-8")

    def encode(self, ratings: list[dict]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerows(csv_row(rating.get(name) for name in self.fields) for rating in ratings)
        return out.getvalue().encode("utf-8")


class JsonlPulledFile(TextPulledFile):
    def encode(self, ratings: list[dict]) -> bytes:
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        return "".join(dumps({name: rating.get(name) for name in self.fields}) + "\n"
                       for rating in ratings).encode("utf-8")

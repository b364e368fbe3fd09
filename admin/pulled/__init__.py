"""The files ``kiosk-admin pull`` appends to, one module per format, chosen by extension.

    with open_pulled_file("ratings.db", server_url) as pulled:
        after = pulled.last_cursor           # where the previous pull stopped
        pulled.append(page.ratings, page.last_cursor)

Every format keeps the server URL and the last cursor it holds, so the next
pull continues where this one stopped and no rating is written twice:

- ``.db``: SQLite (sqlite-utils), tables ``ratings`` and ``pull_state``; each page and its cursor in
  one transaction.
- ``.csv`` / ``.jsonl``: the cursor, the rating count and the file's length after the last whole page in
  a sidecar ``FILE.pull-state.json``, replaced atomically after the page is on disk; a resumed pull
  first cuts the file back to that length (the tail of a page whose cursor was never saved).
- ``.xlsx``: rewritten as a whole (old rows streamed into a new workbook, then the new ones) and put in
  place atomically when the pull ends; the cursor is in a sheet ``pull_state``.
"""

from __future__ import annotations

from pathlib import Path

from ..client import PullError
from .base import PulledFile

#: Extensions ``kiosk-admin pull --out`` accepts.
EXTENSIONS = (".db", ".csv", ".xlsx", ".jsonl")


def extension_rule(name: str) -> str:
    """'ratings.txt must end in .db, .csv, .xlsx or .jsonl'"""
    return f"{name} must end in {', '.join(EXTENSIONS[:-1])} or {EXTENSIONS[-1]}"


def open_pulled_file(path, server_url: str) -> PulledFile:
    """The pulled file at ``path`` (made if missing) for ratings from ``server_url``.

    Raises :class:`ValueError` for an unknown extension and :class:`~admin.client.PullError`
    when the file cannot be used (another server's, not a pulled file, damaged).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".db":
        from .sqlite import SqlitePulledFile as kind
    elif suffix == ".csv":
        from .text import CsvPulledFile as kind
    elif suffix == ".jsonl":
        from .text import JsonlPulledFile as kind
    elif suffix == ".xlsx":
        from .excel import ExcelPulledFile as kind
    else:
        raise ValueError(extension_rule(path.name))
    if not path.parent.is_dir():
        raise PullError(f"the folder {path.parent} does not exist")
    return kind(path, server_url)


__all__ = ["EXTENSIONS", "PulledFile", "extension_rule", "open_pulled_file"]

"""The remote settings a terminal applied, and the last set it refused, in its SQLite file.

Table ``remote_settings`` (the terminal's migration m007): the row ``applied`` holds the version, the values
(JSON) and when they were applied; the row ``refused`` the last version refused, why and when. Plain functions
on a ``sqlite_utils.Database``, so the uploader (its own connection) and the terminal's store (its own) share them.

    >>> from sqlite_utils import Database
    >>> db = Database(memory=True)
    >>> db["remote_settings"].create({"kind": str, "version": str, "settings": str, "at": str, "why": str}, pk="kind")
    <Table remote_settings (kind, version, settings, at, why)>
    >>> store_applied(db, "a1b2", {"feedback.thanks_s": 5.0}, at="2026-12-03T08:00:00.000Z")
    >>> applied_settings(db).values, applied_settings(db).version
    ({'feedback.thanks_s': 5.0}, 'a1b2')
    >>> store_refused(db, "c3d4", "feedback.thanks_s: expected at least 0.5 seconds, got 0.1",
    ...               at="2026-12-03T08:05:00.000Z")
    >>> settings_error(db)
    'c3d4: feedback.thanks_s: expected at least 0.5 seconds, got 0.1'
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .protocol import LAST_ERROR_MAX

TABLE = "remote_settings"


@dataclass(frozen=True)
class SettingsRecord:
    """A set applied (``values``) or refused (``why``), with its version and when."""

    version: str
    at: str
    values: dict
    why: str | None = None


def has_table(db) -> bool:
    """True once the terminal's migration m007 made the table (a file of an older terminal has none)."""
    return db[TABLE].exists()


def _read(db, kind: str) -> SettingsRecord | None:
    if not has_table(db):
        return None
    row = db.execute(f"SELECT version, at, settings, why FROM {TABLE} WHERE kind = ?", [kind]).fetchone()
    if row is None:
        return None
    try:
        values = json.loads(row[2]) if row[2] else {}
    except ValueError:
        values = {}
    return SettingsRecord(row[0], row[1], values if isinstance(values, dict) else {}, row[3])


def _write(db, kind: str, version: str, at: str, values: dict | None, why: str | None) -> None:
    db.execute(
        f"INSERT INTO {TABLE} (kind, version, settings, at, why) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(kind) DO UPDATE SET version = excluded.version, settings = excluded.settings,"
        " at = excluded.at, why = excluded.why",
        [kind, version, None if values is None else json.dumps(values, ensure_ascii=False, sort_keys=True), at, why])


def applied_settings(db) -> SettingsRecord | None:
    """The set this terminal runs (None: none applied yet, the local file alone)."""
    return _read(db, "applied")


def refused_settings(db) -> SettingsRecord | None:
    """The last set this terminal refused, and why (None: none)."""
    return _read(db, "refused")


def store_applied(db, version: str, values: dict, *, at: str) -> None:
    """Note ``values`` (``"section.key"`` -> value) of ``version`` as the set this terminal runs."""
    with db.atomic():
        _write(db, "applied", version, at, values, None)


def store_refused(db, version: str, why: str, *, at: str) -> None:
    """Note that ``version`` was refused and why (the set applied stays)."""
    with db.atomic():
        _write(db, "refused", version, at, None, why)


def settings_error(db) -> str | None:
    """``"<version>: <why>"`` for the heartbeat while the last refusal is newer than the set applied, else None.

    Cut to what a heartbeat may carry (:data:`sync.protocol.LAST_ERROR_MAX`).
    """
    refused = refused_settings(db)
    if refused is None:
        return None
    applied = applied_settings(db)
    if applied is not None and (applied.version == refused.version or applied.at >= refused.at):
        return None
    text = f"{refused.version}: {refused.why or 'no reason given'}"
    return text if len(text) <= LAST_ERROR_MAX else text[:LAST_ERROR_MAX - 1] + "…"

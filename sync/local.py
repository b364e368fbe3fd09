"""The uploader's view of the terminal's SQLite file, through its own connection.

The ``ratings`` table is the contract of ARCHITECTURE.md; the sync keeps its
own state beside it (a named migration set ``sync``), so it imports nothing
from the terminal.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from . import settings_state
from .protocol import Invitation, Rating, Shift

migrations = Migrations("sync")

#: The protocol's rating fields, in the model's order: the columns the uploader reads.
RATING_FIELDS = tuple(Rating.model_fields)
#: Rating fields left out of a rating when they are null, so a server older than them sees the old rating.
OPTIONAL_RATING_FIELDS = ("officer", "dossier")
SHIFT_FIELDS = tuple(Shift.model_fields)
INVITATION_FIELDS = tuple(Invitation.model_fields)


@migrations()
def s001_sync_state(db):
    # Unsynced rows only, in insertion order: stays small however long the history.
    db.execute("CREATE INDEX IF NOT EXISTS idx_ratings_unsynced ON ratings (sealed) WHERE synced_at IS NULL")
    db["sync_quarantine"].create({"id": str, "status": str, "at": str, "detail": str}, pk="id")
    db["sync_state"].create({"key": str, "value": str}, pk="key")


#: The causes kept with a rating set aside (``sync_quarantine.detail``).
CONFLICT_CAUSE = "the server holds a different rating with this id"
REFUSED_CAUSE = "refused by the server: {reason}"
UNSENDABLE_CAUSE = "cannot be sent: {reason}"


def kept_aside_causes(db: Database) -> dict[str, int]:
    """Ratings kept aside by cause, most first (read-only: ``kiosk status`` uses it on its own connection)."""
    if not db["sync_quarantine"].exists():
        return {}
    rows = db.execute("SELECT detail, count(*) AS n FROM sync_quarantine GROUP BY detail ORDER BY n DESC, detail")
    return {detail or "unknown": n for detail, n in rows.fetchall()}


class LocalRatings:
    """Pending ratings, acknowledgements and the sync's own state in the terminal's file."""

    def __init__(self, path: str | Path | Database):
        if isinstance(path, Database):
            self.db = path
        else:
            conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self.db = Database(conn)
        migrations.apply(self.db)
        # The protocol's optional fields a store of before them has no column for (issue 12's officer and
        # dossier until the terminal's own migration adds them) are not sent: the server takes them as absent.
        have = set(self.db["ratings"].columns_dict)
        self.fields = tuple(name for name in RATING_FIELDS if name in have)
        #: The terminal's tables of issue 12 (its migrations m005, m006) are there: shifts, invitations and the
        #: officers list can be sent and kept. A file without them sends ratings only.
        self.has_counter_tables = all(self.db[name].exists() for name in ("shifts", "invitations", "officers",
                                                                          "kiosk_meta"))

    def pending(self, limit: int) -> list[dict]:
        """Sealed, unacknowledged, not quarantined ratings, oldest stored first.

        Plain dicts with exactly the fields of :class:`sync.protocol.Rating`
        (the server validates each one; the terminal wrote them itself).
        """
        rows = self.db.execute(
            f"SELECT {', '.join(self.fields)} FROM ratings INDEXED BY idx_ratings_unsynced"
            " WHERE sealed = 1 AND synced_at IS NULL"
            " AND id NOT IN (SELECT id FROM sync_quarantine) ORDER BY rowid LIMIT ?",
            [limit],
        ).fetchall()
        return [{name: value for name, value in zip(self.fields, row)
                 if value is not None or name not in OPTIONAL_RATING_FIELDS} for row in rows]

    # -- shifts and invitations (issue 12) ---------------------------------
    def pending_shifts(self, limit: int) -> list[dict]:
        """Closed shifts the server has not acknowledged, oldest first (open ones wait for their sign-out)."""
        if not self.has_counter_tables:
            return []
        rows = self.db.execute(
            f"SELECT {', '.join(SHIFT_FIELDS)} FROM shifts WHERE signed_out_at IS NOT NULL AND synced_at IS NULL"
            " ORDER BY signed_in_at, rowid LIMIT ?", [limit]).fetchall()
        return [dict(zip(SHIFT_FIELDS, row)) for row in rows]

    def pending_invitations(self, limit: int) -> list[dict]:
        """Closed invitations the server has not acknowledged, oldest first."""
        if not self.has_counter_tables:
            return []
        rows = self.db.execute(
            f"SELECT {', '.join(INVITATION_FIELDS)} FROM invitations"
            " WHERE outcome IS NOT NULL AND synced_at IS NULL ORDER BY created_at, rowid LIMIT ?", [limit]).fetchall()
        return [dict(zip(INVITATION_FIELDS, row)) for row in rows]

    def acknowledge_links(self, shift_ids: list[str], invitation_ids: list[str], at: str) -> None:
        """Mark the shifts and invitations the server holds as synced, in one transaction."""
        with self.db.atomic():
            self.db.conn.executemany("UPDATE shifts SET synced_at = ? WHERE id = ?", [(at, i) for i in shift_ids])
            self.db.conn.executemany("UPDATE invitations SET synced_at = ? WHERE id = ?",
                                     [(at, i) for i in invitation_ids])

    # -- the officers list and the dossiers' retention (issue 12) ------------
    def officers_version(self) -> str:
        """The version of the officers list held ("" before the first)."""
        if not self.has_counter_tables:
            return ""
        row = self.db.execute("SELECT value FROM kiosk_meta WHERE key = 'officers_version'").fetchone()
        return row[0] if row and row[0] else ""

    def replace_officers(self, officers: list[dict], *, version: str, retention_days: int) -> None:
        """Replace the officers list whole (rows of table ``officers``: code, name, pin_hash, counters as a
        JSON list, photo bytes) and note its version and the dossiers' retention, in one transaction."""
        rows = [(o["code"], o["name"], o.get("pin_hash"), json.dumps(o.get("counters") or [], ensure_ascii=False),
                 o.get("photo"), version) for o in officers]
        with self.db.atomic():
            self.db.execute("DELETE FROM officers")
            self.db.conn.executemany(
                "INSERT INTO officers (code, name, pin_hash, counters, photo, version) VALUES (?, ?, ?, ?, ?, ?)",
                rows)
            self.db.conn.executemany(
                "INSERT INTO kiosk_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [("officers_version", version), ("dossier_retention_days", str(retention_days))])

    def dossier_retention_days(self) -> int | None:
        """How long dossier codes stay on this terminal, as the server last said (None: not said yet)."""
        if not self.has_counter_tables:
            return None
        row = self.db.execute("SELECT value FROM kiosk_meta WHERE key = 'dossier_retention_days'").fetchone()
        try:
            return int(row[0]) if row else None
        except ValueError:
            return None

    def blank_dossiers(self, before: str) -> int:
        """Blank the dossier code of synced ratings and invitations made before ``before`` (ISO UTC), the
        retention the server sets; the ratings and invitations themselves are kept."""
        with self.db.atomic():
            # Through the terminal's partial index of linked ratings: only those are visited, not a year of presses.
            ratings = self.db.execute(
                "UPDATE ratings INDEXED BY idx_ratings_dossier SET dossier = NULL WHERE dossier IS NOT NULL"
                " AND synced_at IS NOT NULL AND created_at < ?", [before]).rowcount
            invitations = self.db.execute(
                "UPDATE invitations SET dossier = NULL WHERE dossier IS NOT NULL AND synced_at IS NOT NULL"
                " AND created_at < ?", [before]).rowcount
        return ratings + invitations

    # -- the remote settings (issue 13) ----------------------------------------
    def applied_settings_version(self) -> str | None:
        """The version of the remote settings this terminal runs (None: none applied yet)."""
        record = settings_state.applied_settings(self.db)
        return record.version if record is not None else None

    def refused_settings_version(self) -> str | None:
        """The version of the last remote settings this terminal refused (None: none)."""
        record = settings_state.refused_settings(self.db)
        return record.version if record is not None else None

    def refuse_settings(self, version: str, why: str, at: str) -> None:
        """Note that the set ``version`` was refused, and why (the set applied stays)."""
        if settings_state.has_table(self.db):
            settings_state.store_refused(self.db, version, why, at=at)

    def settings_error(self) -> str | None:
        """``"<version>: <why>"`` while the last refusal is newer than the set applied (for the heartbeat)."""
        return settings_state.settings_error(self.db)

    def pending_count(self) -> int:
        # Quarantined rows are sealed and never synced: subtracting their count
        # keeps this a plain count over the small partial index (no per-row lookup).
        unsynced = self.db.execute(
            "SELECT count(*) FROM ratings INDEXED BY idx_ratings_unsynced WHERE sealed = 1 AND synced_at IS NULL"
        ).fetchone()[0]
        return unsynced - self.quarantined()

    def acknowledge(self, acks: list[tuple[str, str]], at: str, reasons: dict[str, str] | None = None) -> None:
        """Mark stored/duplicate ids synced and keep conflicts and refusals aside, in one transaction.

        ``reasons``: the server's reason for each refused id (kept as its cause).
        """
        synced = [(at, rid) for rid, status in acks if status in ("stored", "duplicate")]
        aside = [(rid, status, at, CONFLICT_CAUSE if status == "conflict"
                  else REFUSED_CAUSE.format(reason=(reasons or {}).get(rid) or "no reason given"))
                 for rid, status in acks if status in ("conflict", "refused")]
        with self.db.atomic():
            self.db.conn.executemany("UPDATE ratings SET synced_at = ? WHERE id = ?", synced)
            self._keep_aside(aside)

    def keep_aside(self, causes: dict[str, str], at: str, *, status: str = "refused") -> None:
        """Keep ratings aside (never deleted, never resent) with their cause, e.g. one the terminal cannot send."""
        with self.db.atomic():
            self._keep_aside([(rid, status, at, cause) for rid, cause in causes.items()])

    def _keep_aside(self, rows: list[tuple]) -> None:
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO sync_quarantine (id, status, at, detail) VALUES (?, ?, ?, ?)", rows)

    def quarantined(self) -> int:
        """How many ratings are kept aside (conflicts and refusals)."""
        return self.db.execute("SELECT count(*) FROM sync_quarantine").fetchone()[0]

    def kept_aside_causes(self) -> dict[str, int]:
        """How many ratings are kept aside for each cause, most first."""
        return kept_aside_causes(self.db)

    def relabel_unsynced(self, terminal_id: str) -> int:
        """Give ratings that never reached a server the terminal's new id (provisioning)."""
        cursor = self.db.execute(
            "UPDATE ratings SET terminal_id = ? WHERE synced_at IS NULL AND terminal_id != ?",
            [terminal_id, terminal_id],
        )
        return cursor.rowcount

    def save_state(self, state: dict) -> None:
        with self.db.atomic():
            self.db.conn.executemany(
                "INSERT INTO sync_state (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(k, json.dumps(v)) for k, v in state.items()],
            )

    def load_state(self) -> dict:
        return {row["key"]: json.loads(row["value"]) for row in self.db["sync_state"].rows}

    def close(self) -> None:
        self.db.close()

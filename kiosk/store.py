"""The local rating store: one row per press in SQLite, committed before thanks.

    >>> from sqlite_utils import Database
    >>> store = RatingStore(Database(memory=True), terminal_id="t1")
    >>> row = store.record_press("satisfied", source="touch")
    >>> store.db["ratings"].get(row["id"])["sealed"]
    1
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlite_utils import Database

from .errors import StoreError
from .migrations import migrations
from .ratings import GIVEN, REASON_OUTCOMES, RATINGS, SOURCES, TIMEOUT
from .timekeeping import SystemClock, iso_utc

log = logging.getLogger(__name__)

#: Why a press was stored with ``filtered = 1`` (column ``filter_cause``; it stays on the terminal, the
#: upload carries ``filtered`` only): sooner than ``repeat_interval_s`` after the last counted press; while
#: the thank-you or the reason question was up; while a technician had the service screen up.
REPEAT, BUSY, SERVICE = "repeat", "busy", "service"
FILTER_CAUSES = (REPEAT, BUSY, SERVICE)
#: The key of filtered rows without a cause (stored before causes were recorded) in :meth:`RatingStore.counts`.
UNKNOWN_CAUSE = "unknown"

_INSERT = (
    "INSERT INTO ratings (id, terminal_id, rating, reason, reason_outcome, source, created_at,"
    " boot_id, monotonic_ns, clock_synced, filtered, filter_cause, sealed, synced_at)"
    " VALUES (:id, :terminal_id, :rating, :reason, :reason_outcome, :source, :created_at,"
    " :boot_id, :monotonic_ns, :clock_synced, :filtered, :filter_cause, :sealed, :synced_at)"
)


@dataclass(frozen=True)
class Recovery:
    """A database file that could not be opened and was moved aside."""

    moved_to: str
    at: str
    why: str


def open_database(path: str | Path) -> tuple[Database, Recovery | None]:
    """Open (or create) the SQLite file at ``path`` in WAL mode with full sync.

    A file that is not a database, fails its integrity check or cannot be
    read is renamed to ``<name>.corrupt-<UTC time>`` (never deleted) and a
    fresh file is started; the returned :class:`Recovery` says so.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder for the database {path}: {exc.strerror}") from None
    recovery = None
    try:
        db = _connect(path)
    except (sqlite3.DatabaseError, OSError) as exc:
        recovery = _move_aside(path, exc)
        log.warning("database %s was unreadable (%s); moved aside to %s, starting a fresh one",
                    path, recovery.why, recovery.moved_to)
        try:
            db = _connect(path)
        except (sqlite3.DatabaseError, OSError) as exc2:
            raise StoreError(f"cannot start a fresh database at {path}: {exc2}") from None
    return db, recovery


def _connect(path: Path) -> Database:
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise PermissionError(f"no permission to read and write {path}")
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {verdict}")
        db = Database(conn)
        migrations.apply(db)
    except BaseException:
        conn.close()
        raise
    return db


def _move_aside(path: Path, exc: BaseException) -> Recovery:
    when = datetime.now(timezone.utc)
    moved_to = path.with_name(f"{path.name}.corrupt-{when.strftime('%Y%m%dT%H%M%SZ')}")
    n = 1
    while moved_to.exists():
        moved_to = moved_to.with_name(f"{path.name}.corrupt-{when.strftime('%Y%m%dT%H%M%SZ')}-{n}")
        n += 1
    try:
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(moved_to.with_name(moved_to.name + suffix))
        if path.exists():
            path.rename(moved_to)
    except OSError as move_exc:
        raise StoreError(
            f"database {path} is unreadable ({exc}) and cannot be moved aside ({move_exc.strerror}); "
            f"check the permissions of {path.parent}"
        ) from None
    return Recovery(moved_to=str(moved_to), at=iso_utc(when), why=str(exc) or type(exc).__name__)


class RatingStore:
    """Writes presses and their seals; reads the counts ``kiosk status`` shows.

    ``db`` is a path or an open :class:`sqlite_utils.Database`; ``clock`` is
    anything with a ``stamp()`` method (see :class:`kiosk.timekeeping.SystemClock`).
    """

    def __init__(self, db: Database | str | Path, *, terminal_id: str, clock=None):
        self.recovery: Recovery | None = None
        if isinstance(db, Database):
            migrations.apply(db)
        else:
            db, self.recovery = open_database(db)
        self.db = db
        # One connection serves gpiozero's threads and Kivy's: one statement at a time.
        self._lock = threading.RLock()
        self.terminal_id = terminal_id
        self.clock = clock or SystemClock()
        if self.recovery:
            self.set_meta(
                recovered_from=self.recovery.moved_to,
                recovered_at=self.recovery.at,
                recovered_why=self.recovery.why,
            )

    # -- writes ---------------------------------------------------------
    def record_press(self, rating: str, *, source: str, filtered: bool = False,
                     filter_cause: str | None = None, ask_reason: bool = False) -> dict:
        """Store one press and commit it; returns the row as stored.

        A counted dissatisfied press that will be asked its reason is stored
        unsealed; everything else is sealed at once. ``filter_cause`` (one of
        :data:`FILTER_CAUSES`) says why a filtered press was not counted.
        """
        if rating not in RATINGS:
            raise ValueError(f"unknown rating {rating!r}")
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        if filter_cause is not None and (filter_cause not in FILTER_CAUSES or not filtered):
            raise ValueError(f"filter cause {filter_cause!r} goes with a filtered press and is one of "
                             f"{', '.join(FILTER_CAUSES)}")
        stamp = self.clock.stamp()
        open_question = ask_reason and not filtered
        row = {
            "id": str(uuid.uuid4()),
            "terminal_id": self.terminal_id,
            "rating": rating,
            "reason": None,
            "reason_outcome": None,
            "source": source,
            "created_at": stamp.created_at,
            "boot_id": stamp.boot_id,
            "monotonic_ns": stamp.monotonic_ns,
            "clock_synced": stamp.clock_synced,
            "filtered": int(filtered),
            "filter_cause": filter_cause,
            "sealed": 0 if open_question else 1,
            "synced_at": None,
        }
        try:
            # execute() commits at once: WAL + synchronous=FULL make it durable.
            with self._lock:
                self.db.execute(_INSERT, row)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot store the press: {exc}") from exc
        log.info("stored rating id=%s rating=%s source=%s filtered=%d%s sealed=%d",
                 row["id"], rating, source, row["filtered"], f" ({filter_cause})" if filter_cause else "",
                 row["sealed"])
        return row

    def seal(self, rating_id: str, outcome: str, reason: str | None = None) -> bool:
        """Seal an open rating with its reason outcome; False if it was already sealed."""
        if outcome not in REASON_OUTCOMES:
            raise ValueError(f"unknown reason outcome {outcome!r}")
        if (outcome == GIVEN) != (reason is not None):
            raise ValueError("a reason goes with outcome 'given' and only with it")
        with self._lock:
            cursor = self.db.execute(
                "UPDATE ratings SET reason = ?, reason_outcome = ?, sealed = 1 WHERE id = ? AND sealed = 0",
                [reason, outcome, rating_id],
            )
        if cursor.rowcount:
            log.info("sealed rating id=%s outcome=%s reason=%s", rating_id, outcome, reason)
        return bool(cursor.rowcount)

    def seal_open_ratings(self) -> int:
        """Seal every row left open (by a crash or power cut) as ``timeout``."""
        cursor = self.db.execute(
            "UPDATE ratings SET reason_outcome = ?, sealed = 1 WHERE sealed = 0", [TIMEOUT]
        )
        if cursor.rowcount:
            log.warning("sealed %d rating(s) left open by an earlier stop as timeout", cursor.rowcount)
        return cursor.rowcount

    def mark_started(self) -> None:
        self.set_meta(last_start=iso_utc(datetime.now(timezone.utc)))

    def set_meta(self, **values: str) -> None:
        with self._lock, self.db.atomic():
            for key, value in values.items():
                self.db.execute(
                    "INSERT INTO kiosk_meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [key, value],
                )

    # -- reads ----------------------------------------------------------
    def meta(self) -> dict[str, str]:
        with self._lock:
            return {row["key"]: row["value"] for row in self.db["kiosk_meta"].rows}

    def get(self, rating_id: str) -> dict:
        with self._lock:
            return self.db["ratings"].get(rating_id)

    def counts(self, since: str | None = None) -> dict:
        """Counted ratings per level, and filtered presses (in all and by cause), from ``since`` (ISO UTC) on.

            >>> from sqlite_utils import Database
            >>> store = RatingStore(Database(memory=True), terminal_id="t1")
            >>> _ = store.record_press("satisfied", source="button")
            >>> _ = store.record_press("satisfied", source="button", filtered=True, filter_cause="service")
            >>> counts = store.counts()
            >>> counts["counted"], counts["filtered"], counts["filtered_by_cause"]
            (1, 1, {'repeat': 0, 'busy': 0, 'service': 1, 'unknown': 0})
        """
        where, params = ("WHERE created_at >= ?", [since]) if since else ("", [])
        sql = (
            "SELECT rating, filtered, filter_cause, count(*) FROM ratings " + where
            + " GROUP BY rating, filtered, filter_cause"
        )
        result = {rating: 0 for rating in RATINGS}
        result["filtered"] = 0
        by_cause = {cause: 0 for cause in (*FILTER_CAUSES, UNKNOWN_CAUSE)}
        with self._lock:
            found = self.db.execute(sql, params).fetchall()
        for rating, filtered, cause, n in found:
            if filtered:
                result["filtered"] += n
                by_cause[cause if cause in by_cause else UNKNOWN_CAUSE] += n
            else:
                result[rating] += n
        result["counted"] = sum(result[r] for r in RATINGS)
        result["filtered_by_cause"] = by_cause
        return result

    def backlog(self) -> dict[str, int]:
        """Rows still open, and sealed rows not yet acknowledged by the server."""
        with self._lock:
            unsealed, pending = self.db.execute(
                "SELECT coalesce(sum(sealed = 0), 0), coalesce(sum(sealed = 1 AND synced_at IS NULL), 0)"
                " FROM ratings"
            ).fetchone()
        return {"unsealed": unsealed, "pending": pending}

    def close(self) -> None:
        self.db.close()

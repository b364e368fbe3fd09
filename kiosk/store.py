"""The local rating store: one row per press in SQLite, committed before thanks.

    >>> from sqlite_utils import Database
    >>> store = RatingStore(Database(memory=True), terminal_id="t1")
    >>> row = store.record_press("satisfied", source="touch")
    >>> store.db["ratings"].get(row["id"])["sealed"]
    1
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlite_utils import Database
from uuid6 import uuid7

from .checks import disk_is_full
from .errors import StoreError
from .high_water import SUFFIX as MARK_SUFFIX
from .high_water import HighWaterMark, mark_path
from .migrations import apply as apply_migrations
from .ratings import GIVEN, INVITATION_OUTCOMES, REASON_OUTCOMES, RATINGS, SIGN_IN_HOWS, SIGN_OUT_HOWS, SOURCES, TIMEOUT
from .timekeeping import SystemClock, iso_utc

log = logging.getLogger(__name__)

#: Why a press was stored with ``filtered = 1`` (column ``filter_cause``; it stays on the terminal, the
#: upload carries ``filtered`` only): sooner than ``repeat_interval_s`` after the last counted press; while
#: the thank-you or the reason question was up; while a technician had the service screen up; while a
#: scan was being read or the officer's sign-in screen was up; a second rating for a dossier this terminal
#: already linked a counted rating to.
REPEAT, BUSY, SERVICE, SIGNIN, DOSSIER_REPEAT = "repeat", "busy", "service", "signin", "dossier_repeat"
FILTER_CAUSES = (REPEAT, BUSY, SERVICE, SIGNIN, DOSSIER_REPEAT)
#: How a shift began and ended (``shifts.sign_in_how``, ``shifts.sign_out_how``), and how an invitation
#: ended (``invitations.outcome``; NULL while it is open): codes of the protocol (:mod:`sync.vocabulary`).
RATED, UNANSWERED, REPLACED = INVITATION_OUTCOMES
#: The key of filtered rows without a cause (stored before causes were recorded) in :meth:`RatingStore.counts`.
UNKNOWN_CAUSE = "unknown"

_INSERT = (
    "INSERT INTO ratings (id, terminal_id, rating, reason, reason_outcome, source, created_at,"
    " boot_id, monotonic_ns, clock_synced, filtered, filter_cause, sealed, synced_at, officer, dossier)"
    " VALUES (:id, :terminal_id, :rating, :reason, :reason_outcome, :source, :created_at,"
    " :boot_id, :monotonic_ns, :clock_synced, :filtered, :filter_cause, :sealed, :synced_at, :officer, :dossier)"
)
_CLOSE_INVITATION = (
    "UPDATE invitations SET closed_at = ?, outcome = ?, rating_id = ? WHERE id = ? AND outcome IS NULL"
)


def new_rating_id() -> str:
    """A rating's id: a UUIDv7, so ids made later sort later (RFC 9562). A server's unique index on the id
    then takes each new rating on its last pages instead of a random page among millions (README,
    "National scale"). Uniqueness rests on its 74 random bits, not on the clock, so a terminal whose clock
    is wrong still makes unique ids; the press's time is in ``created_at`` anyway.

        >>> import uuid
        >>> first, second = new_rating_id(), new_rating_id()
        >>> uuid.UUID(first).version, first < second
        (7, True)
    """
    return str(uuid7())


class DiskFull(StoreError):
    """A write was refused because the database's disk is full."""


#: Errors that say nothing about the file itself (a full disk too): it stays where it is.
#: An I/O error is one too: on a full disk, opening a WAL database that needs a new -shm file gives one.
_NOT_THE_FILE = (sqlite3.SQLITE_FULL, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR)


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (an sqlite3 or OS error) says the disk is full."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)


def _store_error(what: str, exc: BaseException) -> StoreError:
    if is_disk_full(exc):
        return DiskFull(f"{what}: the disk is full")
    return StoreError(f"{what}: {exc}")


@dataclass(frozen=True)
class Recovery:
    """A database file that could not be opened and was moved aside."""

    moved_to: str
    at: str
    why: str


def open_database(path: str | Path, *, alone_when_full: bool = False) -> tuple[Database, Recovery | None]:
    """Open (or create) the SQLite file at ``path`` in WAL mode with full sync.

    A file that is not a database, fails its integrity check or cannot be
    read is renamed to ``<name>.corrupt-<UTC time>`` (never deleted) and a
    fresh file is started; the returned :class:`Recovery` says so.

    With ``alone_when_full``, a file that cannot be opened only because the
    disk is full (WAL mode needs room for its shared index, ``-shm``) is
    opened for this connection alone (``locking_mode=EXCLUSIVE`` keeps that
    index in memory): it can be read, and written once space returns.
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
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if alone_when_full and path.exists() and (is_disk_full(exc) or code == sqlite3.SQLITE_IOERR) \
                and disk_is_full(path):
            try:
                db = _connect(path, alone=True)
            except (sqlite3.DatabaseError, OSError):
                pass
            else:
                log.warning("the disk is full: database %s opened for this process alone until space returns",
                            path)
                return db, None
        if is_disk_full(exc) or code in _NOT_THE_FILE:
            # A full disk or a locked file says nothing about the file: it stays where it is.
            raise _store_error(f"cannot open the database {path}", exc) from None
        recovery = _move_aside(path, exc)
        log.warning("database %s was unreadable (%s); moved aside to %s, starting a fresh one",
                    path, recovery.why, recovery.moved_to)
        try:
            db = _connect(path)
        except (sqlite3.DatabaseError, OSError) as exc2:
            raise StoreError(f"cannot start a fresh database at {path}: {exc2}") from None
    return db, recovery


def _connect(path: Path, *, alone: bool = False) -> Database:
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise PermissionError(f"no permission to read and write {path}")
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    try:
        if alone:  # before the first read: the WAL index then lives in this process's memory, not in -shm
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {verdict}")
        db = Database(conn)
        apply_migrations(db)
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
        for suffix in ("-wal", "-shm", MARK_SUFFIX):
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

    def __init__(self, db: Database | str | Path, *, terminal_id: str, clock=None, alone_when_full: bool = False):
        self.recovery: Recovery | None = None
        if isinstance(db, Database):
            apply_migrations(db)
        else:
            db, self.recovery = open_database(db, alone_when_full=alone_when_full)
        self.db = db
        #: True while the file is open for this process alone (the disk was full at the start, see
        #: :func:`open_database`); the first write that works opens it shared again.
        self.alone = db.execute("PRAGMA locking_mode").fetchone()[0] == "exclusive"
        # One connection serves gpiozero's threads and Kivy's: one statement at a time.
        self._lock = threading.RLock()
        self.terminal_id = terminal_id
        self.clock = clock or SystemClock()
        #: Why the last write was refused (e.g. "the disk is full"), or None when the last write worked.
        self.refusing: str | None = "the disk is full" if self.alone else None
        self.mark: HighWaterMark | None = None
        self._count = 0
        if self.recovery:
            self.set_meta(
                recovered_from=self.recovery.moved_to,
                recovered_at=self.recovery.at,
                recovered_why=self.recovery.why,
            )

    # -- writes ---------------------------------------------------------
    def record_press(self, rating: str, *, source: str, filtered: bool = False,
                     filter_cause: str | None = None, ask_reason: bool = False, officer: str | None = None,
                     dossier: str | None = None, invitation_id: str | None = None) -> dict:
        """Store one press and commit it; returns the row as stored.

        A counted dissatisfied press that will be asked its reason is stored
        unsealed; everything else is sealed at once. ``filter_cause`` (one of
        :data:`FILTER_CAUSES`) says why a filtered press was not counted.
        ``officer``: the staff code signed in at the press; ``dossier``: the
        dossier the press is linked to, whose open invitation ``invitation_id``
        is closed ``rated`` in the same transaction (a crash leaves both or neither).
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
            "id": new_rating_id(),
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
            "officer": officer,
            "dossier": dossier,
        }
        with self._writing("cannot store the press"):
            if invitation_id is None:
                # execute() commits at once: WAL + synchronous=FULL make it durable.
                self.db.execute(_INSERT, row)
            else:
                with self.db.atomic():
                    self.db.execute(_INSERT, row)
                    self.db.execute(_CLOSE_INVITATION, [stamp.created_at, RATED, row["id"], invitation_id])
            self._count += 1
            if self.mark is not None:
                self._note_mark()
        # The dossier code is not logged: logs leave the terminal without the retention rule.
        log.info("stored rating id=%s rating=%s source=%s filtered=%d%s sealed=%d officer=%s%s",
                 row["id"], rating, source, row["filtered"], f" ({filter_cause})" if filter_cause else "",
                 row["sealed"], officer or "-", " (dossier linked)" if dossier else "")
        return row

    def dossier_counted(self, dossier: str) -> bool:
        """True when a counted rating on this terminal is already linked to ``dossier`` (count once per dossier)."""
        with self._lock:
            return self.db.execute(
                "SELECT 1 FROM ratings INDEXED BY idx_ratings_dossier WHERE dossier = ? AND filtered = 0 LIMIT 1",
                [dossier]).fetchone() is not None

    # -- shifts and invitations (each written and committed at once) ------
    def open_shift(self, officer: str, how: str) -> dict:
        """An officer signed in: a new open shift, committed; returns the row."""
        if how not in SIGN_IN_HOWS:
            raise ValueError(f"unknown sign-in {how!r}; expected one of {', '.join(SIGN_IN_HOWS)}")
        stamp = self.clock.stamp()
        row = {"id": new_rating_id(), "officer": officer, "signed_in_at": stamp.created_at, "signed_out_at": None,
               "sign_in_how": how, "sign_out_how": None, "boot_id": stamp.boot_id,
               "monotonic_ns": stamp.monotonic_ns, "synced_at": None}
        with self._writing("cannot store the sign-in"):
            self.db.execute(
                "INSERT INTO shifts (id, officer, signed_in_at, signed_out_at, sign_in_how, sign_out_how, boot_id,"
                " monotonic_ns, synced_at) VALUES (:id, :officer, :signed_in_at, :signed_out_at, :sign_in_how,"
                " :sign_out_how, :boot_id, :monotonic_ns, :synced_at)", row)
        log.info("officer %s signed in (%s), shift %s", officer, how, row["id"])
        return row

    def close_shift(self, shift_id: str, how: str) -> bool:
        """The officer of ``shift_id`` signed out; False when it was already closed."""
        if how not in SIGN_OUT_HOWS:
            raise ValueError(f"unknown sign-out {how!r}; expected one of {', '.join(SIGN_OUT_HOWS)}")
        at = self.clock.stamp().created_at
        with self._writing("cannot store the sign-out"):
            cursor = self.db.execute(
                "UPDATE shifts SET signed_out_at = ?, sign_out_how = ? WHERE id = ? AND signed_out_at IS NULL",
                [at, how, shift_id])
        if cursor.rowcount:
            log.info("shift %s closed (%s)", shift_id, how)
        return bool(cursor.rowcount)

    def current_shift(self) -> dict | None:
        """The open shift (the officer signed in now), or None; the latest if a crash left more than one."""
        with self._lock:
            rows = list(self.db.query(
                "SELECT * FROM shifts WHERE signed_out_at IS NULL ORDER BY signed_in_at DESC, rowid DESC LIMIT 1"))
        return rows[0] if rows else None

    def open_invitation(self, dossier: str, officer: str | None) -> dict:
        """A dossier invitation is up: a new open invitation, committed; returns the row."""
        row = {"id": new_rating_id(), "dossier": dossier, "officer": officer,
               "created_at": self.clock.stamp().created_at, "closed_at": None, "outcome": None,
               "rating_id": None, "synced_at": None}
        with self._writing("cannot store the invitation"):
            self.db.execute(
                "INSERT INTO invitations (id, dossier, officer, created_at, closed_at, outcome, rating_id, synced_at)"
                " VALUES (:id, :dossier, :officer, :created_at, :closed_at, :outcome, :rating_id, :synced_at)", row)
        log.info("invitation %s opened", row["id"])
        return row

    def close_invitation(self, invitation_id: str, outcome: str, rating_id: str | None = None) -> bool:
        """Close an open invitation with ``outcome``; False when it was already closed."""
        if outcome not in INVITATION_OUTCOMES:
            raise ValueError(f"unknown invitation outcome {outcome!r}")
        with self._writing("cannot close the invitation"):
            cursor = self.db.execute(_CLOSE_INVITATION,
                                     [self.clock.stamp().created_at, outcome, rating_id, invitation_id])
        if cursor.rowcount:
            log.info("invitation %s closed: %s", invitation_id, outcome)
        return bool(cursor.rowcount)

    def close_open_invitations(self) -> int:
        """Close every invitation left open by a stop as ``unanswered`` (nobody can answer it now)."""
        with self._writing("cannot close the invitations left open"):
            cursor = self.db.execute(
                "UPDATE invitations SET closed_at = ?, outcome = ? WHERE outcome IS NULL",
                [self.clock.stamp().created_at, UNANSWERED])
        if cursor.rowcount:
            log.warning("closed %d invitation(s) left open by an earlier stop as unanswered", cursor.rowcount)
        return cursor.rowcount

    def seal(self, rating_id: str, outcome: str, reason: str | None = None) -> bool:
        """Seal an open rating with its reason outcome; False if it was already sealed."""
        if outcome not in REASON_OUTCOMES:
            raise ValueError(f"unknown reason outcome {outcome!r}")
        if (outcome == GIVEN) != (reason is not None):
            raise ValueError("a reason goes with outcome 'given' and only with it")
        with self._writing("cannot seal the rating"):
            cursor = self.db.execute(
                "UPDATE ratings SET reason = ?, reason_outcome = ?, sealed = 1 WHERE id = ? AND sealed = 0",
                [reason, outcome, rating_id],
            )
        if cursor.rowcount:
            log.info("sealed rating id=%s outcome=%s reason=%s", rating_id, outcome, reason)
        return bool(cursor.rowcount)

    def seal_open_ratings(self) -> int:
        """Seal every row left open (by a crash or power cut) as ``timeout``."""
        with self._writing("cannot seal the ratings left open"):
            cursor = self.db.execute(
                "UPDATE ratings SET reason_outcome = ?, sealed = 1 WHERE sealed = 0", [TIMEOUT]
            )
        if cursor.rowcount:
            log.warning("sealed %d rating(s) left open by an earlier stop as timeout", cursor.rowcount)
        return cursor.rowcount

    def mark_started(self) -> None:
        self.set_meta(last_start=iso_utc(datetime.now(timezone.utc)))

    def set_meta(self, **values: str) -> None:
        with self._writing("cannot write the terminal's notes"), self.db.atomic():
            for key, value in values.items():
                self.db.execute(
                    "INSERT INTO kiosk_meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [key, value],
                )

    def note_settings_applied(self, version: str, values: dict) -> None:
        """Note the remote settings ``version`` (``values``) as the set this terminal runs (issue 13)."""
        from sync.settings_state import store_applied

        with self._writing("cannot note the remote settings applied"):
            store_applied(self.db, version, values, at=iso_utc(datetime.now(timezone.utc)))

    @contextmanager
    def _writing(self, what: str):
        """One write under the lock: an sqlite3 error becomes a :class:`StoreError` (:class:`DiskFull` for a
        full disk) and :attr:`refusing` follows whether writes work, said once in the log when it changes."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                error = _store_error(what, exc)
                why = "the disk is full" if isinstance(error, DiskFull) else str(exc)
                if self.refusing != why:
                    log.error("the database refuses writes (%s): presses are not stored until this is fixed", why)
                self.refusing = why
                raise error from None
            if self.alone:
                self._share()
            if self.refusing is not None:
                log.warning("the database takes writes again (it refused them: %s)", self.refusing)
                self.refusing = None

    def _share(self) -> None:
        """Open the file shared again (a write worked: there is room for its index), so the uploader and
        ``kiosk status`` can read it; kept alone if that still fails."""
        path = self._path()
        self.db.close()  # the last connection: it checkpoints the WAL and lets the file go
        try:
            self.db = _connect(path)
        except (sqlite3.DatabaseError, OSError) as exc:
            log.warning("the database stays open for this process alone: %s", exc)
            self.db = _connect(path, alone=True)
        else:
            self.alone = False
            log.info("database %s is shared again", path)

    def probe_write(self) -> bool:
        """Try one small real write (a note of the time); True when it worked (:attr:`refusing` is cleared)."""
        try:
            self.set_meta(last_write_probe=iso_utc(datetime.now(timezone.utc)))
        except StoreError:
            return False
        return True

    # -- the high-water mark and the WAL ----------------------------------
    def keep_mark(self) -> int:
        """Compare the ratings with the high-water mark beside the file, then keep the mark from now on.

        Returns how many ratings are missing (0: none, or no mark yet). A loss
        is logged and kept in the notes (``ratings_missing``) for ``kiosk status``.
        Only for a store opened by path (the running terminal).
        """
        path = self._path()
        if path is None:
            return 0
        self.mark = HighWaterMark(mark_path(path))
        expected = self.mark.read()
        with self._lock:
            self._count = self.db.execute("SELECT count(*) FROM ratings").fetchone()[0]
        missing = max(0, (expected or 0) - self._count)
        if missing:
            log.error("%d rating(s) committed before the last stop are missing from the database (%d expected, "
                      "%d found): its write-ahead log %s-wal was damaged or lost", missing, expected,
                      self._count, path.name)
            try:
                self.set_meta(ratings_missing=str(missing), ratings_missing_at=iso_utc(datetime.now(timezone.utc)),
                              ratings_expected=str(expected), ratings_found=str(self._count))
            except StoreError:
                log.warning("cannot keep the count of missing ratings in the database")
        self._note_mark()
        self.sync_mark()
        return missing

    def ratings_missing(self) -> dict | None:
        """What :meth:`keep_mark` found missing at a start (``{"ratings", "at", "expected", "found"}``), or None."""
        meta = self.meta()
        if "ratings_missing" not in meta:
            return self._missing_now()
        return {"ratings": int(meta["ratings_missing"]), "at": meta.get("ratings_missing_at"),
                "expected": int(meta.get("ratings_expected", 0)), "found": int(meta.get("ratings_found", 0))}

    def _missing_now(self) -> dict | None:
        """Ratings missing now against the mark (for ``kiosk status`` before the terminal restarts), or None."""
        path = self._path()
        if path is None:
            return None
        # The mark first: it is written after each commit, so read before the count it can only be lower.
        expected = HighWaterMark(mark_path(path)).read()
        if expected is None:
            return None
        with self._lock:
            found = self.db.execute("SELECT count(*) FROM ratings").fetchone()[0]
        if found >= expected:
            return None
        return {"ratings": expected - found, "at": iso_utc(datetime.now(timezone.utc)), "expected": expected,
                "found": found}

    def _note_mark(self) -> None:
        try:
            self.mark.note(self._count)
        except OSError as exc:  # the press is stored: a mark that lags only weakens the check
            log.debug("cannot update the high-water mark: %s", exc)

    def sync_mark(self) -> bool:
        """Fsync the high-water mark (idle, close); True when there was something to sync."""
        if self.mark is None:
            return False
        with self._lock:
            try:
                return self.mark.sync()
            except OSError as exc:
                log.debug("cannot sync the high-water mark: %s", exc)
                return False

    def checkpoint(self) -> bool:
        """Copy the WAL into the database file (and empty it), so a damaged WAL can lose nothing older.

        True when the whole WAL was copied. On a connection of its own and PASSIVE, so presses are never
        held up by it (they go on into the WAL); for idle moments, off Kivy's thread (it fsyncs the file).
        """
        path = self._path()
        if path is None:
            return False
        try:
            conn = sqlite3.connect(str(path), timeout=0.5)
            try:
                busy, wal_frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            log.debug("checkpoint failed: %s", exc)
            return False
        return busy == 0 and wal_frames == copied

    def _path(self) -> Path | None:
        with self._lock:
            for _seq, name, file in self.db.execute("PRAGMA database_list").fetchall():
                if name == "main" and file:
                    return Path(file)
        return None

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
            (1, 1, {'repeat': 0, 'busy': 0, 'service': 1, 'signin': 0, 'dossier_repeat': 0, 'unknown': 0})
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

    def counter_state(self) -> dict:
        """The officer signed in now (or None) and the invitations open and not yet uploaded, for ``kiosk status``."""
        shift = self.current_shift()
        with self._lock:
            open_, unsent = self.db.execute(
                "SELECT coalesce(sum(outcome IS NULL), 0), coalesce(sum(outcome IS NOT NULL AND synced_at IS NULL), 0)"
                " FROM invitations").fetchone()
        return {"officer": shift["officer"] if shift else None,
                "signed_in_at": shift["signed_in_at"] if shift else None,
                "invitations_open": open_, "invitations_pending": unsent}

    def backlog(self) -> dict[str, int]:
        """Rows still open, and sealed rows not yet acknowledged by the server."""
        with self._lock:
            unsealed, pending = self.db.execute(
                "SELECT coalesce(sum(sealed = 0), 0), coalesce(sum(sealed = 1 AND synced_at IS NULL), 0)"
                " FROM ratings"
            ).fetchone()
        return {"unsealed": unsealed, "pending": pending}

    def close(self) -> None:
        if self.mark is not None:
            self.mark.close()
        self.db.close()

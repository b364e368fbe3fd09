"""Storing a batch of ratings: exactly once, atomically, with a true timestamp.

:func:`check_batch` finds what the protocol model cannot express: a rating id
twice in one batch or another terminal's rating refuse the whole batch; a rating
taken after the batch was sent, numbers a database column cannot hold, text a
database cannot store refuse that rating only (:mod:`server.refusals` answers it
``refused``); :func:`ingest_batch` then stores the rest in three steps, the last
two in one transaction:

1. :func:`prepare_rows` (before the transaction): each rating's corrected time and its row.
2. :func:`write_batch`: the boot's base time is recorded (the lowest seen, i.e. the
   least network delay); the terminal's health is updated (a batch with no ratings
   is a heartbeat; its backlog is what remains after this batch), only if the
   terminal is not revoked, which is how a revocation reaches a token the server
   remembers; then ``INSERT … ON CONFLICT (id) DO NOTHING RETURNING id`` for all
   ratings: the database's UNIQUE constraint decides what is new, never a
   check-then-insert; the new ones are added to ``rating_tallies`` (the reports'
   hourly counts).
3. :func:`classify_acks`: every id not inserted is compared with the stored row:
   identical → ``duplicate``; different → ``conflict``, and the sent content is kept
   in ``rating_conflicts`` (the stored rating is never overwritten).

Issue 12: a rating's officer is stored as sent (``officer_code``) with the officer of
the terminal's unit it names (``officer_id``); a rating linked to a dossier the
server already holds a counted rating for is stored with ``dossier_repeat`` 1 and
tallied as filtered (:mod:`server.dossiers`: the count-once rule, decided under the
ratings' write lock); the batch's closed shifts and invitations are kept by id and
acknowledged in the receipt.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from uuid import UUID

from sqlalchemy import Connection, bindparam, case, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from sync.protocol import Ack, Batch, BatchReceipt, Rating, ReleaseOffer
from sync.vocabulary import RATING_CONTENT_FIELDS

from .accounts import PLACE_COLUMNS, Terminal
from .db import lock_ratings_cursor, write_transaction
from .errors import ApiError, ServerError
from .dossiers import mark_dossier_repeats, store_invitations
from .schema import boot_offsets, officers, rating_conflicts, ratings, terminals
from .shifts import store_shifts
from .timekeeping import NS_PER_S, correct_time, device_bases, iso_from_ns, ns_from_iso

INT64_MAX = 2**63 - 1


class TerminalRevoked(ServerError, PermissionError):
    """The terminal was revoked after its token was checked; nothing of the batch is kept."""


def check_batch(batch: Batch, terminal: Terminal) -> dict[int, str]:
    """The ratings a database cannot take, by position in ``batch.ratings``: a reason ("field: why") each.

    The envelope stays strict: raises :class:`ApiError` (422 naming the field, or 403 for a rating of
    another terminal, an access rule) for what is wrong with the batch as a whole.
    """
    _check_envelope_text(batch)
    for name in ("monotonic_ns",):
        if getattr(batch, name) > INT64_MAX:
            raise ApiError(422, f"{name}: larger than a 64-bit integer", field=name)
    for name in ("pending", "kept_aside"):
        if (getattr(batch.health, name) or 0) > INT64_MAX:
            raise ApiError(422, f"health.{name}: larger than a 64-bit integer", field=f"health.{name}")
    _check_date(batch.sent_at, "sent_at")
    seen: dict = {}
    for i, rating in enumerate(batch.ratings):
        where = f"ratings.{i}"
        if rating.id in seen:
            raise ApiError(422, f"{where}.id: the id {rating.id} appears twice in this batch "
                                f"(also at ratings.{seen[rating.id]}); send each rating once",
                           field=f"{where}.id")
        seen[rating.id] = i
        if rating.terminal_id != terminal.id:
            raise ApiError(403, f"{where}.terminal_id: {rating.terminal_id!r} is not this terminal "
                                f"({terminal.id!r}); a terminal may only upload its own ratings",
                           field=f"{where}.terminal_id")
    refused: dict[int, str] = {}
    checked: set[str] = set()  # a batch repeats its terminal and boot ids: check each text once
    for i, rating in enumerate(batch.ratings):
        reason = _rating_problem(rating, batch, checked)
        if reason:
            refused[i] = reason
    return refused


def _rating_problem(rating: Rating, batch: Batch, checked: set[str]) -> str | None:
    """Why the database cannot take ``rating`` though the protocol model did, or None."""
    for name in ("terminal_id", "boot_id"):
        value = getattr(rating, name)
        if value not in checked:
            if _unstorable(value):
                return f"{name}: contains a character that cannot be stored (NUL or a lone surrogate)"
            checked.add(value)
    if rating.monotonic_ns > INT64_MAX:
        return "monotonic_ns: larger than a 64-bit integer"
    if rating.boot_id == batch.boot_id and rating.monotonic_ns > batch.monotonic_ns:
        return ("monotonic_ns: later than the batch's monotonic_ns of the same boot "
                "(a rating cannot be taken after its batch was sent)")
    try:
        ns_from_iso(rating.created_at)
    except ValueError:
        return f"created_at: {rating.created_at!r} is not a real date and time"
    return None


def _check_date(text: str, field: str) -> None:
    try:
        ns_from_iso(text)
    except ValueError:
        raise ApiError(422, f"{field}: {text!r} is not a real date and time", field=field) from None


def _unstorable(value: str | None) -> bool:
    # NUL and lone surrogates pass JSON and pydantic but no database can store them.
    if value is None:
        return False
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_envelope_text(batch: Batch) -> None:
    for field, value in (("boot_id", batch.boot_id), ("health.app_version", batch.health.app_version),
                         ("health.last_error", batch.health.last_error),
                         ("health.settings_version", batch.health.settings_version),
                         ("health.settings_error", batch.health.settings_error),
                         *(("health.kept_aside_causes", cause) for cause in batch.health.kept_aside_causes or ())):
        if _unstorable(value):
            raise ApiError(422, f"{field}: contains a character that cannot be stored (NUL or a lone surrogate)",
                           field=field)
    # Shifts and invitations are part of the envelope: a date that does not exist refuses the batch.
    for i, shift in enumerate(batch.shifts):
        for name in ("signed_in_at", "signed_out_at"):
            _check_date(getattr(shift, name), f"shifts.{i}.{name}")
    for i, invitation in enumerate(batch.invitations):
        for name in ("created_at", "closed_at"):
            _check_date(getattr(invitation, name), f"invitations.{i}.{name}")


#: The protocol fields stored under another column name (the staff code as sent, beside the officer's id).
STORED_AS = {"officer": "officer_code"}
#: The ``ratings`` columns holding a rating's content, in RATING_CONTENT_FIELDS order.
CONTENT_COLUMNS = tuple(STORED_AS.get(name, name) for name in RATING_CONTENT_FIELDS)
#: The columns a batch writes into ``ratings`` (the cursor is the database's).
INSERT_COLUMNS = CONTENT_COLUMNS + PLACE_COLUMNS + ("received_at", "corrected_at", "time_quality", "officer_id",
                                                   "dossier_repeat")
#: Columns with one value for the whole batch (check_batch made sure of terminal_id).
BATCH_COLUMNS = ("terminal_id", *PLACE_COLUMNS, "received_at")
#: Where the place's columns sit in a row tuple.
_PLACE_AT = slice(INSERT_COLUMNS.index(PLACE_COLUMNS[0]), INSERT_COLUMNS.index(PLACE_COLUMNS[-1]) + 1)


def _unnest_insert():
    """PostgreSQL: all rows of a batch as one array per column, one short prepared statement.

    A multi-row VALUES list is a new long statement text per batch size, which
    psycopg re-parses on every call (its cache skips long queries); arrays
    keep the text constant, so it is parsed and planned once.
    """
    dialect = postgresql.dialect()
    per_row = [name for name in INSERT_COLUMNS if name not in BATCH_COLUMNS]
    arrays = ", ".join(f"CAST(:{name} AS {ratings.c[name].type.compile(dialect=dialect)}[])" for name in per_row)
    scalars = ", ".join(f"CAST(:{name} AS {ratings.c[name].type.compile(dialect=dialect)})" for name in BATCH_COLUMNS)
    insert = (f"INSERT INTO ratings ({', '.join(per_row + list(BATCH_COLUMNS))}) "
              f"SELECT *, {scalars} FROM unnest({arrays}) ON CONFLICT (id) DO NOTHING")
    # The new rows' tallies in the same statement (the count REBUILD_TALLIES_SQL makes, of these rows, in key
    # order): one round trip under the cursor lock instead of three, so concurrent batches wait less for it.
    key = ", ".join(_TALLY_KEY)
    return text(f"WITH new AS ({insert} RETURNING id, {_TALLY_KEY_OF_ROW}), "
                f"counted AS (SELECT {key}, COUNT(*) AS n FROM new GROUP BY {key}), "
                f"tallied AS (INSERT INTO rating_tallies ({key}, n) SELECT {key}, n FROM counted ORDER BY {key} "
                f"ON CONFLICT ({key}) DO UPDATE SET n = rating_tallies.n + excluded.n), "
                f"delta AS (INSERT INTO tally_deltas ({key}, n) SELECT {key}, n FROM counted ORDER BY {key}) "
                "SELECT id FROM new")


#: The key of a ``rating_tallies`` row, and how a stored rating gives it (as REBUILD_TALLIES_SQL counts).
_TALLY_KEY = ("hour", "terminal_id", "site", "counter", "province_id", "unit_id", "office_id", "counter_id", "rating",
              "reason", "filtered")
_TALLY_KEY_OF_ROW = (
    "SUBSTR(corrected_at, 1, 13) AS hour, terminal_id, site, COALESCE(counter, '') AS counter, "
    "COALESCE(province_id, 0) AS province_id, COALESCE(unit_id, 0) AS unit_id, COALESCE(office_id, 0) AS office_id, "
    "COALESCE(counter_id, 0) AS counter_id, rating, COALESCE(reason, '') AS reason, "
    "CASE WHEN dossier_repeat = 1 THEN 1 ELSE filtered END AS filtered")


class _Statements:
    """The ingest statements of one dialect, built once (SQLAlchemy then reuses their compiled form)."""

    def __init__(self, dialect_name: str):
        insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
        self.by_column = dialect_name == "postgresql"
        #: PostgreSQL's insert adds the new rows' tallies itself (one statement: see _unnest_insert).
        self.tallies_in_insert = self.by_column
        self.insert_ratings = (_unnest_insert() if self.by_column else
                               insert(ratings).on_conflict_do_nothing(index_elements=["id"]).returning(ratings.c.id))
        self.stored_content = select(*[ratings.c[column].label(name) for name, column
                                       in zip(RATING_CONTENT_FIELDS, CONTENT_COLUMNS)]).where(
            ratings.c.id.in_(bindparam("ids", expanding=True)))
        self.insert_conflicts = insert(rating_conflicts).on_conflict_do_nothing(
            index_elements=["rating_id", "content_sha256"])
        self.boot_bases = select(boot_offsets.c.boot_id, boot_offsets.c.base_ns).where(
            boot_offsets.c.terminal_id == bindparam("terminal_id"),
            boot_offsets.c.boot_id.in_(bindparam("boot_ids", expanding=True)))
        # The boot's base: keep the lowest (the batch that spent least time on the network).
        upsert = insert(boot_offsets)
        self.record_boot_base = upsert.on_conflict_do_update(
            index_elements=["terminal_id", "boot_id"],
            set_={"base_ns": case((upsert.excluded.base_ns < boot_offsets.c.base_ns, upsert.excluded.base_ns),
                                  else_=boot_offsets.c.base_ns),
                  "updated_at": upsert.excluded.updated_at})
        self.update_health = update(terminals).where(
            terminals.c.id == bindparam("terminal_id"), terminals.c.revoked_at.is_(None)).values(
            last_seen_at=bindparam("last_seen_at"), app_version=bindparam("app_version"),
            pending=bindparam("pending"), clock_synced=bindparam("clock_synced"),
            clock_offset_s=bindparam("clock_offset_s"), last_error=bindparam("last_error"),
            last_boot_id=bindparam("last_boot_id"), kept_aside=bindparam("kept_aside"),
            kept_aside_causes=bindparam("kept_aside_causes"), settings_version=bindparam("settings_version"),
            settings_error=bindparam("settings_error"),
            # Issue 13: the update's state; the last failure (its reason and release) stays until another one.
            update_state=bindparam("update_state"), update_version=bindparam("update_version"),
            update_error=func.coalesce(bindparam("update_error"), terminals.c.update_error),
            update_failed_version=case((bindparam("update_failed"), bindparam("update_version")),
                                       else_=terminals.c.update_failed_version),
        ).returning(*[terminals.c[name] for name in PLACE_COLUMNS], terminals.c.update_failed_version)

    def insert(self, conn: Connection, rows) -> set[str]:
        """Insert a batch's rows (tuples in INSERT_COLUMNS order, or PostgreSQL's arrays); the ids inserted."""
        if self.by_column:
            return set(conn.execute(self.insert_ratings, rows).scalars().all())
        # SQLite: multi-row VALUES through the driver, one statement text per chunk size (SQLite
        # caches its compiled form); the same statement SQLAlchemy's insertmanyvalues would emit,
        # without its per-row parameter processing (every column is plain text or integer).
        inserted: set[str] = set()
        for start in range(0, len(rows), _SQLITE_ROWS_PER_INSERT):
            chunk = rows[start:start + _SQLITE_ROWS_PER_INSERT]
            result = conn.exec_driver_sql(_sqlite_insert(len(chunk)), tuple(chain.from_iterable(chunk)))
            inserted.update(result.scalars().all())
        return inserted


#: SQLite allows 32766 host parameters per statement since 3.32, 999 before.
_SQLITE_ROWS_PER_INSERT = (32766 if sqlite3.sqlite_version_info >= (3, 32) else 999) // len(INSERT_COLUMNS)


@lru_cache(maxsize=8)
def _sqlite_insert(n_rows: int) -> str:
    row = "(" + ", ".join("?" * len(INSERT_COLUMNS)) + ")"
    return (f"INSERT INTO ratings ({', '.join(INSERT_COLUMNS)}) VALUES {', '.join([row] * n_rows)} "
            "ON CONFLICT (id) DO NOTHING RETURNING id")


#: Where the tally key's parts sit in a row tuple (INSERT_COLUMNS order).
_TALLY_AT = tuple(INSERT_COLUMNS.index(name) for name in ("corrected_at", "rating", "reason", "filtered",
                                                          "dossier_repeat"))
#: Where the count-once rule reads and writes (see server/dossiers.py).
_DOSSIER_AT = tuple(INSERT_COLUMNS.index(name) for name in ("dossier", "filtered", "dossier_repeat"))


#: Counts ``rating_tallies`` afresh from the ratings (after rows were written other than by ingest).
#: The rollups (rollups.py) are then marked unbuilt: reports read the tallies until the refresher rebuilds them.
REBUILD_TALLIES_SQL = (
    "DELETE FROM rollup_state; DELETE FROM tally_deltas; "
    "DELETE FROM rating_tallies; "
    "INSERT INTO rating_tallies (hour, terminal_id, site, counter, province_id, unit_id, office_id, counter_id, "
    "rating, reason, filtered, n) "
    "SELECT SUBSTR(corrected_at, 1, 13), terminal_id, site, COALESCE(counter, ''), COALESCE(province_id, 0), "
    "COALESCE(unit_id, 0), COALESCE(office_id, 0), COALESCE(counter_id, 0), rating, COALESCE(reason, ''), "
    "CASE WHEN dossier_repeat = 1 THEN 1 ELSE filtered END, COUNT(*) FROM ratings "
    "GROUP BY SUBSTR(corrected_at, 1, 13), terminal_id, site, "
    "COALESCE(counter, ''), COALESCE(province_id, 0), COALESCE(unit_id, 0), COALESCE(office_id, 0), "
    "COALESCE(counter_id, 0), rating, COALESCE(reason, ''), CASE WHEN dossier_repeat = 1 THEN 1 ELSE filtered END")


def _tallies(rows: list[tuple], inserted: set[str], terminal: Terminal) -> list[tuple]:
    """The ``rating_tallies`` increments of the rows the database took, in key order: (*_TALLY_KEY, n) each.
    A second rating of a dossier (``dossier_repeat``) is tallied as filtered: no report counts it."""
    at_time, at_rating, at_reason, at_filtered, at_repeat = _TALLY_AT
    everything = len(inserted) == len(rows)
    counts = Counter((row[at_time][:13], row[at_rating], row[at_reason] or "", row[at_filtered] | row[at_repeat])
                     for row in rows if everything or row[0] in inserted)
    place = (terminal.id, terminal.site, terminal.counter or "", terminal.province_id or 0, terminal.unit_id or 0,
             terminal.office_id or 0, terminal.counter_id or 0)
    return [(hour, *place, rating, reason, filtered, n) for (hour, rating, reason, filtered), n in sorted(counts.items())]


_SQLITE_ADD_TALLIES = (f"INSERT INTO rating_tallies ({', '.join(_TALLY_KEY)}, n) "
                       f"VALUES ({', '.join('?' * (len(_TALLY_KEY) + 1))}) "
                       f"ON CONFLICT ({', '.join(_TALLY_KEY)}) DO UPDATE SET n = rating_tallies.n + excluded.n")
_SQLITE_ADD_DELTAS = (f"INSERT INTO tally_deltas ({', '.join(_TALLY_KEY)}, n) "
                      f"VALUES ({', '.join('?' * (len(_TALLY_KEY) + 1))})")


_STATEMENTS = {name: _Statements(name) for name in ("sqlite", "postgresql")}


@dataclass(frozen=True)
class PreparedBatch:
    """A batch's rows, ready before the transaction: the ratings by id (in the batch's order), one tuple
    per rating in INSERT_COLUMNS order, and the same rows as the dialect's insert takes them."""

    by_id: dict[str, Rating]
    row_tuples: list[tuple]
    insert_rows: list[tuple] | dict[str, object]


def prepare_rows(conn: Connection, terminal: Terminal, batch: Batch, *, received_ns: int,
                 received_at: str) -> PreparedBatch:
    """Step 1, outside the transaction: each rating's corrected time and its row.

    Reads only the bases of the batch's earlier boots (a base only ever decreases,
    by a few milliseconds, so reading it before the write is safe).
    """
    sql = _STATEMENTS[conn.dialect.name]
    earlier_boots = {r.boot_id for r in batch.ratings} - {batch.boot_id}
    bases: dict[str, int] = {}
    if earlier_boots:
        bases = dict(conn.execute(sql.boot_bases, {"terminal_id": terminal.id,
                                                   "boot_ids": sorted(earlier_boots)}).all())
    # Boots the server never heard from (offline all along): dated by the terminal's clock once the
    # network set it, when a press of that boot made after that is in this batch.
    unmeasured = earlier_boots - bases.keys()
    by_device = device_bases(batch.ratings, unmeasured) if unmeasured else {}
    # One tuple per rating, in INSERT_COLUMNS order; the content dicts (for duplicates and
    # conflicts) are built only for the ratings the database did not take.
    batch_boot, batch_monotonic_ns = batch.boot_id, batch.monotonic_ns
    place = terminal.place
    officer_ids = _officer_ids(conn, terminal, {r.officer for r in batch.ratings if r.officer is not None})
    by_id: dict[str, Rating] = {}
    rows = []
    for rating in batch.ratings:
        rating_id = str(rating.id)
        by_id[rating_id] = rating
        corrected_at, quality = correct_time(
            created_at=rating.created_at, clock_synced=rating.clock_synced, rating_boot=rating.boot_id,
            rating_monotonic_ns=rating.monotonic_ns, batch_boot=batch_boot,
            batch_monotonic_ns=batch_monotonic_ns, received_ns=received_ns,
            known_base_ns=bases.get(rating.boot_id), device_base_ns=by_device.get(rating.boot_id))
        rows.append((rating_id, rating.terminal_id, rating.rating, rating.reason, rating.reason_outcome,
                     rating.source, rating.created_at, rating.boot_id, rating.monotonic_ns, rating.clock_synced,
                     rating.filtered, rating.officer, rating.dossier, *place, received_at, corrected_at, quality,
                     officer_ids.get(rating.officer), 0))
    return PreparedBatch(by_id, rows, _insert_rows(sql, rows))


def _officer_ids(conn: Connection, terminal: Terminal, codes: set[str]) -> dict[str, int]:
    """The ids of the officers of the terminal's unit with these staff codes (a disabled one too: the rating
    was made while it was signed in). A code the unit does not know stays without an id, kept as sent."""
    if not codes or terminal.unit_id is None:
        return {}
    return dict(conn.execute(select(officers.c.code, officers.c.id).where(
        officers.c.unit_id == terminal.unit_id, officers.c.code.in_(sorted(codes)))).all())


def _insert_rows(sql: _Statements, rows: list[tuple]) -> list[tuple] | dict[str, object]:
    if sql.by_column and rows:
        return {name: (rows[0][i] if name in BATCH_COLUMNS else [row[i] for row in rows])
                for i, name in enumerate(INSERT_COLUMNS)}
    return rows


def _placed_again(sql: _Statements, prepared: PreparedBatch, place: tuple) -> PreparedBatch:
    """The batch's rows at the terminal's place as its row says now (it was moved since its token was read)."""
    rows = [row[:_PLACE_AT.start] + place + row[_PLACE_AT.stop:] for row in prepared.row_tuples]
    return PreparedBatch(prepared.by_id, rows, _insert_rows(sql, rows))


def remaining_backlog(pending: int, answered: int) -> int:
    """What a terminal still has to send once a batch of ``answered`` ratings is answered.

    The terminal's ``health.pending`` counts the batch's own ratings too, and every
    one of them is answered (stored, duplicate, or conflict, which the terminal
    keeps aside and no longer sends): so the fleet page shows 0 as soon as the
    last batch is in, not only after the next heartbeat.

        >>> remaining_backlog(5, 3), remaining_backlog(1, 1), remaining_backlog(2, 3)
        (2, 0, 0)
    """
    return max(0, pending - answered)


def kept_aside_columns(health) -> dict:
    """The ``terminals`` columns for the ratings a terminal keeps aside, from its heartbeat.

    Absent (none kept aside, or a terminal older than the field) stores NULL, which the pages show as 0.

        >>> from sync.protocol import Health
        >>> kept_aside_columns(Health(pending=0, app_version="1", clock_synced=True, kept_aside=2,
        ...                           kept_aside_causes={"refused by the server: monotonic_ns: negative": 2}))
        {'kept_aside': 2, 'kept_aside_causes': '{"refused by the server: monotonic_ns: negative": 2}'}
        >>> kept_aside_columns(Health(pending=0, app_version="1", clock_synced=True))
        {'kept_aside': None, 'kept_aside_causes': None}
    """
    causes = health.kept_aside_causes
    return {"kept_aside": health.kept_aside,
            "kept_aside_causes": json.dumps(causes, ensure_ascii=False) if causes else None}


def update_columns(health) -> dict:
    """The ``terminals`` columns of a heartbeat's update report (issue 13); ``update_failed`` says whether it
    reports a failure of ``update_version``.

        >>> from sync.protocol import Health
        >>> update_columns(Health(pending=0, app_version="1.1", clock_synced=True, update_state="rolled_back",
        ...                       update_version="1.2", update_error="no home screen in 120 s"))["update_failed"]
        True
    """
    return {"update_state": health.update_state, "update_version": health.update_version,
            "update_error": health.update_error,
            "update_failed": health.update_state in ("rolled_back", "failed") and health.update_version is not None}


def write_batch(conn: Connection, terminal: Terminal, batch: Batch, prepared: PreparedBatch, *,
                received_ns: int, received_at: str, clock_offset_s: float, refused: int = 0,
                on_moved: Callable[[Terminal], None] | None = None, seen: dict | None = None) -> set[str]:
    """Step 2, inside the transaction: the boot's base, the terminal's health, the new ratings and their
    tallies; the ids the database took. Raises :class:`TerminalRevoked` if the terminal was revoked.

    ``refused``: how many ratings of the sent batch were refused (answered too, so off the backlog).
    The ratings take the terminal's place from its row, read in this transaction: if it was moved since
    ``terminal`` was read, they are stored at the new place and ``on_moved`` hears of it. ``seen`` (a dict) is given
    the terminal as its row says now (``terminal``) and the last release it failed (``update_failed_version``).
    """
    sql = _STATEMENTS[conn.dialect.name]
    health = batch.health
    # Health and the boot's base first: the ratings insert holds the cursor lock until the commit.
    conn.execute(sql.record_boot_base, {"terminal_id": terminal.id, "boot_id": batch.boot_id,
                                        "base_ns": received_ns - batch.monotonic_ns,
                                        "first_seen_at": received_at, "updated_at": received_at})
    touched = conn.execute(sql.update_health, {
        "terminal_id": terminal.id, "last_seen_at": received_at, "app_version": health.app_version,
        "pending": remaining_backlog(health.pending, len(batch.ratings) + refused),
        "clock_synced": health.clock_synced, "clock_offset_s": clock_offset_s,
        "last_error": health.last_error, "last_boot_id": batch.boot_id, **kept_aside_columns(health),
        # Issue 13: the remote settings it applied and why it refused the wanted ones (absent: NULL).
        "settings_version": health.settings_version, "settings_error": health.settings_error,
        **update_columns(health)})
    found = touched.first()
    if found is None:  # revoked since its token was checked: roll back, store nothing
        raise TerminalRevoked(f"terminal {terminal.id} is revoked")
    place = tuple(found)[:len(PLACE_COLUMNS)]
    if tuple(place) != terminal.place:  # moved since its token was read: the row is right, the memory is not
        terminal = Terminal(terminal.id, *place)
        prepared = _placed_again(sql, prepared, terminal.place)
        if on_moved is not None:
            on_moved(terminal)
    if seen is not None:
        seen.update(terminal=terminal, update_failed_version=found[-1])
    if batch.shifts:
        store_shifts(conn, terminal, batch.shifts, received_at=received_at)
    if batch.invitations:
        store_invitations(conn, terminal, batch.invitations, received_at=received_at)
    if not prepared.by_id:  # a heartbeat
        return set()
    lock_ratings_cursor(conn)
    # The count-once rule reads the counted ratings under the lock every ratings insert takes (SQLite's
    # write lock, PostgreSQL's cursor lock): two batches naming one dossier are decided one after the other.
    marked = mark_dossier_repeats(conn, prepared.row_tuples, _DOSSIER_AT)
    if marked is not prepared.row_tuples:
        prepared = PreparedBatch(prepared.by_id, marked, _insert_rows(sql, marked))
    inserted = sql.insert(conn, prepared.insert_rows)
    if inserted and not sql.tallies_in_insert:
        # SQLite: the tallies, then the same increments for the rollups (rollups.py), through the driver
        # (plain values: SQLAlchemy's per-statement work would cost more than the statements, under the lock).
        increments = _tallies(prepared.row_tuples, inserted, terminal)
        conn.exec_driver_sql(_SQLITE_ADD_TALLIES, increments)
        conn.exec_driver_sql(_SQLITE_ADD_DELTAS, increments)
    return inserted


_new_object, _set_attribute = object.__new__, object.__setattr__


def answered(rating_id: UUID, status: str) -> Ack:
    """The ack of a rating the database answered (no reason), as ``Ack.model_construct`` builds it, at a third
    of its cost: a receipt holds one per rating, up to 500, and they come from checked values.

        >>> rating_id = UUID("5f0c1d52-3c5e-4b7e-9d0e-1f2a3b4c5d6e")
        >>> answered(rating_id, "stored") == Ack.model_construct(id=rating_id, status="stored")
        True
        >>> answered(rating_id, "duplicate").model_dump_json(exclude_none=True)
        '{"id":"5f0c1d52-3c5e-4b7e-9d0e-1f2a3b4c5d6e","status":"duplicate"}'
    """
    ack = _new_object(Ack)
    _set_attribute(ack, "__dict__", {"id": rating_id, "status": status, "reason": None})
    _set_attribute(ack, "__pydantic_fields_set__", {"id", "status"})
    _set_attribute(ack, "__pydantic_extra__", None)
    _set_attribute(ack, "__pydantic_private__", None)
    return ack


def classify_acks(conn: Connection, terminal: Terminal, prepared: PreparedBatch, inserted: set[str], *,
                  received_at: str) -> list[Ack]:
    """Step 3, inside the transaction: one acknowledgement per rating, in the batch's order.

    Inserted → ``stored``; else the stored row is read: identical → ``duplicate``;
    different → ``conflict``, and the sent content is kept in ``rating_conflicts``.
    """
    sql = _STATEMENTS[conn.dialect.name]
    others = [rating_id for rating_id in prepared.by_id if rating_id not in inserted]
    stored: dict[str, dict] = {}
    if others:
        stored = {row["id"]: dict(row) for row in conn.execute(sql.stored_content, {"ids": others}).mappings()}
    acks: list[Ack] = []
    conflicts = []
    for rating_id, rating in prepared.by_id.items():
        if rating_id in inserted:
            status = "stored"
        elif stored.get(rating_id) == (content := rating.content()):
            status = "duplicate"
        else:
            status = "conflict"
            document = json.dumps(content, sort_keys=True, ensure_ascii=False)
            conflicts.append({"rating_id": rating_id, "terminal_id": terminal.id, "received_at": received_at,
                              "content": document,
                              "content_sha256": hashlib.sha256(document.encode("utf-8")).hexdigest()})
        acks.append(answered(rating.id, status))
    if conflicts:
        conn.execute(sql.insert_conflicts, conflicts)
    return acks


def ingest_batch(conn: Connection, terminal: Terminal, batch: Batch, *, received_ns: int,
                 refused: dict[int, Ack] | None = None,
                 on_moved: Callable[[Terminal], None] | None = None,
                 offer_release: Callable[[Terminal, str | None], ReleaseOffer | None] | None = None) -> BatchReceipt:
    """Store ``batch`` from ``terminal`` in one write transaction on ``conn``; return the receipt.

    ``received_ns`` is the server's clock when the request arrived. The batch
    must have passed :func:`check_batch`. ``refused``: the refused ratings' acks by
    their position in the batch as sent (``batch`` holds the others, in order);
    the receipt answers every rating in the order sent. Raises :class:`TerminalRevoked`
    (nothing stored) if the terminal was revoked meanwhile. ``offer_release(terminal, failed_version)``: the
    release the receipt offers (issue 13; :meth:`server.rollouts.RolloutBook.offer`), asked after the commit.

    Rows are prepared before the transaction (:func:`prepare_rows`), so the write
    lock (SQLite's, or the cursor lock on PostgreSQL) is held only for the
    statements (:func:`write_batch`, :func:`classify_acks`) and the commit.
    """
    received_at = iso_from_ns(received_ns)
    clock_offset_s = (ns_from_iso(batch.sent_at) - received_ns) / NS_PER_S
    prepared = prepare_rows(conn, terminal, batch, received_ns=received_ns, received_at=received_at)
    refused = refused or {}
    seen: dict = {}
    with write_transaction(conn):
        inserted = write_batch(conn, terminal, batch, prepared, received_ns=received_ns, received_at=received_at,
                               clock_offset_s=clock_offset_s, refused=len(refused), on_moved=on_moved, seen=seen)
        acks = classify_acks(conn, terminal, prepared, inserted, received_at=received_at) if prepared.by_id else []
    if refused:
        answered = iter(acks)
        acks = [refused[i] if i in refused else next(answered) for i in range(len(acks) + len(refused))]
    # Shifts and invitations are kept by id: each one sent is stored now or was already held.
    return BatchReceipt.model_construct(
        ok=True, acks=acks, received_at=received_at, clock_offset_s=clock_offset_s,
        shift_acks=[shift.id for shift in batch.shifts] if batch.shifts else None,
        invitation_acks=[invitation.id for invitation in batch.invitations] if batch.invitations else None,
        officers_version=None,
        release=offer_release(seen["terminal"], seen["update_failed_version"]) if offer_release else None)

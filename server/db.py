"""Opening the central database and bringing its schema up to date.

SQLite (the default, one file) is opened in WAL mode with
``synchronous=FULL``: an acknowledged rating is marked synced on the terminal
and may then be pruned there, so the server's commit must survive a power
cut, not just a crash of the process (``NORMAL`` in WAL mode may lose the last
commits on power loss). Writers take the lock up front (``BEGIN IMMEDIATE``)
and wait up to ``busy_timeout`` for it, so two writers never deadlock on a
lock upgrade. PostgreSQL is used through psycopg 3.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from .errors import DatabaseUnavailable
from .settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
#: A request that waits longer than this for a database connection is answered 503 (overloaded).
POOL_TIMEOUT_S = 10

# Any constants, one per job: the keys of PostgreSQL advisory locks shared by every server process on
# one database. RATINGS_INSERT_LOCK orders ratings inserts (see ingest.py); MIGRATION_LOCK lets one
# process at a time upgrade the schema; the alert locks make one process at a time check the rules
# and deliver the webhook (alerts.py).
RATINGS_INSERT_LOCK = 0x484C5241  # "HLRA"
MIGRATION_LOCK = 0x484C4D47  # "HLMG"
ALERT_CHECK_LOCK = 0x484C414C  # "HLAL"
WEBHOOK_LOCK = 0x484C5748  # "HLWH"
AUDIT_APPEND_LOCK = 0x484C4155  # "HLAU": serializes appends to the audit trail (see audit.py)


def open_engine(settings: Settings, *, migrate_schema: bool = True) -> Engine:
    """An engine for ``settings.db_url``, its schema migrated to the latest revision.

    Raises :class:`DatabaseUnavailable` with a plain message when the database
    cannot be opened (a missing folder is created for a SQLite file).
    """
    url = make_url(settings.db_url)
    if url.get_backend_name() == "sqlite":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=settings.db_pool_size, max_overflow=4,
                               pool_timeout=POOL_TIMEOUT_S,
                               connect_args={"check_same_thread": False,
                                             "timeout": settings.sqlite_busy_timeout_ms / 1000})
        _tune_sqlite(engine, settings.sqlite_busy_timeout_ms)
    else:
        engine = create_engine(url, pool_size=settings.db_pool_size, max_overflow=4,
                               pool_timeout=POOL_TIMEOUT_S,
                               connect_args={"connect_timeout": 10})
        _tune_postgresql(engine)
    if migrate_schema:
        try:
            migrate(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise DatabaseUnavailable(f"cannot open the database {url.render_as_string(hide_password=True)}: "
                                      f"{_first_line(exc)}") from exc
    return engine


def open_ingest_engine(settings: Settings, main: Engine) -> Engine:
    """The batch path's own engine: ``2 × ingest_concurrency`` connections (the gate's hard cap), so dashboard,
    health checks, enrolment and the admin API keep the main pool to themselves. Same database, schema already
    migrated by ``main``; on SQLite it shares ``main``'s in-process write lock (one writer per file)."""
    url = make_url(settings.db_url)
    size = 2 * settings.ingest_concurrency
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, pool_size=size, max_overflow=0, pool_timeout=POOL_TIMEOUT_S,
                               connect_args={"check_same_thread": False,
                                             "timeout": settings.sqlite_busy_timeout_ms / 1000})
        _tune_sqlite(engine, settings.sqlite_busy_timeout_ms)
        engine.hl_write_lock = main.hl_write_lock
    else:
        engine = create_engine(url, pool_size=size, max_overflow=0, pool_timeout=POOL_TIMEOUT_S,
                               connect_args={"connect_timeout": 10})
    return engine


#: ``conn.info[LOCK_WAITS]``: when a list is there, the write lock's waits on ``conn`` are appended to it (seconds),
#: so the ingest gate learns how long batches wait for the database (SQLite's lock, PostgreSQL's cursor lock).
LOCK_WAITS = "hl_lock_waits"


def _note_lock_wait(conn: Connection, started: float) -> None:
    waits = conn.info.get(LOCK_WAITS)
    if waits is not None:
        waits.append(time.monotonic() - started)


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0]


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    # SQLite has one writer at a time. Threads of this process queue on a lock instead of on
    # SQLite's busy handler, which polls with sleeps of up to 100 ms and collapses under load;
    # busy_timeout still covers writers in other processes (the CLI).
    engine.hl_write_lock = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event below emit BEGIN, so a writer can ask for IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: the ratings' UUID index stays in memory
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("hl_write") else "BEGIN")


def _tune_postgresql(engine: Engine) -> None:
    # A batch's ratings go in as one array per column (ingest.py). psycopg sends a list as text by default,
    # searching every element for characters to quote (a fifth of a batch's CPU); in binary, no search.
    from psycopg.types.array import ListBinaryDumper

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


@contextmanager
def write_transaction(conn: Connection):
    """One write transaction on ``conn``: committed at the end, rolled back on any error.

    On SQLite it starts with ``BEGIN IMMEDIATE`` (the write lock first, then
    reads), so concurrent writers queue on ``busy_timeout`` instead of failing.
    """
    if conn.in_transaction():
        conn.commit()  # end the read transaction a lookup (e.g. authentication) began
    started = time.monotonic()
    with getattr(conn.engine, "hl_write_lock", None) or nullcontext():
        conn.execution_options(hl_write=True)
        try:
            with conn.begin():  # SQLite: BEGIN IMMEDIATE, which waits for other processes' writers
                if conn.dialect.name == "sqlite":
                    _note_lock_wait(conn, started)
                yield conn
        finally:
            conn.execution_options(hl_write=False)


def lock_ratings_cursor(conn: Connection) -> None:
    """Make ratings cursors increase in commit order (PostgreSQL; SQLite already serialises writers).

    A sequence hands out numbers at insert time, not at commit: two concurrent
    batches could commit cursor 105 before 104, and a reader paging with
    ``after=104``… would never see 104. Holding this transaction-scoped lock
    from before the insert until the commit means cursors become visible in
    order, so ``GET /api/v1/ratings?after=`` has no gaps.
    """
    if conn.dialect.name == "postgresql":
        started = time.monotonic()
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RATINGS_INSERT_LOCK})
        _note_lock_wait(conn, started)


@contextmanager
def write_transaction_unless_busy(conn: Connection):
    """Like :func:`write_transaction`, but yields False at once, with no transaction, when this process's SQLite
    writer lock is held (for writes that can wait for the next chance, e.g. a session's idle deadline); else True.

    On SQLite the wait for another process's writer is cut to 50 ms for this transaction; PostgreSQL has no such
    lock (its writers wait per row), so it always yields True.
    """
    lock = getattr(conn.engine, "hl_write_lock", None)
    if lock is None:
        with write_transaction(conn):
            yield True
        return
    if not lock.acquire(blocking=False):
        yield False
        return
    if conn.in_transaction():
        conn.commit()
    raw = conn.connection.dbapi_connection
    busy_ms = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    raw.execute("PRAGMA busy_timeout=50")
    try:
        conn.execution_options(hl_write=True)
        try:
            trans = conn.begin()
        except OperationalError:  # another process writes: another time
            yield False
            return
        finally:
            raw.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        with trans:
            yield True
    finally:
        conn.execution_options(hl_write=False)
        lock.release()


def try_transaction_lock(conn: Connection, key: int, *, wait: bool) -> bool:
    """Take the advisory lock ``key`` until the end of ``conn``'s transaction (PostgreSQL); True if held.

    With ``wait`` it waits for the holder's commit, else it answers False at once when another
    server process holds it. SQLite has one server process: always True.
    """
    if conn.dialect.name != "postgresql":
        return True
    if wait:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        return True
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar_one())


@contextmanager
def session_lock(engine: Engine, key: int):
    """Yield True while this process holds the advisory lock ``key`` (PostgreSQL), False if another does.

    Held by a connection of its own, outside any transaction, so it can span slow work (an HTTP
    request) without an idle transaction; released at the end, or by PostgreSQL if the process dies.
    SQLite has one server process: yields True.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as conn:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one())
        conn.commit()
        try:
            yield held
        finally:
            if held:
                unlock(conn, key)


def migrate(engine: Engine) -> None:
    """Apply every migration in ``server/migrations/versions`` that the database lacks.

    On PostgreSQL, several server processes may start at once on one database (replicas behind a
    load balancer): each waits for a session-level advisory lock before alembic looks at the schema,
    so the first one upgrades and the others, once they hold the lock, find it at head and do nothing.
    The lock is released when the upgrade is committed (or with the connection, if the process dies).
    SQLite needs no lock: its writers are serialised by the database file's own lock.

    On SQLite, foreign keys are off while a migration copies a table to change it (SQLite cannot drop a
    table others refer to otherwise), then checked: a row left pointing nowhere stops the upgrade.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    with engine.connect() as conn:
        sqlite_file = conn.dialect.name == "sqlite"
        locked = conn.dialect.name == "postgresql"
        if sqlite_file:  # outside any transaction (the driver is in autocommit mode: see _tune_sqlite)
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        if locked:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()  # the lock outlives this transaction; alembic then reads the schema afresh
        try:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            if sqlite_file:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"the migration left {len(broken)} row(s) pointing nowhere, e.g. {broken[0]}")
            conn.commit()
        finally:
            if sqlite_file:
                conn.rollback()
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
            if locked:
                unlock(conn, MIGRATION_LOCK)


def unlock(conn: Connection, key: int) -> None:
    """Release a session-level advisory lock; a broken connection has released it already."""
    try:
        conn.rollback()  # a failed step leaves its transaction open (aborted): unlock in a fresh one
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        conn.commit()
    except SQLAlchemyError:
        pass  # the connection is gone, and a session's advisory locks go with it


def check_database(conn: Connection) -> None:
    """Raise if the database does not answer (for ``GET /healthz``)."""
    conn.execute(text("SELECT 1")).scalar_one()

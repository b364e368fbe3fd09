"""Load the national data set (bench/national_data.py) into a server database, and say how big it is.

    steps = load_national("postgresql://postgres@127.0.0.1:5432/bench", tree, plan, jobs=2)
    for step, seconds in steps: print(step, seconds)

The schema is migrated first (``server.db.open_engine``); the database must hold no nodes, terminals
or ratings yet. PostgreSQL: nodes and terminals by COPY; the ratings table's keys and indexes are
dropped, the ratings copied by ``jobs`` processes at once (each its own half-days, cursors given),
then the keys and indexes made again exactly as they were, ``rating_tallies`` rebuilt by ingest's own
SQL (``REBUILD_TALLIES_SQL``) and the tables vacuumed and analysed. SQLite (for the tests): plain
inserts in one transaction, the same tallies rebuild.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.national_data import NODE_COLUMNS, RATING_COLUMNS, TERMINAL_COLUMNS, RatingPlan, Tree  # noqa: E402


class NotEmpty(RuntimeError):
    """The database already holds a tree, terminals or ratings."""


def psycopg_url(db_url: str) -> str:
    return db_url.replace("postgresql+psycopg://", "postgresql://", 1)


def loaded_ratings(db_url: str) -> int:
    """How many ratings the (migrated) database holds."""
    from sqlalchemy import text

    from server.db import open_engine
    from server.settings import Settings

    engine = open_engine(Settings(db_url=db_url))
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT COUNT(*) FROM ratings")).scalar_one()
    finally:
        engine.dispose()


def load_national(db_url: str, tree: Tree, plan: RatingPlan, *, jobs: int = 2,
                  progress=lambda line: None) -> list[tuple[str, float]]:
    """Migrate ``db_url``, load ``tree`` and ``plan``'s ratings; the (step, seconds) of each step."""
    from sqlalchemy import text

    from server.db import open_engine
    from server.settings import Settings

    steps: list[tuple[str, float]] = []

    def timed(step: str, action) -> None:
        started = time.perf_counter()
        action()
        steps.append((step, time.perf_counter() - started))
        progress(f"  {step:<44}{steps[-1][1]:>9.1f} s")

    started = time.perf_counter()
    engine = open_engine(Settings(db_url=db_url))
    steps.append(("migrate the schema", time.perf_counter() - started))
    try:
        with engine.connect() as conn:
            held = {table: conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                    for table in ("nodes", "terminals", "ratings")}
        if any(held.values()):
            raise NotEmpty(", ".join(f"{n:,} {table}" for table, n in held.items() if n))
        if engine.dialect.name == "sqlite":
            timed("insert everything (SQLite)", lambda: _fill_sqlite(engine, tree, plan))
            return steps
    finally:
        engine.dispose()
    import psycopg

    url = psycopg_url(db_url)
    with psycopg.connect(url) as conn:
        timed("copy nodes and terminals", lambda: _copy_tree(conn, tree))
        keys = {table: _keys(conn, table) for table in ("ratings", "rating_tallies")}
        timed("drop the keys and indexes of ratings and tallies",
              lambda: [_drop_keys(conn, table, keys[table]) for table in keys])
        timed(f"copy {plan.n:,} ratings ({jobs} processes)", lambda: _copy_ratings(url, plan, jobs))
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET work_mem = '1GB'")
        timed("rebuild rating_tallies", lambda: _rebuild_tallies(conn))
        for name, definition in keys["ratings"] + keys["rating_tallies"]:
            timed(f"make {name}", lambda definition=definition: conn.execute(definition))
        conn.commit()
        conn.autocommit = True
        timed("vacuum and analyse", lambda: conn.execute("VACUUM ANALYZE"))
    return steps


def _fill_sqlite(engine, tree: Tree, plan: RatingPlan) -> None:
    from server.ingest import REBUILD_TALLIES_SQL

    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN")
        for table, columns, rows in (("nodes", NODE_COLUMNS, tree.nodes),
                                     ("terminals", TERMINAL_COLUMNS, tree.terminal_rows()),
                                     ("ratings", RATING_COLUMNS, (row for index in range(len(plan.spans))
                                                                  for row in plan.rows(index)))):
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                               f"VALUES ({', '.join('?' for _ in columns)})", rows)
        for statement in REBUILD_TALLIES_SQL.split("; "):
            cursor.execute(statement)
        cursor.execute("COMMIT")
        cursor.execute("ANALYZE")
        cursor.close()
    finally:
        raw.close()


def _copy_tree(conn, tree: Tree) -> None:
    with conn.cursor() as cursor:
        for table, columns, rows in (("nodes", NODE_COLUMNS, tree.nodes),
                                     ("terminals", TERMINAL_COLUMNS, tree.terminal_rows())):
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        cursor.execute("SELECT setval(pg_get_serial_sequence('nodes', 'id'), (SELECT MAX(id) FROM nodes))")
    conn.commit()


def _keys(conn, table: str) -> list[tuple[str, str]]:
    """(name, SQL that makes it) of ``table``'s keys and indexes: keys, indexes, foreign keys."""
    keys = conn.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype IN ('p', 'u', 'f') ORDER BY contype = 'f', conname", [table]).fetchall()
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass) "
        "ORDER BY indexname", [table, table]).fetchall()
    constraint = f"ALTER TABLE {table} ADD CONSTRAINT {{}} {{}}"
    return ([(name, constraint.format(name, definition)) for name, kind, definition in keys if kind != "f"]
            + [(name, definition) for name, definition in indexes]
            + [(name, constraint.format(name, definition)) for name, kind, definition in keys if kind == "f"])


def _drop_keys(conn, table: str, keys: list[tuple[str, str]]) -> None:
    for name, definition in reversed(keys):  # foreign keys first
        if definition.startswith("ALTER TABLE"):
            conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        else:
            conn.execute(f"DROP INDEX {name}")
    conn.commit()


def _copy_ratings(url: str, plan: RatingPlan, jobs: int) -> None:
    shares = [list(range(job, len(plan.spans), jobs)) for job in range(jobs)]
    if jobs == 1:
        _copy_spans(url, plan, shares[0])
    else:
        with ProcessPoolExecutor(jobs) as pool:
            list(pool.map(_copy_spans, [url] * jobs, [plan] * jobs, shares))
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("SELECT setval(pg_get_serial_sequence('ratings', 'cursor'), %s)", [plan.n])


def _copy_spans(url: str, plan: RatingPlan, indexes: list[int]) -> int:
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY ratings ({', '.join(RATING_COLUMNS)}) FROM STDIN") as copy:
            for index in indexes:
                for row in plan.rows(index):
                    copy.write_row(row)
    return len(indexes)


def _rebuild_tallies(conn) -> None:
    from server.ingest import REBUILD_TALLIES_SQL

    for statement in REBUILD_TALLIES_SQL.split("; "):
        conn.execute(statement)


def database_sizes(db_url: str) -> tuple[int, list[tuple[str, int, int, int]]]:
    """PostgreSQL: the database's size in bytes, and (table, rows, table bytes, index bytes) of the
    biggest tables."""
    import psycopg

    with psycopg.connect(psycopg_url(db_url)) as conn:
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        tables = conn.execute(
            "SELECT c.relname, c.reltuples::bigint, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c "
            "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace "
            "ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 6").fetchall()
    return total, [tuple(row) for row in tables]

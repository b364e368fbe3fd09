"""The local schema across updates and roll-backs (kiosk/migrations.py, issue 13).

A version on trial runs only the migrations marked additive; a non-additive one waits for the commit. An
older version opening a database that a newer one migrated additively keeps working: here version A writes,
version B (A's migrations plus one additive and one non-additive) writes on trial, the terminal is rolled
back to A, and A reads and uploads everything to the real server (SQLite and PostgreSQL): nothing lost or
changed.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils.migrations import Migrations

from kiosk import migrations as schema
from kiosk.store import RatingStore
from sync.local import LocalRatings
from sync.uploader import Uploader
from server_fixtures import *  # noqa: F401,F403 - server_db_url, start_server, server

RATING_FIELDS = "id, terminal_id, rating, reason, reason_outcome, source, created_at, boot_id, monotonic_ns, " \
                "clock_synced, filtered, sealed"


def version_b():
    """Version B's migrations: A's, then an additive one and one that is not (it rewrites old rows)."""
    b = Migrations("kiosk")
    b._migrations = list(schema.migrations._migrations)

    @b()
    def m900_press_duration(db):
        db.execute("ALTER TABLE ratings ADD COLUMN press_ms INTEGER")
        db["press_notes"].create({"rating_id": str, "note": str}, pk="rating_id")

    @b()
    def m901_merge_sources(db):
        db.execute("UPDATE ratings SET source = 'button' WHERE source = 'touch'")

    return b, {"m900_press_duration"}


def rows(path) -> dict[str, tuple]:
    with sqlite3.connect(path) as conn:
        return {row[0]: row for row in conn.execute(f"SELECT {RATING_FIELDS} FROM ratings ORDER BY rowid")}


def run_as_b(monkeypatch, *, on_trial: bool):
    b, additive = version_b()
    monkeypatch.setattr(schema, "migrations", b)
    monkeypatch.setattr(schema, "ADDITIVE", schema.ADDITIVE | additive)
    monkeypatch.setattr(schema, "hold_non_additive", on_trial)


def applied(db) -> list[str]:
    return [m.name for m in schema.migrations.applied(db)]


def test_on_trial_only_additive_migrations_run_and_the_rest_wait_for_the_commit(tmp_path, monkeypatch):
    path = tmp_path / "kiosk.db"
    RatingStore(path, terminal_id="t1").close()
    run_as_b(monkeypatch, on_trial=True)
    store = RatingStore(path, terminal_id="t1")
    assert "m900_press_duration" in applied(store.db) and "m901_merge_sources" not in applied(store.db)
    assert schema.held(store.db) == ["m901_merge_sources"]
    schema.hold_non_additive = False  # the commit (Terminal.schema_after_commit)
    assert schema.apply(store.db) == []
    assert "m901_merge_sources" in applied(store.db)
    store.close()


def test_a_non_additive_migration_holds_back_every_later_one(tmp_path, monkeypatch):
    path = tmp_path / "kiosk.db"
    RatingStore(path, terminal_id="t1").close()  # at A's schema
    b = Migrations("kiosk")
    b._migrations = list(schema.migrations._migrations)

    @b()
    def m900_rewrite(db):
        db.execute("UPDATE ratings SET source = source")

    @b()
    def m901_add(db):
        db.execute("ALTER TABLE ratings ADD COLUMN later TEXT")

    monkeypatch.setattr(schema, "migrations", b)
    monkeypatch.setattr(schema, "ADDITIVE", schema.ADDITIVE | {"m901_add"})
    monkeypatch.setattr(schema, "hold_non_additive", True)
    store = RatingStore(path, terminal_id="t1")
    assert schema.held(store.db) == ["m900_rewrite", "m901_add"]
    assert "later" not in store.db["ratings"].columns_dict
    store.close()


def test_roll_back_to_a_after_b_migrated_additively_loses_and_changes_nothing(tmp_path, server, monkeypatch):
    terminal = server.enroll()
    path = tmp_path / "kiosk.db"
    # Version A stores ratings (one by touch: B's held migration would rewrite it).
    store = RatingStore(path, terminal_id=terminal.id)
    store.record_press("very_satisfied", source="button")
    store.record_press("satisfied", source="touch")
    store.close()
    under_a = rows(path)

    # Version B on trial: its additive migration runs, the other waits; it stores a rating, using its new column.
    with monkeypatch.context() as as_b:
        run_as_b(as_b, on_trial=True)
        store = RatingStore(path, terminal_id=terminal.id)
        b_id = store.record_press("dissatisfied", source="touch")["id"]
        store.db.execute("UPDATE ratings SET press_ms = 120 WHERE id = ?", [b_id])
        store.db["press_notes"].insert({"rating_id": b_id, "note": "held long"})
        assert schema.held(store.db) == ["m901_merge_sources"]
        store.close()
    after_b = rows(path)
    assert {i: after_b[i] for i in under_a} == under_a  # B changed nothing of A's rows

    # Rolled back: version A again (its own migrations), on the database B migrated additively.
    assert "m900_press_duration" not in [m.name for m in schema.migrations._migrations]
    store = RatingStore(path, terminal_id=terminal.id)
    assert "m900_press_duration" in applied(store.db)  # B's, unknown to A: left alone
    store.record_press("very_satisfied", source="button")
    store.close()
    everything = rows(path)
    assert len(everything) == 4 and {i: everything[i] for i in after_b} == after_b

    # A uploads everything to the real server: B's column is not in A's batches, nothing is refused.
    local = LocalRatings(path)
    uploader = Uploader(local, server_url=server.url, token=terminal.token, stamp=RatingStore(
        path, terminal_id=terminal.id).clock.stamp, app_version="1.0.0", timeout=(2.0, 5.0))
    report = uploader.drain(max_failures=2)
    local.close()
    assert report["pending"] == 0 and report["quarantined"] == 0, report
    stored = {str(r["id"]): r for r in server.rows("ratings")}
    assert set(stored) == set(everything)
    for rating_id, row in everything.items():
        assert (stored[rating_id]["rating"], stored[rating_id]["source"]) == (row[2], row[5])
    with sqlite3.connect(path) as conn:  # B's own data is still there for when B comes back
        assert conn.execute("SELECT press_ms FROM ratings WHERE id = ?", [b_id]).fetchone() == (120,)
        assert conn.execute("SELECT note FROM press_notes").fetchall() == [("held long",)]

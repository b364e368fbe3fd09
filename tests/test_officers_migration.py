"""Migration 0012 (officers and dossiers) on a server that holds ratings, on both backends: every rating, tally and
account is kept as it was, the new columns say "no officer, no dossier, counted as before", and the upgraded
server takes the new fields at once. Also down to 0011 and up again."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from officer_fixtures import Units
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock

NEW_RATING_COLUMNS = {"officer_id", "officer_code", "dossier", "dossier_repeat"}
NEW_TABLES = {"officers", "officer_shifts", "dossier_invitations"}


def _rows(conn, table: str, key: str) -> dict:
    return {row[key]: dict(row) for row in conn.execute(text(f"SELECT * FROM {table}")).mappings()}


def _alembic(engine, target: str, *, down: bool) -> None:
    from server.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, target)
        conn.commit()


def test_ratings_of_before_officers_survive_the_upgrade_unchanged(server_db_url, start_server):
    # A server at 0011 holding ratings: made by the real server, then taken down to 0011 (what an older
    # server's database is: 0012 only adds).
    units = Units(start_server(clock=FakeClock(), alert_check_interval_s=0))
    units.upload("C01", [units.rating("C01", rating=level) for level in ("very_satisfied", "satisfied")]
                 + [units.rating("C01", rating="dissatisfied", reason="facilities", reason_outcome="given")]
                 + [units.rating("C01", filtered=1)])
    units.upload("C02", [units.rating("C02")])
    units.server.live.stop()
    units.server.engine.dispose()
    engine = create_engine(server_db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        _alembic(engine, "0011_unit_alerts", down=True)
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == "0011_unit_alerts"
            assert not NEW_TABLES & set(inspect(conn).get_table_names())
            assert not NEW_RATING_COLUMNS & {c["name"] for c in inspect(conn).get_columns("ratings")}
            before = {"ratings": _rows(conn, "ratings", "id"), "accounts": _rows(conn, "accounts", "id")}
            tallies_before = sorted(tuple(row) for row in conn.execute(text("SELECT * FROM rating_tallies")))
        assert len(before["ratings"]) == 5

        _alembic(engine, "head", down=False)
        with engine.connect() as conn:
            after = {"ratings": _rows(conn, "ratings", "id"), "accounts": _rows(conn, "accounts", "id")}
            tallies_after = sorted(tuple(row) for row in conn.execute(text("SELECT * FROM rating_tallies")))
            assert NEW_TABLES <= set(inspect(conn).get_table_names())
        for table in ("ratings", "accounts"):
            assert after[table].keys() == before[table].keys()
            for key, old in before[table].items():
                assert {k: after[table][key][k] for k in old} == old, (table, key)
        assert {(r["officer_id"], r["officer_code"], r["dossier"], r["dossier_repeat"])
                for r in after["ratings"].values()} == {(None, None, None, 0)}
        assert {bool(a["sees_officers"]) for a in after["accounts"].values()} == {False}
        assert tallies_after == tallies_before
    finally:
        engine.dispose()

    # The upgraded server takes the new fields, and counts a dossier once.
    server = start_server(clock=FakeClock(), alert_check_interval_s=0)
    units.server = server
    answer = units.upload("C01", [units.rating("C01", officer="NVA01", dossier="HS-2026-000123"),
                                  units.rating("C01", dossier="HS-2026-000123")])
    assert [ack["status"] for ack in answer["acks"]] == ["stored", "stored"]
    assert sorted(r["dossier_repeat"] for r in server.rows("ratings") if r["dossier"]) == [0, 1]

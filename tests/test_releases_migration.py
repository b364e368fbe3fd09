"""Migration 0014 (releases, rollouts, the terminals' update state) on both backends: down to 0013 drops only what it
added (every terminal and rating kept), and up again gives the terminals no update state and no releases."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from release_fixtures import heartbeat
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock, make_batch, make_rating

NEW_TABLES = {"releases", "rollouts", "rollout_first_wave"}
NEW_TERMINAL_COLUMNS = {"update_state", "update_version", "update_error", "update_failed_version"}


def _alembic(engine, target: str, *, down: bool) -> None:
    from server.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, target)
        conn.commit()


def test_down_to_0013_and_up_again_keeps_terminals_and_ratings(server_db_url, start_server, tmp_path):
    server = start_server(clock=FakeClock(), alert_check_interval_s=0, releases_dir=str(tmp_path / "releases"))
    terminal = server.enroll()
    assert server.upload(terminal, make_batch([make_rating(terminal.id)])).status_code == 200
    heartbeat(server, terminal, update_state="failed", update_version="1.2.0", update_error="no space")
    server.live.stop()
    server.engine.dispose()
    engine = create_engine(server_db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            ratings_before = conn.execute(text("SELECT id, corrected_at FROM ratings ORDER BY id")).all()
        _alembic(engine, "0013_terminal_settings", down=True)
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == "0013_terminal_settings"
            assert not NEW_TABLES & set(inspect(conn).get_table_names())
            assert not NEW_TERMINAL_COLUMNS & {c["name"] for c in inspect(conn).get_columns("terminals")}
            assert conn.execute(text("SELECT id FROM terminals")).scalars().all() == [terminal.id]
        _alembic(engine, "head", down=False)
        with engine.connect() as conn:
            assert NEW_TABLES <= set(inspect(conn).get_table_names())
            row = conn.execute(text("SELECT update_state, update_error, update_failed_version FROM terminals")).one()
            assert tuple(row) == (None, None, None)
            assert conn.execute(text("SELECT id, corrected_at FROM ratings ORDER BY id")).all() == ratings_before
    finally:
        engine.dispose()

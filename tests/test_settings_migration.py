"""Migration 0013 (remote terminal settings) on both backends: down to 0012 takes the table and the terminals' two
columns away and keeps every terminal as it was; up again adds them empty, and the server sets settings at once."""

from __future__ import annotations

from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from officer_fixtures import Units
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock
from test_officers_migration import _alembic, _rows

NEW_COLUMNS = {"settings_version", "settings_error"}
#: Migration 0014's columns (the update state), dropped too on the way down to 0012, NULL again on the way up.
LATER_COLUMNS = {"update_state", "update_version", "update_error", "update_failed_version"}


def test_down_to_0012_and_up_again_keeps_the_terminals(server_db_url, start_server):
    from server.terminal_settings import settings_version

    units = Units(start_server(clock=FakeClock(), alert_check_interval_s=0))
    answer = units.server.post("/api/v1/settings", json={"set": {"voice.volume": 0.5}},
                               headers=units.headers("province_admin"))
    assert answer.status_code == 200, answer.text
    units.upload("C01", health={"settings_version": settings_version({"voice.volume": 0.5})})
    units.server.live.stop()
    units.server.engine.dispose()
    engine = create_engine(server_db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            before = _rows(conn, "terminals", "id")
        _alembic(engine, "0012_officers_dossiers", down=True)
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == "0012_officers_dossiers"
            assert "terminal_settings_changes" not in inspect(conn).get_table_names()
            assert not NEW_COLUMNS & {c["name"] for c in inspect(conn).get_columns("terminals")}
            down = _rows(conn, "terminals", "id")
        assert down == {key: {k: v for k, v in row.items() if k not in NEW_COLUMNS | LATER_COLUMNS}
                        for key, row in before.items()}
        _alembic(engine, "head", down=False)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM terminal_settings_changes")).scalar() == 0
            up = _rows(conn, "terminals", "id")
        assert up == {key: {**row, **dict.fromkeys(NEW_COLUMNS | LATER_COLUMNS)} for key, row in down.items()}
    finally:
        engine.dispose()
    server = start_server(clock=FakeClock(), alert_check_interval_s=0)
    units.server = server
    answer = server.post("/api/v1/settings", json={"node": "U01", "set": {"feedback.thanks_s": 3}},
                         headers=units.headers("province_admin"))
    assert answer.status_code == 200, answer.text
    assert units.upload("C01")["settings_version"] == settings_version({"feedback.thanks_s": 3.0})

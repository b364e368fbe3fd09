"""Ratings a terminal keeps aside reach the server as a number and its causes (migration 0005), on both backends:
the API, the fleet page, its CSV and ``kiosk-server terminals``; older terminals that do not send them still work."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import create_engine, text

from cli_helpers import run_main
from dashboard_fixtures import log_in
from server.cli import main as server_main
from server_fixtures import *  # noqa: F403

REFUSED = "refused by the server: monotonic_ns: negative"
HOSTILE = '=HYPERLINK("http://x.example","<script>alert(1)</script>")'


def heartbeat(server, terminal, **health):
    answer = server.upload(terminal, make_batch([], health=health))
    assert answer.status_code == 200, answer.text
    return answer


def test_kept_aside_and_its_causes_reach_the_api_the_fleet_page_its_csv_and_the_cli(start_server, server_db_url,
                                                                                      capsys):
    server = start_server()
    terminal = server.enroll()
    heartbeat(server, terminal, kept_aside=5, kept_aside_causes={REFUSED: 3, HOSTILE: 2})

    listed, = server.get("/api/v1/terminals", headers=server.admin_headers()).json()["terminals"]
    assert (listed["kept_aside"], listed["kept_aside_causes"]) == (5, {REFUSED: 3, HOSTILE: 2})
    assert listed["last_error"] is None  # no longer a sentence standing in for a column

    session = log_in(server, server.person(), next_path="/fleet")
    page = session.get(server.url + "/fleet", timeout=30).text
    assert f"<li><bdi>{REFUSED}</bdi>: 3</li>" in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "1 thiết bị giữ lại đánh giá không gửi được" in page

    exported = session.get(server.url + "/export/fleet.csv", timeout=30).content.decode("utf-8")
    header, row = list(csv.reader(io.StringIO(exported.removeprefix("\ufeff"))))
    line = dict(zip(header, row))
    assert line["Giữ lại trên thiết bị"] == "5"
    assert line["Nguyên nhân giữ lại"] == f"{REFUSED} (3); {HOSTILE} (2)"  # starts with a letter: no quote needed

    status, out, err = run_main(server_main, ["terminals", "--db", server_db_url], capsys)
    assert status == 0, err
    header_line, table_line, causes_line = out.strip().splitlines()
    assert "kept aside" in header_line and " 5 " in table_line
    assert causes_line == f"{terminal.id} keeps 5 rating(s) aside, not sent: {REFUSED} (3); {HOSTILE} (2)"


def test_a_cause_that_reads_as_a_formula_is_text_in_the_csv(server):
    terminal = server.enroll()
    heartbeat(server, terminal, kept_aside=2, kept_aside_causes={HOSTILE: 2})
    session = log_in(server, server.person(), next_path="/fleet")
    exported = session.get(server.url + "/export/fleet.csv", timeout=30).content.decode("utf-8")
    header, row = list(csv.reader(io.StringIO(exported.removeprefix("\ufeff"))))
    assert dict(zip(header, row))["Nguyên nhân giữ lại"] == f"'{HOSTILE} (2)"


def test_an_older_terminal_that_sends_neither_field_keeps_working_and_shows_none(start_server, server_db_url, capsys):
    server = start_server()
    terminal = server.enroll()
    heartbeat(server, terminal, kept_aside=4, kept_aside_causes={REFUSED: 4})
    # The same terminal answered by an older app (or its ratings aside were dealt with): the fields are absent.
    answer = server.upload(terminal, make_batch([make_rating(terminal.id)], health={"last_error": "network down"}))
    assert answer.status_code == 200 and answer.json()["acks"][0]["status"] == "stored"
    row, = server.rows("terminals")
    assert (row["kept_aside"], row["kept_aside_causes"], row["last_error"]) == (None, None, "network down")
    status, out, _err = run_main(server_main, ["terminals", "--db", server_db_url], capsys)
    assert status == 0 and "keeps" not in out and len(out.strip().splitlines()) == 2


@pytest.mark.parametrize("causes, field", [
    ({"x\u0000y": 1}, "health.kept_aside_causes"),
    ({"x" * 201: 1}, "health.kept_aside_causes"),
    ({f"cause {i}": 1 for i in range(11)}, "health.kept_aside_causes"),
    ({REFUSED: -1}, "health.kept_aside_causes"),
])
def test_causes_the_server_cannot_keep_are_refused_with_the_field_named(server, causes, field):
    terminal = server.enroll()
    answer = server.upload(terminal, make_batch([], health={"kept_aside": 1, "kept_aside_causes": causes}))
    assert answer.status_code == 422
    assert answer.json()["field"].startswith(field)
    assert server.rows("terminals")[0]["kept_aside"] is None


def test_migration_0005_adds_the_columns_and_keeps_every_terminal(server_db_url):
    """From 0004 (the schema before this step) to the head: the terminals are there, with nothing kept aside."""
    from alembic import command
    from alembic.config import Config
    from alembic.migration import MigrationContext

    from server.db import MIGRATIONS

    engine = create_engine(server_db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            if MigrationContext.configure(conn).get_current_revision() is None:  # SQLite: an empty file
                command.upgrade(config, "0004_dashboard_sessions")
            else:  # PostgreSQL's test databases start at the head
                command.downgrade(config, "0004_dashboard_sessions")
            conn.commit()
            columns = set(conn.execute(text("SELECT * FROM terminals LIMIT 0")).keys())
            assert "kept_aside" not in columns
            conn.execute(text("INSERT INTO terminals (id, site, token_hash, enrolled_at, last_error) VALUES "
                              "('hd-01', 'UBND phường Phúc La', :h, '2026-11-25T09:30:12.345Z', 'old words')"),
                         {"h": "0" * 64})
            conn.commit()
            command.upgrade(config, "head")
            conn.commit()
            row = conn.execute(text("SELECT id, last_error, kept_aside, kept_aside_causes FROM terminals")).one()
        assert tuple(row) == ("hd-01", "old words", None, None)
    finally:
        engine.dispose()

"""Dossier codes are kept no longer than ``dossier_retention_days`` (SQLite and PostgreSQL): the server blanks them
in ratings and invitations (the rows kept, the counts unchanged) in its hourly background task or with
``kiosk-server purge-dossiers``, and says so in the audit trail."""

from __future__ import annotations

import json

import pytest

from cli_helpers import run_main
from officer_fixtures import Units, invitation
from server.cli import main
from server.settings import SPECS
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock

DAY_S = 86_400


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(monkeypatch):
    for spec in SPECS:
        for name in (spec.env, *spec.env_aliases):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def units(start_server):
    return Units(start_server(clock=FakeClock(), alert_check_interval_s=0, dossier_retention_days=30))


def _dossiers(units) -> dict[str, str | None]:
    rows = units.server.rows("ratings") + units.server.rows("dossier_invitations")
    return {row["id"]: row["dossier"] for row in rows}


def _tallies(units) -> list[tuple]:
    return sorted((t["hour"], t["filtered"], t["n"]) for t in units.server.rows("rating_tallies"))


def test_codes_past_the_retention_are_blanked_and_everything_else_stays(units):
    clock = units.server.app.state.clock
    old = [units.rating("C01", dossier="HS-OLD-0001"), units.rating("C01", dossier="HS-OLD-0001")]
    old_invitation = invitation("HS-OLD-0001", outcome="rated", rating_id=old[0]["id"],
                                created_at="2026-11-25T09:29:00.000Z", closed_at="2026-11-25T09:29:40.000Z")
    units.upload("C01", old, invitations=[old_invitation])
    clock.advance(20 * DAY_S)
    new = units.rating("C01", dossier="HS-NEW-0002", created_at="2026-12-15T09:30:12.345Z", boot_id="boot-2")
    units.upload("C01", [new], sent_at="2026-12-15T09:30:15.000Z", boot_id="boot-2")
    tallies = _tallies(units)
    retention = units.server.app.state.dossier_retention
    assert retention.purge() == {"ratings": 0, "invitations": 0, "cutoff": "2026-11-15T09:30:00.000Z"}
    assert units.server.rows("audit_log", action="dossier_purge") == []  # nothing blanked, nothing recorded
    clock.advance(11 * DAY_S)  # the first ratings are now 31 days old
    done = retention.purge()
    assert (done["ratings"], done["invitations"]) == (2, 1)
    assert _dossiers(units) == {old[0]["id"]: None, old[1]["id"]: None, old_invitation["id"]: None,
                                new["id"]: "HS-NEW-0002"}
    repeat, = units.server.rows("ratings", id=old[1]["id"])
    assert repeat["dossier_repeat"] == 1  # still not counted: the counts do not change
    assert _tallies(units) == tallies and units.server.count("ratings") == 3
    entry, = units.server.rows("audit_log", action="dossier_purge")
    assert (entry["actor"], entry["row_count"]) == ("kiosk-server (dossier retention)", 3)
    assert json.loads(entry["details"])["days"] == 30
    assert retention.purge()["ratings"] == 0  # once only


def test_the_terminals_are_told_the_retention(units):
    listed = units.server.get("/api/v1/terminal/officers", headers=units.terminal["C01"].headers).json()
    assert listed["dossier_retention_days"] == 30


def test_purge_dossiers_on_the_command_line(units, server_db_url, capsys):
    units.upload("C01", [units.rating("C01", dossier="HS-CLI-0001")])  # dated 2026-11-25
    status, out, err = run_main(main, ["purge-dossiers", "--dossier-retention-days", "1", "--db", server_db_url],
                                capsys)
    assert status == 0, err
    assert "1 ratings, 0 invitations" in out
    assert _dossiers(units) == {units.server.rows("ratings")[0]["id"]: None}
    entry, = units.server.rows("audit_log", action="dossier_purge")
    assert entry["actor"].startswith("kiosk-server CLI (") and entry["row_count"] == 1


@pytest.mark.parametrize("value", ["0", "-5", "a year"])
def test_a_retention_that_is_no_number_of_days_is_refused(value, server_db_url, capsys):
    status, _out, err = run_main(main, ["purge-dossiers", "--dossier-retention-days", value, "--db", server_db_url],
                                 capsys)
    assert status == 2 and "--dossier-retention-days" in err

"""``kiosk-server settings show|set|history|rollback`` against a real server's database (SQLite and PostgreSQL):
the values as TOML or bare words, exit 2 naming the key with nothing stored, the audit entries, and the running
server's receipts picking a CLI change up."""

from __future__ import annotations

import json

import pytest

from cli_helpers import run_main
from officer_fixtures import Units
from server.cli import main
from server.settings import SPECS
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(monkeypatch):
    for spec in SPECS:
        for name in (spec.env, *spec.env_aliases):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def units(start_server):
    return Units(start_server(clock=FakeClock(), alert_check_interval_s=0))


def settings(units, server_db_url, capsys, *args):
    return run_main(main, ["settings", *args, "--db", server_db_url], capsys)


def test_set_show_history_and_rollback(units, server_db_url, capsys):
    status, out, err = settings(units, server_db_url, capsys, "set", "feedback.thanks_s=5",
                                'feedback.reasons=["staff_attitude"]', "terminal.language=en", "--note", "thử")
    assert status == 0, err
    assert out.startswith("change 1: the whole fleet now sets 3 key(s)")
    status, out, err = settings(units, server_db_url, capsys, "set", "--node", "U01", "voice.volume=0.4",
                                "--unset", "voice.enabled")
    assert status == 0, err
    status, out, _ = settings(units, server_db_url, capsys, "show", "--terminal", units.terminal["C01"].id, "--json")
    shown = json.loads(out)
    assert shown["effective"]["values"] == {"feedback.thanks_s": 5.0, "feedback.reasons": ["staff_attitude"],
                                            "terminal.language": "en", "voice.volume": 0.4}
    assert shown["effective"]["sources"]["voice.volume"] == f"node:{units.node['U01']}"
    # The running server's receipts pick the CLI's change up (another process: within the generation's recheck).
    answer = units.upload("C01")
    fetched = units.server.get("/api/v1/terminal/settings", headers=units.terminal["C01"].headers).json()
    assert answer["settings_version"] == fetched["version"] == shown["effective"]["version"]
    status, out, _ = settings(units, server_db_url, capsys, "show", "--node", "U01")
    assert status == 0 and "voice.volume = 0.4" in out and "feedback.thanks_s = 5.0    from fleet" in out
    assert settings(units, server_db_url, capsys, "set", "--unset", "terminal.language")[0] == 0
    status, out, _ = settings(units, server_db_url, capsys, "rollback", "1", "--note", "quay lại")
    assert status == 0 and "restored to change 1's settings" in out
    status, out, _ = settings(units, server_db_url, capsys, "history")
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["change", "4", "3", "2", "1"]
    assert "quay lại" in lines[1] and "thử" in lines[4]
    status, out, _ = settings(units, server_db_url, capsys, "history", "--node", "U01")
    assert [line.split()[0] for line in out.splitlines()] == ["change", "2"]
    entries = units.server.rows("audit_log", action="terminal_settings_change")
    assert len(entries) == 3 and entries[0]["actor"].startswith("kiosk-server CLI (")
    rolled, = units.server.rows("audit_log", action="terminal_settings_rollback")
    assert json.loads(rolled["details"])["restores"] == 1


@pytest.mark.parametrize("args, key", [
    (["feedback.thanks_s=soon"], "feedback.thanks_s"),
    (["feedback.reasons=[\"no_such_reason\"]"], "feedback.reasons"),
    (["pins.satisfied=5"], "pins.satisfied"),
    (["voice.volume=0.5", "--unset", "storage.path"], "storage.path"),
    (["voice.volume"], "voice.volume"),
    (["--node", "NOSUCH", "voice.volume=0.5"], "node"),
])
def test_a_bad_key_or_value_exits_2_naming_it_and_stores_nothing(units, server_db_url, capsys, args, key):
    status, out, err = settings(units, server_db_url, capsys, "set", *args)
    assert status == 2 and out == ""
    assert err.startswith(f"kiosk-server settings: {key}") and err.rstrip().endswith("nothing was stored"), err
    assert units.server.rows("terminal_settings_changes") == []
    assert units.server.rows("audit_log", action="terminal_settings_change") == []


def test_rolling_back_a_change_that_does_not_exist_exits_2(units, server_db_url, capsys):
    status, _, err = settings(units, server_db_url, capsys, "rollback", "42")
    assert status == 2 and "42" in err and units.server.rows("terminal_settings_changes") == []


def test_the_audit_chain_still_verifies_after_settings_changes(units, server_db_url, capsys):
    assert settings(units, server_db_url, capsys, "set", "voice.volume=0.3")[0] == 0
    assert settings(units, server_db_url, capsys, "rollback", "1")[0] == 0
    status, out, err = run_main(main, ["audit", "verify", "--db", server_db_url], capsys)
    assert status == 0, out + err

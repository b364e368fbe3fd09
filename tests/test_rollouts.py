"""Rollouts in waves, on both backends, through a real server: the first wave alone is offered the release; once
every first-wave terminal runs it and is idle the rest are offered it; a first-wave terminal reporting it rolled
back stops the rollout by itself (reason shown, audit entry), and its failure stays visible after it is idle."""

from __future__ import annotations

import json

import pytest

from release_fixtures import ReleaseKey, heartbeat, upload
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock


@pytest.fixture
def fleet(start_server, tmp_path):
    """A server, 10 terminals, and release 1.2.0 uploaded."""
    key = ReleaseKey()
    server = start_server(clock=FakeClock(), alert_check_interval_s=0, release_public_key=key.public,
                          releases_dir=str(tmp_path / "releases"))
    terminals = [server.enroll(counter=f"Quầy {i}") for i in range(10)]
    made = key.release(tmp_path / "built", "1.2.0")
    assert upload(server, server.admin_headers(), made).status_code == 201
    return server, terminals


def _start(server, **body) -> dict:
    answer = server.post("/api/v1/releases/1.2.0/rollouts", json=body, headers=server.admin_headers())
    assert answer.status_code == 201, answer.text
    return answer.json()


def _status(server) -> dict:
    return server.get("/api/v1/rollouts?version=1.2.0", headers=server.admin_headers()).json()["rollouts"][0]


def _offered(server, terminals, **health) -> set[str]:
    return {t.id for t in terminals if "release" in heartbeat(server, t, **health)}


def test_the_first_wave_then_everyone_once_it_is_healthy(fleet):
    server, terminals = fleet
    started = _start(server, wave_pct=20)
    assert started["state"] == "first_wave" and started["first_wave"]["terminals"] == 2
    members = {row["terminal_id"] for row in server.rows("rollout_first_wave")}
    assert len(members) == 2
    assert _offered(server, terminals) == members  # only the first wave

    by_id = {t.id: t for t in terminals}
    first, second = sorted(members)
    heartbeat(server, by_id[first], app_version="1.2.0", update_state="idle", update_version="1.2.0")
    assert _status(server)["state"] == "first_wave"  # one of two is not a healthy wave
    heartbeat(server, by_id[second], app_version="1.2.0", update_state="trial", update_version="1.2.0")
    assert _status(server)["state"] == "first_wave"  # in trial: not proven yet
    heartbeat(server, by_id[second], app_version="1.2.0", update_state="idle", update_version="1.2.0")
    status = _status(server)
    assert status["state"] == "all" and status["first_wave"]["updated"] == 2 and status["all_at"]
    rest = [t for t in terminals if t.id not in members]
    assert _offered(server, rest) == {t.id for t in rest}

    for t in rest[:-1]:
        heartbeat(server, t, app_version="1.2.0", update_state="idle", update_version="1.2.0")
    assert server.app.state.rollouts.evaluate_all() == []  # one still runs 0.1.0
    heartbeat(server, rest[-1], app_version="1.2.0", update_state="idle", update_version="1.2.0")
    assert server.app.state.rollouts.evaluate_all() == ["done"]
    status = _status(server)
    assert status["state"] == "done" and status["updated"] == status["terminals"] == 10
    entry = server.rows("audit_log", action="release_rollout")[0]
    assert json.loads(entry["details"])["wave_pct"] == 20 and entry["subject"] == "1.2.0"


def test_a_first_wave_terminal_that_rolls_back_stops_the_rollout(fleet, capsys, no_server_settings):
    server, terminals = fleet
    _start(server, wave_pct=20)
    members = sorted(row["terminal_id"] for row in server.rows("rollout_first_wave"))
    bad = next(t for t in terminals if t.id == members[0])
    heartbeat(server, bad, app_version="0.1.0", update_state="rolled_back", update_version="1.2.0",
              update_error="the home screen was not drawn within 120 s")
    status = _status(server)
    assert status["state"] == "stopped" and status["first_wave"]["failed"] == 1
    assert bad.id in status["stopped_reason"] and "120 s" in status["stopped_reason"]
    assert status["stopped_by"] == "server (rollout rules)"
    entry = server.rows("audit_log", action="release_stop")[0]
    assert json.loads(entry["details"])["by_itself"] is True
    assert _offered(server, terminals) == set()  # nobody is offered a stopped release
    assert server.get("/api/v1/terminal/releases/1.2.0/archive", headers=bad.headers).status_code == 403

    # Back to idle on the old version: the failure stays on its row and in the fleet list.
    heartbeat(server, bad, app_version="0.1.0", update_state="idle", update_version="0.1.0")
    listed = {t["id"]: t for t in server.get("/api/v1/terminals", headers=server.admin_headers()).json()["terminals"]}
    assert listed[bad.id]["update_state"] == "idle"
    assert listed[bad.id]["update_error"] == "the home screen was not drawn within 120 s"
    from cli_helpers import run_main
    from server.cli import main

    status, out, _ = run_main(main, ["terminals", "--db", server.app.state.settings.db_url], capsys)
    assert status == 0 and "update" in out.splitlines()[0]
    assert f"{bad.id}'s last update failed: the home screen was not drawn within 120 s" in out


def test_a_terminal_that_failed_a_release_is_not_offered_it_again(fleet):
    server, terminals = fleet
    _start(server)  # everyone at once: a failure does not stop it, but that terminal is left out
    assert _status(server)["state"] == "all"
    t = terminals[0]
    heartbeat(server, t, update_state="failed", update_version="1.2.0", update_error="not enough disk space")
    assert "release" not in heartbeat(server, t)
    assert "release" in heartbeat(server, terminals[1])
    assert _status(server)["failed"] == 1


def test_stop_by_an_administrator_and_a_second_start(fleet):
    server, terminals = fleet
    _start(server, wave_pct=50)
    again = server.post("/api/v1/releases/1.2.0/rollouts", json={}, headers=server.admin_headers())
    assert again.status_code == 409 and "already rolling out" in again.json()["error"]
    stopped = server.post("/api/v1/releases/1.2.0/stop", json={"reason": "wrong build"}, headers=server.admin_headers())
    assert stopped.status_code == 200 and stopped.json()["rollouts"][0]["stopped_reason"] == "wrong build"
    assert _offered(server, terminals) == set()
    assert server.post("/api/v1/releases/1.2.0/stop", json={}, headers=server.admin_headers()).status_code == 409
    assert _start(server)["state"] == "all"  # started again, everyone at once
    assert len(_offered(server, terminals)) == 10
    actions = [row["action"] for row in server.rows("audit_log") if row["action"].startswith("release_")]
    assert actions == ["release_upload", "release_rollout", "release_stop", "release_rollout"]


@pytest.mark.parametrize("body, status, words", [
    ({"wave_pct": 0}, 422, "wave_pct"),
    ({"wave_pct": 101}, 422, "wave_pct"),
    ({"node": "no-such-node"}, 404, "node: no node has the code or id"),
])
def test_a_bad_rollout_is_refused_naming_the_field(fleet, body, status, words):
    server, _ = fleet
    answer = server.post("/api/v1/releases/1.2.0/rollouts", json=body, headers=server.admin_headers())
    assert answer.status_code == status and words in answer.json()["error"], answer.text
    assert server.count("rollouts") == 0
    missing = server.post("/api/v1/releases/9.9.9/rollouts", json={}, headers=server.admin_headers())
    assert missing.status_code == 404


def test_the_dashboard_shows_the_rollout_its_reason_and_each_terminals_update(fleet):
    from dashboard_fixtures import log_in

    server, terminals = fleet
    _start(server, wave_pct=20)
    members = sorted(row["terminal_id"] for row in server.rows("rollout_first_wave"))
    bad = next(t for t in terminals if t.id == members[0])
    heartbeat(server, bad, update_state="rolled_back", update_version="1.2.0", update_error="màn hình chính không hiện")
    session = log_in(server, server.person())
    page = session.get(server.url + "/releases", timeout=30)
    assert page.status_code == 200
    assert 'id="rollout-1"' in page.text and "Đã dừng" in page.text and "màn hình chính không hiện" in page.text
    assert 'id="release-1.2.0"' in page.text
    fleet_page = session.get(server.url + "/fleet", timeout=30).text
    row = fleet_page.split(f'id="terminal-{bad.id}"', 1)[1].split("</tr>", 1)[0]
    assert "Đã quay về bản cũ" in row and "1.2.0" in row and "màn hình chính không hiện" in row


def test_a_rollout_that_stops_by_itself_raises_an_alert_until_rolled_out_again(fleet):
    server, terminals = fleet
    _start(server, wave_pct=20)
    members = sorted(row["terminal_id"] for row in server.rows("rollout_first_wave"))
    bad = next(t for t in terminals if t.id == members[0])
    heartbeat(server, bad, update_state="rolled_back", update_version="1.2.0", update_error="crashed 3 times")
    server.app.state.alert_monitor.check()
    active = server.get("/api/v1/alerts", headers=server.admin_headers()).json()["active"]
    stopped = [a for a in active if a["rule"] == "rollout_stopped"]
    assert len(stopped) == 1 and stopped[0]["subject"] == "rollout #1"
    assert "1.2.0" in stopped[0]["message"] and "crashed 3 times" in stopped[0]["message"]
    server.post("/api/v1/releases/1.2.0/rollouts", json={"wave_pct": 100}, headers=server.admin_headers())
    server.app.state.alert_monitor.check()
    active = server.get("/api/v1/alerts", headers=server.admin_headers()).json()["active"]
    assert [a for a in active if a["rule"] == "rollout_stopped"] == []


def test_the_background_loop_moves_a_rollout_along_by_itself(start_server, tmp_path, monkeypatch):
    import time

    import server.rollouts

    monkeypatch.setattr(server.rollouts, "EVALUATE_INTERVAL_S", 0.2)
    key = ReleaseKey()
    server = start_server(clock=FakeClock(), alert_check_interval_s=0, releases_dir=str(tmp_path / "releases"))
    terminal = server.enroll()
    assert upload(server, server.admin_headers(), key.release(tmp_path / "built", "1.2.0")).status_code == 201
    _start(server)
    heartbeat(server, terminal, app_version="1.2.0", update_state="idle", update_version="1.2.0")
    deadline = time.monotonic() + 10
    while _status(server)["state"] != "done" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _status(server)["state"] == "done"

"""Issue 13 end to end through the REAL central server (slow: real bundles, like tests/test_update_bundles.py).

A real terminal (the bundle from ``make bundle``, installed in slot a of a temporary /opt/hai-long and run by
deploy/hai-long-launch under a stand-in for systemd) is enrolled with the real server (``create_app`` under
uvicorn on a loopback port, SQLite). The administrator then does what the README's fleet section says:

    remote setting     POST /api/v1/settings -> the terminal applies it -> its row: wanted == applied
    release B          uploaded, rolled out in waves -> the terminal updates, commits -> the rollout is done
    broken release C   uploaded, rolled out -> the first-wave terminal rolls back by itself -> the rollout stops

and every rating stored under every version reaches the server. The server's storage of all this is tested on
both backends by the server's own tests (tests/test_releases.py, test_rollouts.py, test_settings_*.py).
"""

from __future__ import annotations

import base64
import sqlite3
import time
from pathlib import Path

import pytest

from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock  # noqa: F401
from test_bundle import bundle  # noqa: F401  (the fixture: dist/kiosk built from these sources)
from update_terminal import FIRST_FRAME, Releases, Supervisor, frozen_env, install, write_config

A, B, C = "1.0.0", "1.1.0", "1.2.0"


@pytest.fixture
def server_db_url(tmp_path):
    """SQLite only here (see the module's docstring)."""
    return f"sqlite:///{tmp_path / 'server.db'}"


@pytest.fixture(scope="module")
def releases(bundle, tmp_path_factory):  # noqa: F811
    made = Releases(bundle.parent, tmp_path_factory.mktemp("fleet-releases"))
    for version in (A, B):
        made.make(version)
    made.make(C, broken=True)
    return made


def wait_until(what: str, probe, timeout: float, supervisor: Supervisor):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout} s\n{supervisor.log(40)}")


def test_settings_and_releases_reach_a_real_terminal_through_the_real_server(tmp_path, start_server, releases):
    server = start_server(releases_dir=str(tmp_path / "releases"), alert_check_interval_s=0)
    admin = server.admin_headers()
    enrolled = server.enroll()
    root = tmp_path / "opt"
    install(root, releases.archives[A])
    config = write_config(tmp_path, server_url=server.url, public_key=releases.public, root=root,
                          terminal_id=enrolled.id, device_token=enrolled.token)
    supervisor = Supervisor(config, frozen_env(tmp_path, root), tmp_path).start()

    def row() -> dict:
        return server.rows("terminals", id=enrolled.id)[0]

    def rollout(version: str) -> dict:
        answer = server.get("/api/v1/rollouts", headers=admin)
        assert answer.status_code == 200, answer.text
        return next(r for r in answer.json()["rollouts"] if r["version"] == version)

    def release(version: str, wave_pct: int) -> None:
        archive = releases.archives[version]
        statement = base64.b64encode(Path(f"{archive}.sig").read_bytes()).decode()
        answer = server.post("/api/v1/releases", data=archive.read_bytes(),
                             headers={**admin, "Content-Type": "application/gzip", "X-Release-Statement": statement})
        assert answer.status_code == 201, answer.text
        answer = server.post(f"/api/v1/releases/{version}/rollouts", json={"wave_pct": wave_pct}, headers=admin)
        assert answer.status_code == 201, answer.text

    try:
        supervisor.wait_for(FIRST_FRAME, 90)
        wait_until("A reported", lambda: row()["app_version"] == A, 60, supervisor)

        # A remote setting: the server wants it, the terminal applies it at a quiet moment and reports it.
        answer = server.post("/api/v1/settings", json={"set": {"texts.question_vi": "Anh/chị hài lòng chứ?"}},
                             headers=admin)
        assert answer.status_code == 200, answer.text
        wanted = answer.json()["change"]["version"]
        wait_until("the setting applied", lambda: row()["settings_version"] == wanted, 90, supervisor)
        fleet = server.get("/api/v1/terminals", headers=admin).json()["terminals"]
        mine = next(t for t in fleet if t["id"] == enrolled.id)
        assert mine["settings_wanted"] == mine["settings_applied"] == wanted and mine["settings_error"] is None

        # Release B in waves (the one terminal is the first wave): updated, committed, the rollout done.
        release(B, 50)
        supervisor.wait_for(r"version 1\.1\.0 proved healthy: committed", 240)
        wait_until("B idle on the server", lambda: (row()["app_version"], row()["update_state"]) == (B, "idle"),
                   60, supervisor)
        wait_until("B's rollout done", lambda: rollout(B)["state"] == "done", 60, supervisor)
        # The remote setting survived the update (kept in the database, not in the program).
        assert row()["settings_version"] == wanted

        # Broken C: the first-wave terminal returns to B by itself, and the rollout stops by itself.
        release(C, 50)
        wait_until("C rolled back", lambda: row()["update_state"] == "rolled_back", 240, supervisor)
        stopped = wait_until("C's rollout stopped", lambda: rollout(C)["state"] == "stopped" and rollout(C), 60,
                             supervisor)
        assert enrolled.id in stopped["stopped_reason"] and stopped["stopped_by"]
        wait_until("B running again", lambda: row()["app_version"] == B, 60, supervisor)
        assert row()["update_version"] == C and row()["update_error"]
        assert (root / "current").readlink() == Path("b")

        # Every press stored under A, B and the attempts at C reached the server, unchanged.
        def delivered():
            with sqlite3.connect(tmp_path / "data" / "kiosk.db") as conn:
                local = {r[0]: tuple(r[1:]) for r in conn.execute("SELECT id, rating, created_at FROM ratings")}
            held = {r["id"]: (r["rating"], r["created_at"]) for r in server.rows("ratings", terminal_id=enrolled.id)}
            return local if local and all(held.get(i) == v for i, v in local.items()) else None
        local = wait_until("every rating on the server", delivered, 60, supervisor)
        assert len(local) >= 2  # a press at the first start of A and of B at least
    finally:
        supervisor.stop()

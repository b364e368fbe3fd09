"""``kiosk-server release``: upload, list, rollout, status, stop against the real database (both backends), and
bad input exiting 2 with one plain sentence and nothing stored."""

from __future__ import annotations

import json

import pytest

from cli_helpers import run_main
from release_fixtures import ReleaseKey, heartbeat
from server.cli import main
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock


@pytest.fixture
def setup(start_server, tmp_path, no_server_settings):
    key = ReleaseKey()
    server = start_server(clock=FakeClock(), alert_check_interval_s=0, releases_dir=str(tmp_path / "releases"))
    options = ["--db", server.app.state.settings.db_url, "--releases-dir", str(tmp_path / "releases"),
               "--release-public-key", key.public]
    return server, key, options


def test_upload_list_rollout_status_stop(setup, tmp_path, capsys):
    server, key, options = setup
    made = key.release(tmp_path / "built", "1.2.0")
    status, out, err = run_main(main, ["release", "upload", str(made.archive), *options], capsys)
    assert status == 0, err
    assert "release 1.2.0" in out and made.sha256 in out and "signature checked" in out
    assert (tmp_path / "releases" / made.archive.name).read_bytes() == made.archive.read_bytes()

    status, out, _ = run_main(main, ["release", "list", *options], capsys)
    assert status == 0 and "1.2.0" in out and "x86_64" in out and "checked" in out

    terminals = [server.enroll(counter=f"Quầy {i}") for i in range(4)]
    status, out, err = run_main(main, ["release", "rollout", "1.2.0", "--wave", "25", *options], capsys)
    assert status == 0, err
    assert "first_wave" in out and "first wave 25% = 1 terminal(s)" in out
    server.app.state.rollouts.changed()  # the CLI is another process: the server reads it again within seconds
    offered = [t for t in terminals if "release" in heartbeat(server, t)]
    assert len(offered) == 1

    status, out, _ = run_main(main, ["release", "status", "1.2.0", *options], capsys)
    assert status == 0 and "#1 1.2.0 to the whole fleet: first_wave" in out and "all: 0/4 updated" in out

    status, out, _ = run_main(main, ["release", "stop", "1.2.0", "--reason", "thử nghiệm xong", *options], capsys)
    assert status == 0 and "stopped" in out and "thử nghiệm xong" in out
    actions = [(row["action"], row["actor"]) for row in server.rows("audit_log") if row["action"].startswith("release")]
    assert [a for a, _ in actions] == ["release_upload", "release_rollout", "release_stop"]
    assert all(actor.startswith("kiosk-server CLI") for _, actor in actions)


def test_the_statement_beside_the_archive_or_named(setup, tmp_path, capsys):
    _server, key, options = setup
    made = key.release(tmp_path / "built", "1.3.0")
    moved = made.sig.rename(tmp_path / "statement.json")
    status, _, err = run_main(main, ["release", "upload", str(made.archive), *options], capsys)
    assert status == 2 and "the statement (--sig): there is no file at" in err
    status, _, err = run_main(main, ["release", "upload", str(made.archive), "--sig", str(moved), *options], capsys)
    assert status == 0, err


def _refused(args, capsys) -> str:
    status, _out, err = run_main(main, args, capsys)
    assert status == 2, err
    assert err.startswith("kiosk-server: ") and "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err


def test_bad_input_exits_2_with_a_sentence_and_stores_nothing(setup, tmp_path, capsys):
    server, key, options = setup
    made = key.release(tmp_path / "built", "1.2.0")
    good = made.archive.read_bytes()
    made.archive.write_bytes(good[:-10])
    assert "bytes but its statement says" in _refused(["release", "upload", str(made.archive), *options], capsys)
    made.archive.write_bytes(good)
    other = ReleaseKey()
    wrong = other.release(tmp_path / "other", "1.2.0")
    assert "signed with key" in _refused(["release", "upload", str(wrong.archive), *options], capsys)
    assert server.count("releases") == 0 and not list((tmp_path / "releases").glob("*.tar.gz"))

    assert run_main(main, ["release", "upload", str(made.archive), *options], capsys)[0] == 0
    assert "already uploaded" in _refused(["release", "upload", str(made.archive), *options], capsys)
    assert "no release has the version '9.9'" in _refused(["release", "rollout", "9.9", *options], capsys)
    assert "wave: 0 is not a share" in _refused(["release", "rollout", "1.2.0", "--wave", "0", *options], capsys)
    assert "node: no node has" in _refused(["release", "rollout", "1.2.0", "--node", "nowhere", *options], capsys)
    assert "no rollout of 1.2.0 is running" in _refused(["release", "stop", "1.2.0", *options], capsys)
    assert "no release has the version" in _refused(["release", "status", "9.9", *options], capsys)
    assert server.count("rollouts") == 0
    assert [row["action"] for row in server.rows("audit_log") if row["action"].startswith("release")] == \
        ["release_upload"]


def test_a_bad_public_key_setting_exits_2(setup, tmp_path, capsys):
    server, key, options = setup
    made = key.release(tmp_path / "built", "1.2.0")
    options = options[:-1] + ["not a key"]
    status, _, err = run_main(main, ["release", "upload", str(made.archive), *options], capsys)
    assert status == 2 and "release-public-key" in err and "not base64" in err
    assert server.count("releases") == 0


def test_status_of_a_rollout_that_stopped_by_itself_shows_why(setup, tmp_path, capsys):
    server, key, options = setup
    made = key.release(tmp_path / "built", "1.2.0")
    assert run_main(main, ["release", "upload", str(made.archive), *options], capsys)[0] == 0
    terminal = server.enroll()
    assert run_main(main, ["release", "rollout", "1.2.0", "--wave", "10", *options], capsys)[0] == 0
    server.app.state.rollouts.changed()
    heartbeat(server, terminal, update_state="failed", update_version="1.2.0",
              update_error="signature does not verify")
    status, out, _ = run_main(main, ["release", "status", *options], capsys)
    assert status == 0 and ": stopped" in out
    assert f"by server (rollout rules): terminal {terminal.id} of the first wave reported 1.2.0 failed: " \
           "signature does not verify" in out
    entry = server.rows("audit_log", action="release_stop")[0]
    assert json.loads(entry["details"])["by_itself"] is True

"""kiosk/updates.py's state machine and deploy/hai-long-launch, fast: slots hold tiny stand-in programs (shell
scripts printing what the launcher gave them), the clock is the test's. The real bundles go through the same
paths in tests/test_update_bundles.py."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from kiosk.config import parse_config
from kiosk.updates import Slots, UpdateState, Updater, update_status
from release.signing import new_key_pair, public_key_text

LAUNCHER = Path(__file__).resolve().parent.parent / "deploy" / "hai-long-launch"
PUBLIC = public_key_text(new_key_pair()[1])


def make_slot(root: Path, slot: str, version: str, *, exit_status: int = 0) -> None:
    bundle = root / slot / "kiosk"
    bundle.mkdir(parents=True)
    (bundle / "VERSION").write_text(f"{version}\n")
    (bundle / "kiosk").write_text(f'#!/bin/sh\necho "ran {version} slot=$HAI_LONG_SLOT trial=$HAI_LONG_TRIAL '
                                  f'args=$*"\nexit {exit_status}\n')
    (bundle / "kiosk").chmod(0o755)


def launch(root: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([str(LAUNCHER), "run", "--config", "x.toml"], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "HAI_LONG_ROOT": str(root), **env})


def settings(root: Path, **extra):
    values = {"public_key": PUBLIC, "root": str(root), "health_s": 30.0, **extra}
    return parse_config({"updates": values}).updates


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


def updater(root: Path, slot: str, version: str, clock=None, **kw) -> Updater:
    return Updater(settings(root), server_url="http://127.0.0.1:9", token="t", session=None, version=version,
                   slot=slot, clock=clock or time.time, **kw)


@pytest.fixture()
def root(tmp_path):
    root = tmp_path / "opt"
    make_slot(root, "a", "1.0.0")
    make_slot(root, "b", "1.1.0")
    os.symlink("a", root / "current")
    return root


def test_the_launcher_starts_current_with_its_arguments(root):
    done = launch(root)
    assert done.stdout.strip() == "ran 1.0.0 slot=a trial=0 args=run --config x.toml"


def test_the_launcher_counts_trial_starts_and_falls_back_after_three(root):
    os.symlink("b", root / "trial")
    (root / "trial-deadline").write_text(f"{int(time.time()) + 600}\n")
    for n in (1, 2, 3):
        done = launch(root)
        assert done.stdout.strip().startswith("ran 1.1.0 slot=b trial=1"), done.stderr
        assert f"start {n} of 3" in done.stderr
    done = launch(root)
    assert done.stdout.strip().startswith("ran 1.0.0 slot=a trial=0")
    assert "stopped 3 times without proving healthy; back to slot a (1.0.0)" in done.stderr
    assert not (root / "trial").exists() and not (root / "trial-starts").exists()
    assert (root / "rolled-back").read_text().startswith("version 1.1.0 stopped 3 times")


def test_the_launcher_falls_back_when_the_trial_outlived_its_time_limit(root):
    os.symlink("b", root / "trial")
    (root / "trial-deadline").write_text(f"{int(time.time()) - 1}\n")
    done = launch(root)
    assert done.stdout.startswith("ran 1.0.0") and "before its time limit" in done.stderr


def test_the_launcher_finishes_a_cut_commit_and_refuses_a_missing_program(root):
    os.symlink("b", root / "trial")
    os.replace(root / "b" / "kiosk" / "kiosk", root / "b" / "kiosk" / "gone")
    done = launch(root)
    assert done.stdout.startswith("ran 1.0.0") and "cannot start" in done.stderr
    os.replace(root / "b" / "kiosk" / "gone", root / "b" / "kiosk" / "kiosk")
    os.symlink("b", root / "trial")
    os.remove(root / "current")
    os.symlink("b", root / "current")  # the commit moved `current`, then stopped
    done = launch(root)
    assert done.stdout.startswith("ran 1.1.0 slot=b trial=0") and not (root / "trial").exists()


def test_a_trial_that_does_not_prove_healthy_in_time_rolls_back_by_itself(root):
    clock = Clock()
    restarts = []
    UpdateState(state="trial", version="1.1.0", slot="b").save(root / "update-state.json")
    os.symlink("b", root / "trial")
    (root / "trial-deadline").write_text(f"{int(clock.now + 30)}\n")
    new = updater(root, "b", "1.1.0", clock=clock, restart=lambda: restarts.append(1))
    new.begin()
    assert new.in_trial
    new.home_drawn()  # the screens came up, but the server is never reached
    clock.now += 31
    deadline = time.monotonic() + 5
    while not restarts and time.monotonic() < deadline:
        time.sleep(0.05)
    assert restarts == [1] and not (root / "trial").exists()
    assert new.health_fields() == {"update_state": "rolled_back", "update_version": "1.1.0",
                                   "update_error": "version 1.1.0 did not reach the server within 30 s"}
    # The launcher starts `current` again; the previous version reports the roll-back.
    assert launch(root).stdout.startswith("ran 1.0.0")
    old = updater(root, "a", "1.0.0")
    old.begin()
    assert old.health_fields()["update_state"] == "rolled_back"
    assert "did not reach the server" in old.health_fields()["update_error"]


def test_a_healthy_trial_commits(root):
    UpdateState(state="ready", version="1.1.0", slot="b").save(root / "update-state.json")
    old = updater(root, "a", "1.0.0")
    old.begin()
    assert old.switch_if_ready() and os.readlink(root / "trial") == "b"
    new = updater(root, "b", "1.1.0")
    new.begin()
    assert new.in_trial and new.offer(None) is False
    new.server_reached()
    assert new.in_trial  # the home screen too
    new.home_drawn()
    assert os.readlink(root / "current") == "b" and not (root / "trial").exists()
    assert json.loads((root / "update-state.json").read_text())["state"] == "idle"
    assert "current slot b (1.1.0)" in update_status(settings(root))["summary"]


def test_a_switch_cut_before_its_state_was_written_is_a_trial(root):
    UpdateState(state="ready", version="1.1.0", slot="b").save(root / "update-state.json")
    os.symlink("b", root / "trial")  # the link was made, the state file not yet
    new = updater(root, "b", "1.1.0")
    new.begin()
    assert new.in_trial and new.health_fields()["update_state"] == "trial"
    new.stop()


def test_updates_are_off_without_a_key_or_a_launcher(root):
    no_key = Updater(parse_config({"updates": {"root": str(root)}}).updates, server_url="http://127.0.0.1:9",
                     token="t", session=None, version="1.0.0", slot="a")
    assert "no release key" in no_key.off_reason
    assert updater(root, None, "1.0.0").off_reason.startswith("this terminal was not started by hai-long-launch")


def test_a_terminal_without_a_release_key_answers_an_offer_failed_and_why(root):
    from sync.protocol import ReleaseOffer

    no_key = Updater(parse_config({"updates": {"root": str(root)}}).updates, server_url="http://127.0.0.1:9",
                     token="t", session=None, version="1.0.0", slot="a")
    assert no_key.health_fields()["update_state"] is None  # nothing offered yet: the heartbeat says nothing
    assert no_key.offer(ReleaseOffer(version="1.1.0", size=10, sha256="a" * 64)) is False
    fields = no_key.health_fields()
    assert fields["update_state"] == "failed" and fields["update_version"] == "1.1.0"
    assert fields["update_error"].startswith("this terminal takes no update: no release key")
    assert not (root / "update-state.json").exists()  # nothing written: the terminal has no slots to speak of


def test_state_file_is_written_whole(root):
    slots = Slots(root)
    UpdateState(state="downloading", version="1.1.0", size=5, sha256="0" * 64, slot="b").save(slots.state_path)
    assert UpdateState.load(slots.state_path).state == "downloading"
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    slots.state_path.write_text("{broken")
    assert UpdateState.load(slots.state_path).state is None


def run_kiosk(*args, env=None):
    import sys

    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_kiosk_status_shows_the_update(root, tmp_path):
    from kiosk.store import RatingStore

    config = tmp_path / "kiosk.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "kiosk.db"}"\n\n[updates]\npublic_key = "{PUBLIC}"\n'
                      f'root = "{root}"\n', encoding="utf-8")
    RatingStore(tmp_path / "kiosk.db", terminal_id="t1").close()
    UpdateState(state="rolled_back", version="1.1.0", error="version 1.1.0 stopped 3 times").save(
        root / "update-state.json")
    done = run_kiosk("status", "--config", str(config))
    assert ("Software updates: current slot a (1.0.0); 1.1.0: rolled_back (version 1.1.0 stopped 3 times)"
            in done.stdout), done.stdout + done.stderr
    done = run_kiosk("status", "--config", str(config), "--json")
    updates = json.loads(done.stdout)["updates"]
    assert (updates["update_state"], updates["current_slot"]) == ("rolled_back", "a")


def test_provision_refuses_a_bad_release_key_before_anything(tmp_path):
    config = tmp_path / "kiosk.toml"
    done = run_kiosk("provision", "--server", "http://127.0.0.1:9", "--code", "x", "--config", str(config),
                     "--release-key", "not-a-key")
    assert done.returncode == 2 and "--release-key" in done.stderr and not config.exists()
    short = tmp_path / "short.pub"
    short.write_text("AAAA\n")
    done = run_kiosk("provision", "--server", "http://127.0.0.1:9", "--code", "x", "--config", str(config),
                     "--release-key", str(short))
    assert done.returncode == 2 and "32-byte" in done.stderr


def test_the_previous_version_takes_no_offer_between_its_switch_and_its_restart(root):
    from sync.protocol import ReleaseOffer

    UpdateState(state="ready", version="1.1.0", slot="b", sha256="a" * 64, size=10).save(root / "update-state.json")
    old = updater(root, "a", "1.0.0")
    old.begin()
    assert old.switch_if_ready()
    # A receipt arriving now still offers 1.1.0 (the server sees 1.0.0 running): nothing may start again.
    assert old.offer(ReleaseOffer(version="1.1.0", size=10, sha256="a" * 64)) is False
    assert old.offer(ReleaseOffer(version="1.2.0", size=10, sha256="b" * 64)) is False
    assert json.loads((root / "update-state.json").read_text())["state"] == "trial"

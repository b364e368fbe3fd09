"""Signed updates end to end with REAL bundles (slow: the bundle from ``make bundle``, packed as A, B, C).

Each test installs a terminal from a release archive into slot a of a temporary /opt/hai-long, runs it
through deploy/hai-long-launch (as kiosk.service does) under tests/update_terminal.Supervisor (systemd's
Restart=always), with a loopback release server (tests/release_server.py) for batches and the two release
endpoints. Every start of the screens stores one press (tests/kivy_mods/press_keys.py): the ratings stored
under every version must all reach the server, none lost or changed.

    A -> B                         offered, downloaded, verified, unpacked into b, switched, committed
    B -> broken C -> B             C exits at start; the launcher falls back after 3 starts; B reports why
    A -> B (server unreachable)    B never reaches its server within health_s: it goes back to A by itself
    tampered                       another key's statement, a changed archive: refused, nothing switched
    SIGKILL in download/unpack/switch  a working terminal after every kill, B committed in the end

Time on this machine (2 cores, shared): about 2½ minutes for the file (the bundle built already). The kill
moments come from a seeded generator: HAILONG_KILL_SEED=<n> tries other ones.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from pathlib import Path

import pytest

from release.signing import new_key_pair
from release_server import ReleaseServer
from test_bundle import bundle  # noqa: F401  (the fixture: dist/kiosk built from these sources)
from update_terminal import FIRST_FRAME, Releases, Supervisor, frozen_env, install, write_config

A, B, C = "1.0.0", "1.1.0", "1.2.0"


@pytest.fixture(scope="module")
def releases(bundle, tmp_path_factory):  # noqa: F811
    made = Releases(bundle.parent, tmp_path_factory.mktemp("releases"))
    for version in (A, B):
        made.make(version)
    made.make(C, broken=True)
    return made


@pytest.fixture()
def server():
    server = ReleaseServer().start()
    yield server
    server.stop()


class Terminal:
    def __init__(self, folder: Path, releases: Releases, server: ReleaseServer, first: str, **config):
        self.folder, self.server = folder, server
        self.root = folder / "opt"
        install(self.root, releases.archives[first])
        self.config = write_config(folder, server_url=server.url, public_key=releases.public, root=self.root,
                                   **config)
        self.supervisor = Supervisor(self.config, frozen_env(folder, self.root), folder)

    def start(self) -> Supervisor:
        return self.supervisor.start()

    def state(self) -> dict:
        return json.loads((self.root / "update-state.json").read_text())

    def link(self, name: str) -> str | None:
        try:
            return os.readlink(self.root / name)
        except OSError:
            return None

    def local_ratings(self) -> dict[str, tuple]:
        with sqlite3.connect(self.folder / "data" / "kiosk.db") as conn:
            return {row[0]: row[1:] for row in conn.execute("SELECT id, rating, created_at FROM ratings")}

    def wait_health(self, timeout: float = 60.0, **wanted) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.server.last_health()
            if health and all(health.get(k) == v for k, v in wanted.items()):
                return health
            time.sleep(0.2)
        raise AssertionError(f"no heartbeat with {wanted}; last {self.server.last_health()}\n"
                             + self.supervisor.log())

    def all_ratings_on_server(self, timeout: float = 40.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            local = self.local_ratings()
            on_server = {i: (r["rating"], r["created_at"]) for i, r in self.server.ratings.items()}
            if local and set(local) <= set(on_server):
                break
            time.sleep(0.5)
        assert local and {i: on_server.get(i) for i in local} == local, "a rating did not reach the server"
        return local


def test_a_updates_to_b_and_commits(tmp_path, releases, server):
    server.publish(releases.archives[B], Path(f"{releases.archives[B]}.sig"))
    terminal = Terminal(tmp_path, releases, server, A)
    supervisor = terminal.start()
    try:
        supervisor.wait_for(FIRST_FRAME)
        terminal.wait_health(app_version=A)
        server.offer(B)
        supervisor.wait_for(r"update 1\.1\.0: ready", 90)
        assert terminal.link("current") == "a" and terminal.link("trial") is None  # not yet: a quiet moment first
        supervisor.wait_for(r"starting version 1\.1\.0 on trial", 60)
        supervisor.wait_for(r"version 1\.1\.0 proved healthy: committed", 60)
        health = terminal.wait_health(app_version=B, update_state="idle")
        assert health["update_version"] == B and health.get("update_error") is None
        assert terminal.link("current") == "b" and terminal.link("trial") is None
        assert terminal.state()["state"] == "idle"
        assert (terminal.root / "b" / "kiosk" / "VERSION").read_text().strip() == B
        ratings = terminal.all_ratings_on_server()
        assert len(ratings) >= 2  # one pressed under A, one under B
        assert supervisor.exits == []  # the switch exec'd the launcher: no crash, no restart by "systemd"
        # The whole archive was fetched once.
        Path("/tmp/updater_ab.log").write_text("".join(supervisor.lines))
        assert server.archive_bytes_sent == releases.archives[B].stat().st_size, server.archive_requests
    finally:
        supervisor.stop()


def test_a_broken_c_is_rolled_back_to_b_by_itself(tmp_path, releases, server):
    server.publish(releases.archives[C], Path(f"{releases.archives[C]}.sig"))
    terminal = Terminal(tmp_path, releases, server, B)
    supervisor = terminal.start()
    try:
        supervisor.wait_for(FIRST_FRAME)
        terminal.wait_health(app_version=B)
        server.offer(C)
        supervisor.wait_for(r"starting version 1\.2\.0 on trial \(start 1 of 3\)", 120)
        supervisor.wait_for(r"version 1\.2\.0 stopped 3 times without proving healthy; back to slot a", 60)
        health = terminal.wait_health(60, app_version=B, update_state="rolled_back")
        assert health["update_version"] == C and "stopped 3 times" in health["update_error"]
        assert supervisor.exits == [70, 70, 70]  # C's three starts; B runs again and stays up
        assert terminal.link("current") == "a" and terminal.link("trial") is None
        before = len(server.healths)
        supervisor.wait_for(FIRST_FRAME, after=supervisor.wait_for("back to slot a"))
        # B does not take C again (the server stops offering it too: it saw rolled_back).
        time.sleep(12)
        assert len(server.healths) > before and terminal.state()["state"] == "rolled_back"
        assert supervisor.count("starting version 1.2.0 on trial") == 3
        terminal.all_ratings_on_server()
    finally:
        supervisor.stop()


def test_a_version_that_cannot_reach_its_server_rolls_back_after_health_s(tmp_path, releases, server):
    server.publish(releases.archives[B], Path(f"{releases.archives[B]}.sig"))
    server.refuse_version = B  # B starts and draws its home screen, but its batches never get through
    terminal = Terminal(tmp_path, releases, server, A, health_s=15)
    supervisor = terminal.start()
    try:
        supervisor.wait_for(FIRST_FRAME)
        terminal.wait_health(app_version=A)
        server.offer(B)
        trial = supervisor.wait_for(r"starting version 1\.1\.0 on trial", 90)
        supervisor.wait_for(FIRST_FRAME, 30, after=trial)
        gone = supervisor.wait_for(r"rolling back: version 1\.1\.0 did not reach the server within 15 s", 40,
                                   after=trial)
        supervisor.wait_for(FIRST_FRAME, 30, after=gone)  # A again, through the launcher
        health = terminal.wait_health(30, app_version=A, update_state="rolled_back")
        assert health["update_version"] == B and "did not reach the server" in health["update_error"]
        assert terminal.link("current") == "a" and terminal.link("trial") is None
        assert supervisor.exits == []  # all by itself: no crash, no restart by "systemd"
        terminal.all_ratings_on_server()  # B's press too, sent by A once back
    finally:
        supervisor.stop()


def test_tampered_releases_are_refused(tmp_path, releases, server):
    # 1. A statement signed by another key: refused before any byte of the archive is fetched.
    other_private, _ = new_key_pair()
    forged = tmp_path / "forged"
    forged.mkdir()
    archive_b = releases.archives[B]
    sig = releases.sign(archive_b, other_private, out=forged / f"{archive_b.name}.sig")  # B's own .sig stays
    server.publish(archive_b, sig)
    terminal = Terminal(tmp_path, releases, server, A)
    supervisor = terminal.start()
    try:
        supervisor.wait_for(FIRST_FRAME)
        terminal.wait_health(app_version=A)
        server.offer(B)
        health = terminal.wait_health(60, update_state="failed", update_version=B)
        assert "not by this terminal's release key" in health["update_error"]
        assert server.archive_requests == []
        # 2. A correctly signed statement, an archive changed on the way (one byte): refused by its sha256.
        changed = tmp_path / "changed" / archive_b.name.replace(B, "1.1.1")
        changed.parent.mkdir()
        releases_b1 = releases.make("1.1.1")
        sig_b1 = Path(f"{releases_b1}.sig")
        data = bytearray(releases_b1.read_bytes())
        data[len(data) // 3] ^= 0x01
        changed.write_bytes(bytes(data))
        server.publish(changed, sig_b1)
        server.offer("1.1.1")
        health = terminal.wait_health(90, update_state="failed", update_version="1.1.1")
        assert "sha256" in health["update_error"]
        assert terminal.link("current") == "a" and terminal.link("trial") is None
        assert not (terminal.root / "b" / "kiosk" / "kiosk").exists()  # nothing unpacked
        assert supervisor.exits == [] and supervisor.count("on trial") == 0
        terminal.all_ratings_on_server()
    finally:
        supervisor.stop()


def test_sigkill_during_download_unpack_and_switch_leaves_a_working_terminal(tmp_path, releases, server):
    rng = random.Random(int(os.environ.get("HAILONG_KILL_SEED", "13")))
    server.max_kbps = 6000  # the 35 MB archive takes ~6 s: room for kills in the middle
    server.publish(releases.archives[B], Path(f"{releases.archives[B]}.sig"))
    terminal = Terminal(tmp_path, releases, server, A)
    supervisor = terminal.start()
    size = releases.archives[B].stat().st_size
    kills = []
    try:
        supervisor.wait_for(FIRST_FRAME)
        terminal.wait_health(app_version=A)
        server.offer(B)

        def kill_then_check(where: str, after_line: int) -> int:
            supervisor.kill()
            kills.append(where)
            # A working terminal: the launcher starts a version whose screens come up.
            at = supervisor.wait_for(r"supervisor: start", 30, after=after_line)
            supervisor.wait_for(FIRST_FRAME, 60, after=at)
            return at  # what the new start logs comes after this line (some of it before its first frame)

        # Download: twice, at random moments of it.
        at = 0
        for _ in range(2):
            at = supervisor.wait_for(r"update 1\.1\.0: fetching the archive", 60, after=at)
            time.sleep(rng.uniform(0.5, 2.5))
            at = kill_then_check("download", at)
        # Unpack: as soon as it starts, and a random moment into it.
        for delay in (0.0, rng.uniform(0.2, 1.5)):
            at = supervisor.wait_for(r"unpacking into slot b", 90, after=at)
            time.sleep(delay)
            at = kill_then_check("unpack", at)
        # Switch: at the moment it is decided, then during the trial's first seconds.
        switched = supervisor.wait_for(r"switching to 1\.1\.0", 90, after=at)
        at = kill_then_check("switch", switched)
        trial = supervisor.wait_for(r"starting version 1\.1\.0 on trial", 90, after=switched)
        time.sleep(rng.uniform(0.0, 1.0))
        if supervisor.count("proved healthy") == 0:
            at = kill_then_check("trial start", trial)
        supervisor.wait_for(r"version 1\.1\.0 proved healthy: committed", 120, after=trial)
        terminal.wait_health(90, app_version=B, update_state="idle")
        assert terminal.link("current") == "b" and terminal.link("trial") is None
        # Resumed with Range: no byte fetched twice (a kill may lose what was in flight, at most a few blocks).
        ranges = [r for r in server.archive_requests if r]
        assert ranges, server.archive_requests
        assert size <= server.archive_bytes_sent < size + 2 * 1024 * 1024, (server.archive_bytes_sent, size)
        terminal.all_ratings_on_server()
        print(f"kills: {kills}; archive requests: {server.archive_requests}; "
              f"bytes sent {server.archive_bytes_sent} for {size}")
    finally:
        supervisor.stop()

"""Terminal to server, end to end, on a real uvicorn server (both database backends).

Provision, press, upload, read back; the network's faults through a proxy;
a clock years off that the network then sets.
"""

from __future__ import annotations

import json
import random
import stat
import time
import uuid
from datetime import datetime, timezone

import pytest
from cli_helpers import write_terminal_config
import tomlkit
from sqlite_utils import Database

from fault_proxy import FaultProxy
from kiosk.cli import main as kiosk_main
from kiosk.flow import RatingFlow
from kiosk.provisioning import provision_terminal
from kiosk.store import RatingStore
from kiosk.timekeeping import Stamp, iso_utc
from server_fixtures import *  # noqa: F401,F403 - server_db_url, start_server, server, FakeClock
from server_fixtures import FakeClock
from sync.addresses import check_server_url
from sync.errors import SyncConfigError
from sync.local import LocalRatings
from sync.uploader import Uploader, make_session

BOOT = "boot-7f3a"


class TerminalClock:
    """The terminal's clocks, set by the test: a wall clock that may be wrong, and a monotonic one."""

    def __init__(self, wall_ns: int, *, mono_ns: int = 5_000_000_000, synced: int = 1):
        self.wall_ns, self.mono_ns, self.synced = wall_ns, mono_ns, synced

    def advance(self, seconds: float) -> None:
        self.wall_ns += int(seconds * 1e9)
        self.mono_ns += int(seconds * 1e9)

    def stamp(self) -> Stamp:
        wall = datetime.fromtimestamp(self.wall_ns / 1e9, tz=timezone.utc)
        return Stamp(iso_utc(wall), BOOT, self.mono_ns, self.synced)


class Terminal:
    """A terminal's core parts on a real SQLite file, uploading to ``url``."""

    def __init__(self, tmp_path, terminal_id: str, token: str, url: str, *, clock=None, **uploader_options):
        self.clock = clock or TerminalClock(time.time_ns())
        self.store = RatingStore(tmp_path / "kiosk.db", terminal_id=terminal_id, clock=self.clock)
        self.flow = RatingFlow(self.store, repeat_interval_s=0, thanks_s=0.5, clock=lambda: self.clock.mono_ns / 1e9)
        self.local = LocalRatings(tmp_path / "kiosk.db")
        options = {"timeout": (2.0, 2.0), "pause_s": 0, "rng": random.Random(7), **uploader_options}
        self.uploader = Uploader(self.local, server_url=url, token=token, stamp=self.clock.stamp,
                                 app_version="0.1.0", **options)

    def press_many(self, n: int) -> list[str]:
        ids = []
        for i in range(n):
            self.clock.advance(3)
            event = self.flow.press(("very_satisfied", "satisfied", "dissatisfied")[i % 3])
            if self.flow.screen == "reason":
                self.flow.choose_reason("processing_time")
            ids.append(event.rating_id)
        return ids

    def local_rows(self) -> dict[str, dict]:
        return {r["id"]: r for r in self.store.db["ratings"].rows}

    def close(self):
        self.uploader.stop()
        self.local.close()
        self.store.close()


@pytest.fixture
def terminal_for(tmp_path):
    made = []

    def make(server, *, url=None, **options) -> Terminal:
        enrolled = server.enroll()
        terminal = Terminal(tmp_path, enrolled.id, enrolled.token, url or server.url, **options)
        made.append(terminal)
        return terminal

    yield make
    for terminal in made:
        terminal.close()


CONTENT = ("id", "terminal_id", "rating", "reason", "reason_outcome", "source", "created_at", "boot_id",
           "monotonic_ns", "clock_synced", "filtered")


def server_content(server) -> dict[str, tuple]:
    return {r["id"]: tuple(r[k] for k in CONTENT) for r in server.rows("ratings")}


def local_content(terminal) -> dict[str, tuple]:
    return {i: tuple(r[k] for k in CONTENT) for i, r in terminal.local_rows().items()}


def test_press_sync_and_read_back_the_same_ratings(server, terminal_for):
    terminal = terminal_for(server)
    terminal.press_many(12)
    report = terminal.uploader.drain()
    assert report["sent"] == 12 and report["pending"] == 0
    assert server_content(server) == local_content(terminal)
    assert all(r["synced_at"] for r in terminal.local_rows().values())
    pulled = server.get("/api/v1/ratings", params={"limit": 100}, headers=server.admin_headers()).json()
    assert {r["id"] for r in pulled["ratings"]} == set(terminal.local_rows())


def test_unsealed_ratings_wait_for_their_reason(server, terminal_for):
    terminal = terminal_for(server)
    terminal.flow.press("dissatisfied")  # the citizen is still choosing
    assert terminal.uploader.drain()["sent"] == 0 and server.count() == 0
    terminal.flow.skip_reason()
    assert terminal.uploader.drain()["sent"] == 1
    assert server.rows("ratings")[0]["reason_outcome"] == "skipped"


def test_batches_are_capped_and_sent_in_order(server, terminal_for):
    terminal = terminal_for(server, batch_size=5)
    ids = terminal.press_many(13)
    report = terminal.uploader.drain()
    assert (report["sent"], report["batches"]) == (13, 3)
    by_cursor = sorted(server.rows("ratings"), key=lambda r: r["cursor"])
    assert [r["id"] for r in by_cursor] == ids


@pytest.mark.parametrize("work_s, waits", [(0.1, [0.15, 0.15]), (0.3, [])])
def test_the_pause_between_batches_runs_from_the_servers_answer(server, terminal_for, monkeypatch, work_s, waits):
    # The terminal's own work between two requests (acknowledging, reading the next batch)
    # happens inside the pause, so the server gets pause_s of rest and the drain no more.
    now = [100.0]
    terminal = terminal_for(server, batch_size=5, pause_s=0.25, monotonic=lambda: now[0])
    terminal.press_many(13)
    pending = terminal.local.pending

    def slow_pending(limit):
        now[0] += work_s
        return pending(limit)

    asked = []
    monkeypatch.setattr(terminal.local, "pending", slow_pending)
    monkeypatch.setattr(terminal.uploader, "_wait_for_server", lambda seconds: asked.append(round(seconds, 6)))
    report = terminal.uploader.drain()
    assert (report["sent"], report["batches"]) == (13, 3)
    assert asked == waits  # none before the first batch: there was no answer yet


def test_heartbeat_reports_health_when_nothing_is_pending(server, terminal_for):
    terminal = terminal_for(server)
    attempt = terminal.uploader.send_batch()
    assert attempt.ok and attempt.sent == 0
    [row] = server.rows("terminals")
    assert row["last_seen_at"] and row["app_version"] == "0.1.0" and row["pending"] == 0


@pytest.mark.parametrize("faults", [
    ["refuse", "refuse"],
    ["stall"],
    ["reset_before", "reset_before"],
    ["reset_after", "reset_after", "reset_after"],
    ["http_500", "http_500"],
    ["http_429"],
    ["html_200", "html_200"],
    ["reset_after", "stall", "html_200", "http_500", "refuse", "reset_before", "http_429", "reset_after"],
])
def test_after_network_faults_the_server_holds_exactly_the_terminals_ratings(server, terminal_for, faults):
    proxy = FaultProxy(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))).start()
    try:
        terminal = terminal_for(server, url=proxy.url, batch_size=4, session=make_session())
        terminal.press_many(10)
        proxy.inject(*faults)
        for _ in range(60):
            if terminal.local.pending_count() == 0:
                break
            terminal.uploader.send_batch()
        assert terminal.local.pending_count() == 0
        assert sorted(f for f in proxy.seen if f != "pass") == sorted(faults)  # every fault was met
        assert server_content(server) == local_content(terminal)  # none missing, none twice, unchanged
        assert server.count() == 10
    finally:
        proxy.stop()


def test_a_captive_portal_page_is_not_a_delivery(server, terminal_for):
    proxy = FaultProxy(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))).start()
    try:
        terminal = terminal_for(server, url=proxy.url)
        terminal.press_many(3)
        proxy.inject("html_200")
        attempt = terminal.uploader.send_batch()
        assert not attempt.ok and "captive portal" in attempt.error
        assert terminal.local.pending_count() == 3
        assert all(r["synced_at"] is None for r in terminal.local_rows().values())
    finally:
        proxy.stop()


def test_retry_after_is_honoured(server, terminal_for):
    proxy = FaultProxy(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), retry_after_s=42).start()
    try:
        terminal = terminal_for(server, url=proxy.url, backoff_base_s=0.01, backoff_cap_s=1)
        terminal.press_many(1)
        proxy.inject("http_429")
        attempt = terminal.uploader.send_batch()
        assert not attempt.ok and attempt.retry_after_s == 42
        assert terminal.uploader.backoff_delay(attempt.retry_after_s) >= 42
    finally:
        proxy.stop()


def test_backoff_is_full_jitter_and_capped(server, terminal_for):
    terminal = terminal_for(server, backoff_base_s=1, backoff_cap_s=60)
    uploader = terminal.uploader
    for failures, ceiling in [(0, 1), (3, 8), (6, 60), (40, 60)]:
        uploader.state.failures_in_a_row = failures
        delays = [uploader.backoff_delay() for _ in range(300)]
        assert max(delays) <= ceiling and min(delays) >= 0
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2  # spread over the whole range


def test_a_revoked_token_slows_down_and_keeps_everything(server, terminal_for):
    terminal = terminal_for(server, auth_retry_s=3600)
    terminal.press_many(2)
    server.revoke(terminal.store.terminal_id)
    attempt = terminal.uploader.send_batch()
    assert not attempt.ok and attempt.auth_refused and "re-provision" in attempt.error
    assert terminal.uploader.backoff_delay() == 3600
    assert terminal.local.pending_count() == 2
    assert terminal.local.load_state()["auth_refused"] is True


def test_a_conflict_is_kept_aside_and_not_resent(server, terminal_for):
    terminal = terminal_for(server)
    [rating_id, other_id] = terminal.press_many(2)
    # Someone else's rating already holds this id on the server, with other content.
    row = {k: v for k, v in terminal.local_rows()[rating_id].items() if k in CONTENT}
    clash = {**row, "rating": "very_satisfied" if row["rating"] != "very_satisfied" else "satisfied"}
    from server_fixtures import make_batch
    assert server.upload(type("T", (), {"headers": {"Authorization": f"Bearer {terminal.uploader.token}"}})(),
                         make_batch([clash])).status_code == 200
    report = terminal.uploader.drain()
    assert report["pending"] == 0 and report["quarantined"] == 1 and report["conflicts"] == 1
    assert terminal.local.pending(10) == []  # not resent forever
    assert terminal.local_rows()[rating_id]["synced_at"] is None  # kept, never marked delivered
    assert server.rows("ratings", id=rating_id)[0]["rating"] == clash["rating"]  # nothing overwritten
    assert server.count("rating_conflicts") == 1


#: Damaged rows a bad SD card or an old bug can leave: (monotonic_ns as SQL, the field the cause names).
DAMAGED = {"negative": ("-1", "monotonic_ns"), "text": ("'12abc'", "monotonic_ns"), "float": ("1.5", "monotonic_ns"),
           "bytes": ("X'00ff'", "monotonic_ns"), "bad id": (None, "id")}


def damage(db: Database, n_good: int) -> dict[str, str]:
    """Copy rows of ``db`` as damaged ones, spread among the good ones (raw SQL); their ids by kind."""
    good = [r for r in db["ratings"].rows if r["sealed"]]
    made = {}
    for k, (kind, (monotonic_sql, _)) in enumerate(DAMAGED.items()):
        row = good[(k * 7) % n_good]
        rating_id = "not-a-uuid-" + kind.replace(" ", "") if monotonic_sql is None else str(uuid.uuid4())
        columns = [c for c in row if c not in ("id", "monotonic_ns", "synced_at")]
        db.execute(f"INSERT INTO ratings (id, monotonic_ns, {', '.join(columns)}) "
                   f"VALUES (?, {monotonic_sql or '5'}, {', '.join('?' * len(columns))})",
                   [rating_id, *[row[c] for c in columns]])
        made[kind] = rating_id
    db.conn.commit()
    return made


def test_damaged_rows_are_kept_aside_with_their_cause_and_everything_else_flows(server, terminal_for):
    terminal = terminal_for(server, batch_size=10)
    terminal.press_many(30)
    bad = damage(terminal.store.db, 30)
    terminal.press_many(25)  # more good ratings behind the damaged ones
    report = terminal.uploader.drain()
    assert report["pending"] == 0 and report["quarantined"] == len(DAMAGED)
    good = {i: c for i, c in local_content(terminal).items() if i not in bad.values()}
    assert len(good) == 55 and server_content(server) == good  # every good rating, nothing of a damaged one
    causes = {row["id"]: (row["status"], row["detail"]) for row in terminal.store.db["sync_quarantine"].rows}
    for kind, rating_id in bad.items():
        status, cause = causes[rating_id]
        assert status == "refused" and DAMAGED[kind][1] + ": " in cause, (kind, cause)
        assert terminal.local_rows()[rating_id]["synced_at"] is None  # kept, never marked delivered
    # Not resent: the next drain is a heartbeat, and the server hears how many wait aside.
    again = terminal.uploader.drain()
    assert again["sent"] == 0 and again["batches"] == 1 and terminal.local.pending(100) == []
    heard = server.rows("terminals")[0]
    assert heard["kept_aside"] == len(DAMAGED) and heard["last_error"] is None
    causes = json.loads(heard["kept_aside_causes"])
    assert causes == terminal.local.kept_aside_causes() and sum(causes.values()) == len(DAMAGED)


def test_a_batch_refused_for_itself_is_not_retried_blindly(server, terminal_for):
    class BrokenBootId(TerminalClock):  # the terminal's own envelope is what the server refuses
        def stamp(self):
            return Stamp(super().stamp().created_at, "boot\x00damaged", self.mono_ns, self.synced)

    terminal = terminal_for(server, clock=BrokenBootId(time.time_ns()), backoff_base_s=0.2)
    terminal.press_many(3)
    report = terminal.uploader.drain(max_failures=3)
    assert report["batches"] == 1 and report["pending"] == 3 and report["batch_refused"]
    assert report["last_error"].startswith("the server refuses this terminal's batches (422: boot_id: ")
    assert "retrying will not help" in report["last_error"]
    assert terminal.uploader.backoff_delay() == terminal.uploader.auth_retry_s  # the thread waits long too
    assert server.count() == 0


def test_kiosk_sync_once_and_status_with_damaged_rows(server, tmp_path, capsys):
    config_path = write_terminal_config(tmp_path)
    provision_terminal(config_path, server.url, server.issue_code())
    terminal_id = tomlkit.parse(config_path.read_text(encoding="utf-8"))["terminal"]["id"]
    store = RatingStore(tmp_path / "kiosk.db", terminal_id=terminal_id)
    for _ in range(40):
        store.record_press("satisfied", source="touch")
    damage(store.db, 40)
    store.close()
    kiosk_main(["sync", "--once", "--config", str(config_path)])  # ends; no SystemExit: nothing left waiting
    out = capsys.readouterr().out
    assert "Still waiting to upload: 0" in out and server.count() == 40
    kiosk_main(["status", "--json", "--config", str(config_path)])
    sync = json.loads(capsys.readouterr().out)["sync"]
    assert sync["kept_aside"] == len(DAMAGED) and sum(sync["kept_aside_causes"].values()) == len(DAMAGED)
    assert any("monotonic_ns: " in cause for cause in sync["kept_aside_causes"])
    kiosk_main(["status", "--config", str(config_path)])
    text = capsys.readouterr().out
    assert f"Kept aside (not sent again; they stay in the database): {len(DAMAGED)}" in text
    assert "refused by the server: monotonic_ns: " in text


def test_a_clock_years_off_then_set_by_the_network_is_corrected(start_server, terminal_for):
    truth = FakeClock()  # the server's clock is the truth
    server = start_server(clock=truth)
    boot_truth_ns = truth.now_ns - 3_600 * 10**9
    five_years = 5 * 365 * 86_400 * 10**9
    clock = TerminalClock(boot_truth_ns - five_years, mono_ns=20 * 10**9, synced=0)
    terminal = terminal_for(server, clock=clock)
    expected = {}
    for i in range(20):
        clock.advance(7)
        if i == 10:  # the network sets the clock: the wall clock jumps five years
            clock.wall_ns += five_years
            clock.synced = 1
        rating_id = terminal.flow.press("satisfied").rating_id
        expected[rating_id] = boot_truth_ns + (clock.mono_ns - 20 * 10**9)
    clock.advance(600)
    truth.now_ns = boot_truth_ns + (clock.mono_ns - 20 * 10**9)  # the batch arrives at once
    assert terminal.uploader.drain()["pending"] == 0
    for row in server.rows("ratings"):
        corrected = datetime.strptime(row["corrected_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        assert abs(corrected.timestamp() * 1e9 - expected[row["id"]]) < 1e9
        assert row["time_quality"] == "exact"
    assert abs(terminal.uploader.state.clock_offset_s) < 1


@pytest.mark.parametrize("url,allowed", [
    ("http://127.0.0.1:8080", True), ("http://localhost:8080/", True), ("http://[::1]:8080", True),
    ("https://hailong.example.vn", True), ("http://192.168.1.20:8080", False),
    ("http://hailong.example.vn", False), ("ftp://hailong.example.vn", False), ("hailong.example.vn", False),
])
def test_plain_http_only_to_loopback(url, allowed):
    if allowed:
        assert check_server_url(url) == url.rstrip("/")
    else:
        with pytest.raises(SyncConfigError):
            check_server_url(url)


def test_http_to_another_machine_when_explicitly_allowed():
    assert check_server_url("http://192.168.1.20:8080", allow_http=True) == "http://192.168.1.20:8080"


# -- provisioning and the technician's commands -------------------------------------------------------------

def test_provision_writes_id_address_and_a_private_token(server, tmp_path):
    config_path = write_terminal_config(tmp_path)
    store = RatingStore(tmp_path / "kiosk.db", terminal_id="unprovisioned")
    early = store.record_press("satisfied", source="button")["id"]  # pressed before enrolment
    store.close()
    lines = provision_terminal(config_path, server.url, server.issue_code())
    document = tomlkit.parse(config_path.read_text(encoding="utf-8"))
    terminal_id = document["terminal"]["id"]
    assert terminal_id != "unprovisioned" and document["server"]["url"] == server.url
    assert document["terminal"]["site"] == "UBND phường Phúc La"
    assert "technician's note" in config_path.read_text(encoding="utf-8")  # comments survive
    token_file = tmp_path / "device.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert any("Enrolled as " + terminal_id in line for line in lines)
    assert Database(tmp_path / "kiosk.db")["ratings"].get(early)["terminal_id"] == terminal_id


def test_provision_refuses_a_bad_code_and_writes_nothing(server, tmp_path, capsys):
    config_path = write_terminal_config(tmp_path)
    before = config_path.read_text(encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        kiosk_main(["provision", "--config", str(config_path), "--server", server.url, "--code", "WRONG-CODE"])
    assert exit_info.value.code == 1 and "enrolment failed" in capsys.readouterr().err
    assert config_path.read_text(encoding="utf-8") == before
    assert not (tmp_path / "device.token").exists()


def test_reprovisioning_needs_force(server, tmp_path, capsys):
    config_path = write_terminal_config(tmp_path)
    provision_terminal(config_path, server.url, server.issue_code())
    with pytest.raises(SystemExit) as exit_info:
        kiosk_main(["provision", "--config", str(config_path), "--server", server.url, "--code", server.issue_code()])
    assert exit_info.value.code == 1 and "--force" in capsys.readouterr().err
    kiosk_main(["provision", "--config", str(config_path), "--server", server.url, "--code", server.issue_code(),
                "--force"])
    assert "Enrolled as" in capsys.readouterr().out


def test_kiosk_sync_once_and_status_tell_the_technician(server, tmp_path, capsys):
    config_path = write_terminal_config(tmp_path)
    provision_terminal(config_path, server.url, server.issue_code())
    terminal_id = tomlkit.parse(config_path.read_text(encoding="utf-8"))["terminal"]["id"]
    store = RatingStore(tmp_path / "kiosk.db", terminal_id=terminal_id)
    for _ in range(7):
        store.record_press("very_satisfied", source="touch")
    store.close()
    kiosk_main(["sync", "--once", "--config", str(config_path)])
    out = capsys.readouterr().out
    assert "Sent 7 rating(s)" in out and "Still waiting to upload: 0" in out
    assert server.count() == 7
    kiosk_main(["status", "--config", str(config_path)])
    status = capsys.readouterr().out
    assert f"Server: {server.url}; last upload: 20" in status and "Clock offset reported by the server" in status


def test_kiosk_sync_once_without_a_server_says_what_to_do(tmp_path, capsys):
    config_path = write_terminal_config(tmp_path)
    RatingStore(tmp_path / "kiosk.db", terminal_id="x").close()
    with pytest.raises(SystemExit) as exit_info:
        kiosk_main(["sync", "--once", "--config", str(config_path)])
    assert exit_info.value.code == 1 and "kiosk provision" in capsys.readouterr().err


def test_the_uploader_thread_drains_through_faults_and_stops(server, terminal_for):
    proxy = FaultProxy(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))).start()
    try:
        terminal = terminal_for(server, url=proxy.url, batch_size=3, backoff_base_s=0.05, backoff_cap_s=0.3,
                                session=make_session())
        proxy.inject("http_500", "reset_after", "html_200")
        terminal.uploader.start()
        terminal.press_many(9)
        terminal.uploader.wake()
        deadline = time.monotonic() + 30
        while terminal.local.pending_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        terminal.uploader.stop()
        assert not terminal.uploader._thread.is_alive()
        assert terminal.local.pending_count() == 0 and server_content(server) == local_content(terminal)
    finally:
        proxy.stop()


@pytest.mark.parametrize("waiting", [0, 3], ids=["heartbeat", "with-ratings"])
def test_kiosk_sync_once_ends_promptly_when_the_token_is_revoked(server, tmp_path, waiting):
    import subprocess
    import sys
    from pathlib import Path

    config_path = write_terminal_config(tmp_path)
    provision_terminal(config_path, server.url, server.issue_code())
    terminal_id = tomlkit.parse(config_path.read_text(encoding="utf-8"))["terminal"]["id"]
    store = RatingStore(tmp_path / "kiosk.db", terminal_id=terminal_id)
    for _ in range(waiting):
        store.record_press("satisfied", source="touch")
    store.close()
    server.revoke(terminal_id)
    # Its own process: before the fix it waited an hour (the back-off of a refused token) between tries.
    done = subprocess.run([sys.executable, "-m", "kiosk", "sync", "--once", "--config", str(config_path)],
                          cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=90)
    assert done.returncode == 1
    [sentence] = [line for line in done.stderr.splitlines() if line.strip()]
    assert "refused this terminal's token" in sentence and "kiosk provision" in sentence
    assert f"Still waiting to upload: {waiting}" in done.stdout and server.count() == 0

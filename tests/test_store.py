"""The local store: schema, migrations, sealing, recovery and durability."""

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlite_utils import Database

from kiosk.config import parse_config
from kiosk.migrations import migrations
from kiosk.status import format_status, terminal_status
from kiosk.store import RatingStore
from kiosk.terminal import open_terminal
from kiosk.timekeeping import Stamp

COLUMNS = ["id", "terminal_id", "rating", "reason", "reason_outcome", "source", "created_at",
           "boot_id", "monotonic_ns", "clock_synced", "filtered", "sealed", "synced_at"]
#: Kept on the terminal only (never uploaded): why a filtered press was not counted.
TERMINAL_ONLY = ["filter_cause"]
#: Issue 12 (m005): the officer signed in at the press and the linked dossier (uploaded when set).
COUNTER = ["officer", "dossier"]


class FixedClock:
    def __init__(self, created_at="2026-11-25T09:30:12.345Z", synced=1):
        self.created_at, self.synced, self.n = created_at, synced, 0

    def stamp(self):
        self.n += 1
        return Stamp(self.created_at, "boot-1", 1_000_000 * self.n, self.synced)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "kiosk.db"


@pytest.fixture
def store(db_path):
    s = RatingStore(db_path, terminal_id="hd-phucla-01")
    yield s
    s.close()


def test_ratings_table_has_exactly_the_contract_columns(store):
    table = store.db["ratings"]
    assert [c.name for c in table.columns] == COLUMNS + TERMINAL_ONLY + COUNTER
    assert table.pks == ["id"]


def test_migrations_are_named_and_applied_once(db_path):
    RatingStore(db_path, terminal_id="t").close()
    RatingStore(db_path, terminal_id="t").close()
    db = Database(db_path)
    applied = [r["name"] for r in db["_sqlite_migrations"].rows_where(order_by="id")]
    assert applied == [m.name for m in migrations._migrations]
    assert applied == ["m001_create_ratings", "m002_create_kiosk_meta", "m003_drop_pending_index",
                       "m004_add_filter_cause", "m005_officers_and_dossiers", "m006_officers_cache",
                       "m007_remote_settings"]


def test_rating_ids_sort_in_the_order_of_the_presses(store, monkeypatch):
    """UUIDv7: a server's unique index takes each new id on its last pages (README, "National scale"). A clock
    stepped back does not break the order, and ids stay unique whatever the clock says."""
    ids = [store.record_press("satisfied", source="touch")["id"] for _ in range(20)]
    monkeypatch.setattr(time, "time_ns", lambda: 1_000_000_000)  # 1970: a Pi that booted without its clock
    ids += [store.record_press("satisfied", source="touch")["id"] for _ in range(20)]
    assert {uuid.UUID(i).version for i in ids} == {7}
    assert ids == sorted(ids) and len(set(ids)) == 40
    assert [r["id"] for r in store.db.query("SELECT id FROM ratings ORDER BY rowid")] == ids


def test_file_is_wal_with_full_sync(store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_press_row_carries_the_time_facts(store):
    row = store.record_press("satisfied", source="button")
    stored = store.get(row["id"])
    assert uuid.UUID(stored["id"]).version == 7
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stored["created_at"])
    assert stored["boot_id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert stored["monotonic_ns"] > 0 and stored["clock_synced"] in (0, 1)
    assert (stored["filtered"], stored["sealed"], stored["synced_at"]) == (0, 1, None)


def test_press_is_committed_before_record_press_returns(store, db_path):
    row = store.record_press("very_satisfied", source="touch")
    other = sqlite3.connect(db_path)  # another connection sees it at once
    assert other.execute("SELECT rating FROM ratings WHERE id = ?", [row["id"]]).fetchone() == ("very_satisfied",)
    other.close()


@pytest.mark.parametrize("rating,source", [("bad", "touch"), ("satisfied", "keyboard")])
def test_bad_press_values_are_refused_and_nothing_stored(store, rating, source):
    with pytest.raises(ValueError):
        store.record_press(rating, source=source)
    assert store.db["ratings"].count == 0


def test_seal_rules(store):
    row = store.record_press("dissatisfied", source="touch", ask_reason=True)
    with pytest.raises(ValueError):
        store.seal(row["id"], "given")  # given needs a reason
    with pytest.raises(ValueError):
        store.seal(row["id"], "skipped", "facilities")
    assert store.seal(row["id"], "given", "facilities") is True
    assert store.seal(row["id"], "skipped") is False  # sealed rows never change
    assert store.get(row["id"])["reason"] == "facilities"


def test_start_up_seals_rows_a_crash_left_open(db_path):
    store = RatingStore(db_path, terminal_id="t")
    open_id = store.record_press("dissatisfied", source="touch", ask_reason=True)["id"]
    store.close()
    terminal = open_terminal(parse_config({"storage": {"path": str(db_path)}}), mock_pins=True)
    try:
        row = terminal.store.get(open_id)
        assert (row["sealed"], row["reason_outcome"]) == (1, "timeout")
        assert terminal.store.meta()["last_start"]
    finally:
        terminal.close()


def test_counts_and_backlog(tmp_path):
    store = RatingStore(Database(tmp_path / "c.db"), terminal_id="t", clock=FixedClock())
    for rating in ["very_satisfied", "very_satisfied", "satisfied", "dissatisfied"]:
        store.record_press(rating, source="button")
    store.record_press("satisfied", source="button", filtered=True)
    store.record_press("dissatisfied", source="touch", ask_reason=True)
    counts = store.counts()
    assert counts == {"very_satisfied": 2, "satisfied": 1, "dissatisfied": 2, "filtered": 1, "counted": 5,
                      "filtered_by_cause": {"repeat": 0, "busy": 0, "service": 0, "signin": 0, "dossier_repeat": 0,
                                            "unknown": 1}}
    assert store.counts(since="2026-11-26T00:00:00.000Z")["counted"] == 0
    assert store.backlog() == {"unsealed": 1, "pending": 5}


def _write_garbage(path: Path) -> bytes:
    garbage = b"this is not an SQLite database\x00" * 100
    path.write_bytes(garbage)
    return garbage


def test_a_file_that_is_not_a_database_is_moved_aside(db_path, caplog):
    garbage = _write_garbage(db_path)
    store = RatingStore(db_path, terminal_id="t")
    try:
        assert store.recovery is not None
        moved = Path(store.recovery.moved_to)
        assert moved.parent == db_path.parent and moved.name.startswith("kiosk.db.corrupt-")
        assert moved.read_bytes() == garbage  # kept, never deleted
        store.record_press("satisfied", source="touch")  # the fresh file works
        assert store.db["ratings"].count == 1
        assert store.meta()["recovered_from"] == str(moved)
        assert "moved aside" in caplog.text
    finally:
        store.close()


def test_a_damaged_database_is_moved_aside(db_path):
    store = RatingStore(db_path, terminal_id="t")
    for _ in range(300):
        store.record_press("satisfied", source="touch")
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(db_path.read_bytes())
    page = 4096
    data[2 * page:4 * page] = os.urandom(2 * page)  # smash pages of the table's b-tree
    db_path.write_bytes(bytes(data))
    again = RatingStore(db_path, terminal_id="t")
    try:
        assert again.recovery is not None
        assert again.db["ratings"].count == 0
        assert Path(again.recovery.moved_to).stat().st_size == len(data)
    finally:
        again.close()


def test_an_unopenable_path_is_moved_aside(db_path):
    db_path.mkdir()  # a folder where the file should be: SQLite cannot open it
    (db_path / "keep.txt").write_text("technician's note")
    store = RatingStore(db_path, terminal_id="t")
    try:
        assert (Path(store.recovery.moved_to) / "keep.txt").read_text() == "technician's note"
        assert db_path.is_file()
    finally:
        store.close()


def test_status_tells_the_technician_about_a_recovery(db_path):
    _write_garbage(db_path)
    config = parse_config({"storage": {"path": str(db_path)}, "terminal": {"id": "hd-01"}})
    store = RatingStore(db_path, terminal_id="hd-01")
    try:
        status = terminal_status(config, store)
        assert status["recovered"]["moved_to"] == store.recovery.moved_to
        assert "moved to" in format_status(status) and store.recovery.moved_to in format_status(status)
    finally:
        store.close()


# -- durability: SIGKILL at random moments ---------------------------------

CHILD = r"""
import sys
from kiosk.store import RatingStore
store = RatingStore(sys.argv[1], terminal_id="crash-test")
print("ready", flush=True)
i = 0
while True:
    row = store.record_press(("very_satisfied", "satisfied", "dissatisfied")[i % 3], source="button",
                             ask_reason=(i % 3 == 2))
    if i % 3 == 2:
        store.seal(row["id"], "skipped")
    print(row["id"], flush=True)   # only after the commit returned
    i += 1
"""


def test_no_acknowledged_press_is_lost_when_killed(tmp_path):
    db_path = tmp_path / "crash.db"
    rng = random.Random(20261125)
    acknowledged = set()
    for _ in range(25):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(db_path)], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate()
        acknowledged.update(line for line in out.split() if len(line) == 36)
    assert len(acknowledged) > 100  # the children really stored presses
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in conn.execute("SELECT id FROM ratings")}
    finally:
        conn.close()
    assert acknowledged <= stored


def test_filter_cause_goes_only_with_a_filtered_press_and_a_known_cause(store):
    row = store.record_press("satisfied", source="button", filtered=True, filter_cause="repeat")
    assert store.get(row["id"])["filter_cause"] == "repeat"
    with pytest.raises(ValueError):
        store.record_press("satisfied", source="button", filter_cause="service")  # not filtered
    with pytest.raises(ValueError):
        store.record_press("satisfied", source="button", filtered=True, filter_cause="mashing")


def test_migration_derives_the_cause_of_older_filtered_rows_where_it_is_certain(db_path):
    """A database from before m004: a filtered press < 0.5 s after a counted one (same boot) was made while
    the screen was busy (thanks_s >= 0.5 s); later ones, or after a counted press of another boot, stay NULL."""
    from sqlite_utils.migrations import Migrations

    db = Database(db_path)
    before = Migrations("kiosk")
    for step in migrations._migrations[:3]:  # m001..m003, as an older terminal has them
        before._migrations.append(step)
    before.apply(db)
    rows = [  # (id, boot, seconds, filtered)
        ("a", "boot-1", 10.0, 0), ("b", "boot-1", 10.2, 1), ("c", "boot-1", 10.45, 1), ("d", "boot-1", 12.0, 1),
        ("e", "boot-2", 10.1, 1), ("f", "boot-2", 30.0, 0), ("g", "boot-2", 30.6, 1), ("h", "boot-2", 30.3, 0),
    ]
    db["ratings"].insert_all(
        [{"id": i, "terminal_id": "t", "rating": "satisfied", "source": "button",
          "created_at": "2026-11-25T09:30:12.345Z", "boot_id": boot, "monotonic_ns": int(s * 1e9),
          "clock_synced": 1, "filtered": f, "sealed": 1} for i, boot, s, f in rows])
    db.close()
    store = RatingStore(db_path, terminal_id="t")
    try:
        causes = {r["id"]: r["filter_cause"] for r in store.db["ratings"].rows}
        assert causes == {"a": None, "b": "busy", "c": "busy", "d": None, "e": None, "f": None,
                          "g": "busy", "h": None}
        assert store.counts()["filtered_by_cause"] == {"repeat": 0, "busy": 3, "service": 0, "signin": 0,
                                                      "dossier_repeat": 0, "unknown": 2}
    finally:
        store.close()

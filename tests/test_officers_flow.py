"""The officer at the counter: sign-in by badge and by PIN, hand-over, sign-out (badge, screen, hours,
service), the PIN pad's lock, counters, and that no press during a sign-in is ever counted. A real SQLite
file; what is committed is read through a second connection, as the uploader reads it."""

from datetime import datetime

import pytest

from counter_helpers import (VN, WallClock, add_officer, counter_flow, file_store, ratings, read_committed)
from kiosk.config import parse_config
from kiosk.flow import HOME, INVITATION, REASON, SIGNIN, THANKS, RatingFlow
from kiosk.scanner import Scan, ScanReader


@pytest.fixture
def store(tmp_path):
    store = file_store(tmp_path)
    add_officer(store, "0042", "Nguyễn Thị Lan", pin="2468")
    add_officer(store, "0077", "Trần Văn Minh", pin="1357", counters=["Quầy 1", "Quầy 2"])
    add_officer(store, "0099", "Lê Thu Hà", pin="9999", counters=["Quầy 5"])
    add_officer(store, "0100", "Phạm Văn Bình")  # badge only: no PIN
    yield store
    store.close()


@pytest.fixture
def wall():
    return WallClock()


@pytest.fixture
def flow(store, clock, wall):
    return counter_flow(store, clock, wall=wall)


@pytest.fixture
def events(flow):
    seen = []
    flow.add_listener(seen.append)
    return seen


def shifts(store):
    return read_committed(store._path(), "SELECT officer, sign_in_how, sign_out_how, signed_out_at IS NOT NULL"
                                         " FROM shifts ORDER BY rowid")


def test_badge_scan_signs_in_and_every_press_stores_the_officer(flow, store, clock):
    event = flow.scan(Scan("CB0042"))
    assert (event.kind, event.officer, event.outcome, flow.officer) == ("signed_in", "0042", "badge", "0042")
    assert flow.officer_details().name == "Nguyễn Thị Lan"
    assert shifts(store) == [("0042", "badge", None, 0)]  # committed at once
    flow.press("very_satisfied")
    clock.advance(10)
    flow.press("satisfied")
    assert [r["officer"] for r in ratings(store)] == ["0042", "0042"]


def test_press_with_nobody_signed_in_stores_no_officer(flow, store):
    flow.press("satisfied")
    assert ratings(store)[0]["officer"] is None


@pytest.mark.parametrize(("code", "message"), [("0404", "officer_unknown"), ("0099", "officer_not_here")])
def test_a_badge_that_may_not_sign_in_here_is_refused(flow, store, events, code, message):
    event = flow.scan(f"CB{code}")
    assert (event.kind, event.message, event.officer, flow.officer) == ("refused", message, code, None)
    assert shifts(store) == []


@pytest.mark.parametrize("counter", ["Quầy 2", "  quầy   2 "])
def test_counters_are_matched_without_case_or_spacing(store, clock, counter):
    flow = counter_flow(store, clock, counter=counter)
    assert flow.sign_in("0077", "badge").kind == "signed_in"
    assert flow.sign_out("screen").kind == "signed_out"
    assert flow.sign_in("0099", "badge").message == "officer_not_here"


def test_the_same_badge_again_signs_out(flow, store):
    flow.scan("CB0042")
    event = flow.scan("CB0042")
    assert (event.kind, event.officer, event.outcome, flow.officer) == ("signed_out", "0042", "badge", None)
    assert shifts(store) == [("0042", "badge", "badge", 1)]


def test_another_badge_hands_the_counter_over(flow, store, events):
    flow.scan("CB0042")
    event = flow.scan("CB0077")
    assert (event.kind, event.officer, flow.officer) == ("signed_in", "0077", "0077")
    assert [(e.kind, e.officer) for e in events] == [("signed_in", "0042"), ("signed_out", "0042"),
                                                    ("signed_in", "0077")]
    assert shifts(store) == [("0042", "badge", "badge", 1), ("0077", "badge", None, 0)]


def test_pin_sign_in_closes_the_pad_and_stores_how(flow, store, events):
    assert flow.begin_signin().screen == SIGNIN and flow.screen == SIGNIN
    event = flow.check_pin("0042", "2468")
    assert (event.kind, event.officer, event.outcome, flow.screen) == ("signed_in", "0042", "pin", HOME)
    assert shifts(store) == [("0042", "pin", None, 0)]


def test_presses_while_the_pin_pad_is_up_are_stored_and_never_counted(flow, store, clock):
    flow.begin_signin()
    for rating in ("very_satisfied", "very_satisfied", "satisfied"):
        event = flow.press(rating)
        assert (event.kind, event.filter_cause, flow.screen) == ("filtered", "signin", SIGNIN)
        clock.advance(1)
    flow.check_pin("0042", "2468")
    assert [(r["filtered"], r["filter_cause"]) for r in ratings(store)] == [(1, "signin")] * 3
    assert store.counts()["counted"] == 0 and store.counts()["filtered_by_cause"]["signin"] == 3
    # Once signed in, the next press counts (the filtered ones started no repeat interval).
    assert flow.press("satisfied").kind == "rated"


def test_a_press_while_a_badge_is_being_read_is_not_counted(store, clock):
    reader = ScanReader()
    flow = counter_flow(store, clock, scanner=reader)
    start = clock()
    for i, char in enumerate("CB00"):
        reader.feed(char, start + i * 0.008)
    clock.advance(0.03)
    event = flow.press("very_satisfied")
    assert (event.kind, event.filter_cause) == ("filtered", "signin")
    for i, char in enumerate("42"):
        reader.feed(char, clock() + i * 0.008)
    clock.advance(0.02)
    flow.scan(reader.feed_enter(clock()))
    assert flow.officer == "0042"
    clock.advance(1)
    assert flow.press("very_satisfied").kind == "rated"  # the burst is over


@pytest.mark.parametrize(("code", "pin", "message"), [
    ("0042", "1111", "pin_wrong"),
    ("0404", "2468", "officer_unknown"),
    ("0100", "0000", "pin_wrong"),       # badge only: no PIN matches
])
def test_a_wrong_pin_is_refused(flow, store, code, pin, message):
    flow.begin_signin()
    event = flow.check_pin(code, pin)
    assert (event.kind, event.message, flow.officer, flow.screen) == ("refused", message, None, SIGNIN)
    assert shifts(store) == []


def test_the_pad_locks_after_pin_attempts_and_opens_after_pin_lock_s(flow, clock):
    flow.begin_signin()
    assert flow.check_pin("0042", "0000").message == "pin_wrong"
    assert flow.check_pin("0404", "0000").message == "officer_unknown"  # unknown codes count too
    assert flow.check_pin("0042", "0001").message == "pin_locked"       # the third (pin_attempts = 3)
    assert flow.check_pin("0042", "2468").message == "pin_locked"       # even the right PIN, while locked
    clock.advance(59)
    assert flow.check_pin("0042", "2468").message == "pin_locked"
    clock.advance(1.5)
    assert flow.check_pin("0042", "2468").kind == "signed_in"


def test_a_right_pin_starts_the_count_of_wrong_ones_again(flow, clock):
    flow.begin_signin()
    flow.check_pin("0042", "0000")
    flow.check_pin("0042", "0000")
    flow.check_pin("0042", "2468")
    flow.sign_out("screen")
    flow.begin_signin()
    assert flow.check_pin("0042", "0000").message == "pin_wrong"  # not locked: the count started again


def test_the_pin_pad_gives_up_after_a_minute_so_presses_count_again(flow, clock):
    flow.begin_signin()
    clock.advance(61)
    assert flow.tick().screen == HOME and flow.screen == HOME
    assert flow.press("satisfied").kind == "rated"


def test_end_signin_goes_home_and_begin_signin_waits_for_the_citizen(flow, clock):
    flow.begin_signin()
    assert flow.end_signin().screen == HOME
    flow.press("dissatisfied")
    assert flow.begin_signin() is None and flow.screen == REASON  # never over a citizen answering
    flow.skip_reason()
    assert flow.begin_signin() is None and flow.screen == THANKS


def test_the_pin_pad_over_an_invitation_returns_to_it(flow, clock):
    flow.scan("000.00.23.H26-261202-0007")
    flow.begin_signin()
    flow.check_pin("0042", "2468")
    assert (flow.screen, flow.invitation) == (INVITATION, "000.00.23.H26-261202-0007")


def test_sign_out_from_the_screen_and_the_service_screen(flow, store):
    flow.scan("CB0042")
    assert flow.sign_out("screen").outcome == "screen"
    assert flow.sign_out("screen") is None  # nobody left
    flow.scan("CB0077")
    flow.begin_service()
    assert flow.sign_out("service").kind == "signed_out"
    assert [s[2] for s in shifts(store)] == ["screen", "service"]


def test_sign_out_at_the_end_of_opening_hours(flow, store, wall, events):
    flow.scan("CB0042")
    wall.now = datetime(2026, 12, 2, 17, 29, 59, tzinfo=VN)
    flow.tick()
    assert flow.officer == "0042"
    wall.now = datetime(2026, 12, 2, 17, 30, 0, tzinfo=VN)
    event = flow.tick()
    assert (event.kind, event.outcome, flow.officer) == ("signed_out", "hours", None)
    assert shifts(store) == [("0042", "badge", "hours", 1)]


def test_signing_in_after_sign_out_at_lasts_until_the_next_days(flow, wall):
    wall.now = datetime(2026, 12, 2, 18, 15, tzinfo=VN)  # overtime: signed in after 17:30
    flow.scan("CB0042")
    wall.now = datetime(2026, 12, 2, 23, 0, tzinfo=VN)
    flow.tick()
    assert flow.officer == "0042"
    wall.now = datetime(2026, 12, 3, 17, 30, tzinfo=VN)
    flow.tick()
    assert flow.officer is None


def test_no_sign_out_when_sign_out_at_is_empty(store, clock, wall):
    flow = counter_flow(store, clock, wall=wall, sign_out_at="")
    flow.scan("CB0042")
    wall.now = datetime(2026, 12, 5, 9, 0, tzinfo=VN)
    flow.tick()
    assert flow.officer == "0042"


def test_the_officer_stays_signed_in_across_a_restart(tmp_path, store, clock, wall):
    flow = counter_flow(store, clock, wall=wall)
    flow.scan("CB0042")
    store.close()
    reopened = file_store(tmp_path)
    try:
        again = counter_flow(reopened, clock, wall=wall)
        assert again.officer == "0042"
        assert again.press("satisfied").officer == "0042"
        due = again._sign_out_due  # the first 17:30 after the sign-in's stored time: the hours still end it
        assert (due.hour, due.minute) == (17, 30)
        wall.now = due
        again.tick()
        assert again.officer is None
    finally:
        reopened.close()


def test_a_shift_left_open_when_sign_in_is_turned_off_is_closed_by_service(tmp_path, store, clock):
    counter_flow(store, clock).scan("CB0042")
    flow = counter_flow(store, clock, officers=False)
    assert flow.officer is None
    assert shifts(store) == [("0042", "badge", "service", 1)]


def test_with_sign_in_off_a_badge_is_an_unknown_scan_and_nothing_signs_in(store, clock):
    flow = counter_flow(store, clock, officers=False)
    assert flow.scan("CB0042").message == "scan_unknown"
    assert flow.sign_in("0042", "badge") is None and flow.begin_signin() is None
    assert flow.check_pin("0042", "2468") is None and flow.officer is None


def test_a_scan_during_service_is_ignored(flow, store):
    flow.begin_service()
    assert flow.scan("CB0042") is None and flow.officer is None


def test_a_badge_scan_while_the_reason_screen_is_open_signs_in_at_once(flow, store, clock):
    flow.press("dissatisfied")
    event = flow.scan("CB0042")
    assert (event.kind, flow.screen) == ("signed_in", REASON)  # the citizen's question goes on
    assert ratings(store)[0]["officer"] is None  # the press being answered keeps who was there at the press
    flow.choose_reason("processing_time")
    assert ratings(store)[0]["reason"] == "processing_time"


def test_sign_in_how_must_be_known(flow):
    with pytest.raises(ValueError):
        flow.sign_in("0042", "face")
    with pytest.raises(ValueError):
        flow.sign_out("nap")


def test_from_config_takes_the_officers_and_dossier_settings(store, clock):
    config = parse_config({"terminal": {"counter": "Quầy 2"},
                           "officers": {"enabled": True, "pin_attempts": 2, "pin_lock_s": 30, "sign_out_at": "16:45"},
                           "dossier": {"enabled": True, "invitation_s": 90}})
    flow = RatingFlow.from_config(store, config, clock=clock)
    assert (flow.officers.counter, flow.pin_pad.attempts, flow.pin_pad.lock_s, flow.sign_out_at,
            flow.invitation_s, flow.reason_warning_s) == ("Quầy 2", 2, 30.0, "16:45", 90.0, 5.0)
    assert flow.sign_in("0077", "badge").kind == "signed_in"
    off = RatingFlow.from_config(store, parse_config({}), clock=clock)
    assert off.officers is None and off.dossiers is None


def test_m005_upgrades_a_file_from_before_officers(tmp_path):
    from sqlite_utils import Database

    from kiosk.migrations import migrations

    db = Database(tmp_path / "old.db")
    migrations.apply(db, stop_before="m005_officers_and_dossiers")  # the file as issue 11's terminal left it
    db["ratings"].insert({"id": "r1", "terminal_id": "t", "rating": "satisfied", "source": "button",
                          "created_at": "2026-11-25T09:30:12.345Z", "boot_id": "b", "monotonic_ns": 1,
                          "clock_synced": 1, "filtered": 0, "sealed": 1})
    db.close()
    from kiosk.store import RatingStore

    store = RatingStore(tmp_path / "old.db", terminal_id="t")
    try:
        row = store.get("r1")
        assert (row["officer"], row["dossier"], row["rating"]) == (None, None, "satisfied")
        assert {"shifts", "invitations", "officers"} <= set(store.db.table_names())
        assert store.meta()["officers_version"] == ""
    finally:
        store.close()


def test_kiosk_status_shows_the_officer_signed_in_and_the_invitations(tmp_path, clock, capsys):
    import json

    from cli_helpers import run_main
    from kiosk.cli import main

    config = tmp_path / "kiosk.toml"
    config.write_text(f'[terminal]\nid = "hd-phucla-01"\ncounter = "Quầy 1"\n[storage]\npath = "{tmp_path / "kiosk.db"}"\n'
                      '[officers]\nenabled = true\n[dossier]\nenabled = true\n', encoding="utf-8")
    store = file_store(tmp_path)
    add_officer(store, "0042", "Nguyễn Thị Lan", pin="2468")
    flow = counter_flow(store, clock)
    flow.invite("000.00.23.H26-261202-0007")
    flow.press("satisfied")  # rated: closed, waiting to upload
    clock.advance(10)
    flow.tick()
    flow.scan("CB0042")
    flow.invite("000.00.23.H26-261202-0008")  # open
    store.mark_started()
    store.close()

    _, out, _ = run_main(main, ["status", "--config", str(config)], capsys)
    assert "Officer signed in: 0042 Nguyễn Thị Lan (since 20" in out
    assert "Officers list: 1 officer(s), version none yet" in out
    assert "Dossier invitations: open 1; closed, waiting to upload 1" in out
    _, out, _ = run_main(main, ["status", "--json", "--config", str(config)], capsys)
    desk = json.loads(out)["counter_desk"]
    assert (desk["officer"], desk["officer_name"], desk["invitations_open"], desk["invitations_pending"]) == \
        ("0042", "Nguyễn Thị Lan", 1, 1)


def test_kiosk_status_says_nothing_of_officers_when_both_are_off(tmp_path, capsys):
    from cli_helpers import run_main
    from kiosk.cli import main

    config = tmp_path / "kiosk.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "kiosk.db"}"\n', encoding="utf-8")
    store = file_store(tmp_path)
    store.record_press("satisfied", source="button")
    store.close()
    _, out, _ = run_main(main, ["status", "--config", str(config)], capsys)
    assert "Today: 1 ratings" in out and "Officer" not in out and "Dossier invitations" not in out

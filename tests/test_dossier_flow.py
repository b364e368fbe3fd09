"""The dossier at the counter: the invitation, linking the next counted press, expiry, replacement, count-once
per dossier, bad scans (partial, wrong pattern, while the reason screen is open), the reason screen's warning,
and that every row is committed before thanks. A real SQLite file, read through a second connection."""

import pytest

from counter_helpers import add_officer, counter_flow, file_store, ratings, read_committed
from kiosk.dossiers import DossierRules, shorten
from kiosk.flow import HOME, INVITATION, REASON, THANKS
from kiosk.scanner import PartialScan, Scan

CODE = "000.00.23.H26-261202-0007"
OTHER = "000.00.23.H26-261202-0008"


@pytest.fixture
def store(tmp_path):
    store = file_store(tmp_path)
    add_officer(store, "0042", "Nguyễn Thị Lan", pin="2468")
    yield store
    store.close()


@pytest.fixture
def flow(store, clock):
    return counter_flow(store, clock)


@pytest.fixture
def events(flow):
    seen = []
    flow.add_listener(seen.append)
    return seen


def invitations(store):
    return read_committed(store._path(), "SELECT dossier, officer, outcome, rating_id, closed_at IS NOT NULL"
                                         " FROM invitations ORDER BY rowid")


def committed_ratings(store):
    return read_committed(store._path(), "SELECT id, rating, filtered, filter_cause, officer, dossier, sealed"
                                         " FROM ratings ORDER BY rowid")


def test_a_dossier_scan_invites_and_the_next_press_is_linked(flow, store, clock, events):
    flow.scan("CB0042")
    event = flow.scan(Scan(CODE))
    assert (event.kind, event.screen, event.dossier, event.officer) == ("invited", INVITATION, CODE, "0042")
    assert (flow.screen, flow.invitation, flow.invitation_details.on_screen) == (INVITATION, CODE, shorten(CODE))
    assert invitations(store) == [(CODE, "0042", None, None, 0)]  # the open invitation is committed at once
    clock.advance(20)
    rated = flow.press("very_satisfied", source="touch")
    assert (rated.kind, rated.screen, rated.dossier, rated.officer) == ("rated", THANKS, CODE, "0042")
    # Stored and committed before the thank-you, with the invitation closed in the same transaction.
    [row] = committed_ratings(store)
    assert row == (rated.rating_id, "very_satisfied", 0, None, "0042", CODE, 1)
    assert invitations(store) == [(CODE, "0042", "rated", rated.rating_id, 1)]
    assert flow.invitation is None


def test_a_dissatisfied_press_on_the_invitation_asks_its_reason_and_stays_linked(flow, store):
    flow.invite(CODE)
    flow.press("dissatisfied")
    assert flow.screen == REASON
    flow.choose_reason("processing_time")
    [row] = ratings(store)
    assert (row["dossier"], row["reason"], row["sealed"]) == (CODE, "processing_time", 1)


def test_an_invitation_nobody_answers_expires_unanswered_and_goes_home(flow, store, clock):
    flow.invite(CODE)
    clock.advance(119.9)
    assert flow.tick() is None and flow.screen == INVITATION
    clock.advance(0.2)
    event = flow.tick()
    assert (event.kind, event.screen, flow.screen, flow.invitation) == ("screen", HOME, HOME, None)
    assert invitations(store) == [(CODE, None, "unanswered", None, 1)]
    flow.press("satisfied")  # the next press is not linked
    assert ratings(store)[0]["dossier"] is None


def test_a_press_after_expiry_without_a_tick_is_not_linked(flow, store, clock):
    flow.invite(CODE)
    clock.advance(121)  # the UI was slow to tick
    assert flow.press("satisfied").dossier is None
    assert invitations(store)[0][2] == "unanswered"


def test_a_second_scan_replaces_the_first_invitation(flow, store, clock):
    flow.invite(CODE)
    clock.advance(30)
    flow.invite(OTHER)
    assert flow.invitation == OTHER
    clock.advance(100)  # the second has its own full time
    flow.tick()
    assert flow.screen == INVITATION
    flow.press("satisfied")
    assert [(d, o) for d, _, o, _, _ in invitations(store)] == [(CODE, "replaced"), (OTHER, "rated")]
    assert ratings(store)[0]["dossier"] == OTHER


def test_a_dossier_counts_once_on_this_terminal(flow, store, clock, events):
    flow.invite(CODE)
    first = flow.press("very_satisfied")
    clock.advance(10)
    flow.tick()
    flow.invite(CODE)  # the same receipt scanned again
    second = flow.press("dissatisfied")
    # Stored, linked, filtered with its cause; the citizen sees the same thank-you.
    assert (second.kind, second.filter_cause, second.dossier, second.screen) == \
        ("filtered", "dossier_repeat", CODE, THANKS)
    assert flow.last_rating == "dissatisfied"  # the thank-you of this press, no reason question
    rows = committed_ratings(store)
    assert [(r[2], r[3], r[5]) for r in rows] == [(0, None, CODE), (1, "dossier_repeat", CODE)]
    assert [o for _, _, o, _, _ in invitations(store)] == ["rated", "rated"]
    assert store.counts()["counted"] == 1 and store.counts()["filtered_by_cause"]["dossier_repeat"] == 1
    assert first.rating_id != second.rating_id


def test_a_filtered_press_on_the_invitation_leaves_it_open(flow, store, clock):
    flow.press("satisfied")
    clock.advance(3.5)  # the thank-you is over, the repeat interval (5 s) is not
    flow.tick()
    flow.invite(CODE)
    event = flow.press("very_satisfied")
    assert (event.filter_cause, flow.screen, flow.invitation) == ("repeat", INVITATION, CODE)
    clock.advance(2)
    assert flow.press("very_satisfied").dossier == CODE


def test_presses_while_the_pin_pad_is_up_over_an_invitation_are_not_linked(flow, store):
    flow.invite(CODE)
    flow.begin_signin()
    event = flow.press("very_satisfied")
    assert (event.filter_cause, event.dossier) == ("signin", None)
    flow.end_signin()
    assert flow.screen == INVITATION and flow.press("satisfied").dossier == CODE


@pytest.mark.parametrize("scanned", [PartialScan("000.00.23.H2"), "000.00.23 H26", "-bad-code-", "ab"])
def test_a_bad_scan_is_refused_and_changes_nothing(flow, store, scanned, events):
    event = flow.scan(scanned)
    expected = "scan_partial" if isinstance(scanned, PartialScan) else "scan_unknown"
    assert (event.kind, event.message, flow.screen, flow.invitation) == ("refused", expected, HOME, None)
    assert invitations(store) == [] and ratings(store) == []


def test_a_bad_scan_on_an_open_invitation_keeps_it(flow, store):
    flow.invite(CODE)
    assert flow.scan(PartialScan("000.00")).message == "scan_partial"
    assert flow.invitation == CODE and flow.screen == INVITATION


def test_invite_checks_the_pattern_too(flow, store):
    assert flow.invite("x y").message == "scan_unknown" and invitations(store) == []


def test_a_dossier_scan_while_the_reason_screen_is_open_waits_for_the_citizen(flow, store, clock, events):
    flow.press("dissatisfied")
    clock.advance(2)
    assert flow.scan(CODE) is None  # deferred: the citizen answering is not cut short
    assert (flow.screen, flow.invitation, flow.deferred_dossier) == (REASON, None, CODE)
    flow.choose_reason("staff_attitude")
    assert flow.screen == THANKS and flow.invitation is None  # the thank-you first
    clock.advance(3)
    flow.tick()
    assert (flow.screen, flow.invitation) == (INVITATION, CODE)
    [first] = ratings(store)
    assert first["dossier"] is None and first["reason"] == "staff_attitude"  # the earlier citizen is not linked
    clock.advance(5)
    assert flow.press("satisfied").dossier == CODE


def test_a_deferred_dossier_opens_when_the_reason_question_times_out(flow, store, clock):
    flow.press("dissatisfied")
    flow.scan(CODE)
    clock.advance(21)
    flow.tick()
    assert (flow.screen, flow.invitation) == (INVITATION, CODE)
    assert ratings(store)[0]["reason_outcome"] == "timeout"


def test_only_the_latest_deferred_dossier_is_kept(flow, clock):
    flow.press("satisfied")
    flow.scan(CODE)
    flow.scan(OTHER)  # during the thank-you too
    clock.advance(3)
    flow.tick()
    assert flow.invitation == OTHER


def test_the_service_screen_drops_a_deferred_dossier_and_closes_an_open_invitation(flow, store, clock):
    flow.invite(CODE)
    flow.begin_service()
    flow.end_service()
    assert flow.invitation is None and invitations(store)[0][2] == "unanswered"
    flow.press("dissatisfied")
    flow.scan(OTHER)
    flow.begin_service()
    flow.end_service()
    clock.advance(10)
    flow.tick()
    assert flow.invitation is None and len(invitations(store)) == 1


def test_with_invitations_off_a_dossier_scan_is_unknown(store, clock):
    flow = counter_flow(store, clock, dossiers=False)
    assert flow.scan(CODE).message == "scan_unknown"
    assert flow.invite(CODE) is None and invitations(store) == []


def test_an_invitation_open_at_a_stop_is_closed_unanswered_at_the_next_start(tmp_path, store, clock):
    counter_flow(store, clock).invite(CODE)
    store.close()
    reopened = file_store(tmp_path)
    try:
        assert reopened.close_open_invitations() == 1
        assert [o for _, _, o, _, _ in invitations(reopened)] == ["unanswered"]
    finally:
        reopened.close()


def test_the_reason_screen_warns_once_reason_warning_s_before_its_time_out(flow, clock, events):
    flow.press("dissatisfied")
    clock.advance(14.9)
    flow.tick()
    assert [e.kind for e in events] == ["rated"]
    clock.advance(0.2)
    warning = flow.tick()
    assert (warning.kind, warning.screen, warning.rating_id) == ("warning", REASON, events[0].rating_id)
    clock.advance(1)
    flow.tick()
    clock.advance(1)
    flow.tick()
    assert [e.kind for e in events] == ["rated", "warning"]  # once per question
    flow.skip_reason()
    clock.advance(10)
    flow.tick()
    flow.press("dissatisfied")  # the next question warns again
    clock.advance(16)
    assert flow.tick().kind == "warning"


def test_no_warning_when_reason_warning_s_is_zero(store, clock):
    flow = counter_flow(store, clock, reason_warning_s=0)
    seen = []
    flow.add_listener(seen.append)
    flow.press("dissatisfied")
    for _ in range(25):
        clock.advance(1)
        flow.tick()
    assert "warning" not in [e.kind for e in seen] and flow.screen == HOME


@pytest.mark.parametrize(("code", "width", "shown"), [
    ("HS-0007", 20, "HS-0007"),
    (CODE, 20, "000.00.23…61202-0007"),
    (CODE, 12, "000.0…2-0007"),
])
def test_shorten_keeps_the_start_and_the_sequence_number(code, width, shown):
    assert shorten(code, width) == shown and len(shown) <= width


def test_dossier_rules_match_the_whole_code():
    rules = DossierRules(r"^H26\.\d{2}-\d{6}-\d{4}$")
    assert rules.is_valid("H26.23-261202-0007")
    assert not rules.is_valid("H26.23-261202-0007X") and not rules.is_valid("xH26.23-261202-0007")

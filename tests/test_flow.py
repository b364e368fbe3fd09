"""The rating flow, every path, with an injected clock and an in-memory store."""

import pytest
from sqlite_utils import Database

from kiosk.flow import HOME, REASON, THANKS, RatingFlow
from kiosk.ratings import REASONS
from kiosk.store import RatingStore




@pytest.fixture
def store():
    return RatingStore(Database(memory=True), terminal_id="test-01")


@pytest.fixture
def flow(store, clock):
    return RatingFlow(store, reasons=REASONS, reason_timeout_s=20, thanks_s=3,
                      repeat_interval_s=5, clock=clock)


def rows(store):
    return list(store.db["ratings"].rows_where(order_by="rowid"))


@pytest.mark.parametrize("rating", ["very_satisfied", "satisfied"])
def test_positive_rating_thanks_and_is_sealed_at_once(flow, store, rating):
    event = flow.press(rating, source="touch")
    assert (event.kind, event.screen, flow.screen) == ("rated", THANKS, THANKS)
    [row] = rows(store)
    assert (row["rating"], row["source"], row["sealed"], row["filtered"]) == (rating, "touch", 1, 0)
    assert row["reason_outcome"] is None and row["reason"] is None
    assert row["terminal_id"] == "test-01"


def test_dissatisfied_is_stored_open_and_asks_why(flow, store):
    event = flow.press("dissatisfied", source="button")
    assert flow.screen == REASON and event.rating_id == flow.open_rating_id
    [row] = rows(store)
    assert (row["rating"], row["sealed"], row["reason_outcome"]) == ("dissatisfied", 0, None)


@pytest.mark.parametrize("reason", REASONS)
def test_reason_given_seals_with_the_reason(flow, store, clock, reason):
    flow.press("dissatisfied")
    clock.advance(4)
    event = flow.choose_reason(reason, source="touch")
    assert (event.kind, event.outcome, event.reason, flow.screen) == ("sealed", "given", reason, THANKS)
    [row] = rows(store)
    assert (row["sealed"], row["reason"], row["reason_outcome"]) == (1, reason, "given")


def test_reason_button_number_maps_to_configured_order(store, clock):
    flow = RatingFlow(store, reasons=["facilities", "staff_attitude"], clock=clock)
    flow.press("dissatisfied")
    flow.choose_reason_number(2, source="button")
    assert rows(store)[0]["reason"] == "staff_attitude"


@pytest.mark.parametrize("number", [0, 3, 7])
def test_reason_button_without_a_reason_is_ignored(store, clock, number):
    flow = RatingFlow(store, reasons=["facilities", "staff_attitude"], clock=clock)
    flow.press("dissatisfied")
    assert flow.choose_reason_number(number) is None
    assert flow.screen == REASON and rows(store)[0]["sealed"] == 0


def test_reason_not_offered_is_refused(store, clock):
    flow = RatingFlow(store, reasons=["facilities"], clock=clock)
    flow.press("dissatisfied")
    with pytest.raises(ValueError):
        flow.choose_reason("staff_attitude")


def test_skip_seals_as_skipped(flow, store):
    flow.press("dissatisfied")
    event = flow.skip_reason(source="button")
    assert (event.outcome, flow.screen) == ("skipped", THANKS)
    [row] = rows(store)
    assert (row["sealed"], row["reason"], row["reason_outcome"]) == (1, None, "skipped")


def test_reason_screen_times_out_home_and_keeps_the_rating(flow, store, clock):
    flow.press("dissatisfied")
    clock.advance(19.9)
    assert flow.tick().kind == "warning" and flow.screen == REASON  # reason_warning_s (5) before the time-out
    clock.advance(0.2)
    event = flow.tick()
    assert (event.outcome, flow.screen) == ("timeout", HOME)
    [row] = rows(store)
    assert (row["rating"], row["sealed"], row["reason_outcome"]) == ("dissatisfied", 1, "timeout")


def test_late_reason_after_deadline_counts_as_timeout(flow, store, clock):
    flow.press("dissatisfied")
    clock.advance(25)  # no tick in between: the UI may have been slow
    assert flow.choose_reason("facilities") is None
    assert rows(store)[0]["reason_outcome"] == "timeout" and flow.screen == HOME


def test_thanks_returns_home_after_thanks_s(flow, clock):
    flow.press("satisfied")
    clock.advance(2.9)
    flow.tick()
    assert flow.screen == THANKS and flow.seconds_left == pytest.approx(0.1)
    clock.advance(0.1)
    assert flow.tick().screen == HOME and flow.seconds_left is None


def test_press_during_thanks_is_filtered_and_changes_nothing(flow, store, clock):
    flow.press("very_satisfied")
    clock.advance(1)
    deadline = flow.deadline
    event = flow.press("dissatisfied")
    assert (event.kind, flow.screen, flow.deadline) == ("filtered", THANKS, deadline)
    assert [r["filtered"] for r in rows(store)] == [0, 1]
    assert rows(store)[1]["sealed"] == 1  # a filtered dissatisfied is never asked why
    assert event.filter_cause == rows(store)[1]["filter_cause"] == "busy"


def test_press_within_repeat_interval_after_thanks_is_filtered(flow, store, clock):
    flow.press("satisfied")
    clock.advance(4)  # thanks (3 s) is over, repeat interval (5 s) is not
    flow.tick()
    assert flow.screen == HOME
    event = flow.press("satisfied")
    assert event.kind == "filtered" and flow.screen == HOME
    clock.advance(1)
    assert flow.press("satisfied").kind == "rated"
    assert [r["filtered"] for r in rows(store)] == [0, 1, 0]
    assert [r["filter_cause"] for r in rows(store)] == [None, "repeat", None]


def test_press_on_reason_screen_is_filtered(flow, store, clock):
    flow.press("dissatisfied")
    clock.advance(8)
    assert flow.press("very_satisfied").kind == "filtered"
    assert flow.screen == REASON
    assert rows(store)[1]["filter_cause"] == "busy"


@pytest.mark.parametrize("rating", ["very_satisfied", "satisfied", "dissatisfied"])
def test_press_in_service_mode_is_stored_filtered_and_moves_nothing(flow, store, clock, rating):
    flow.begin_service()
    event = flow.press(rating)
    assert (event.kind, event.filter_cause, flow.screen, flow.deadline) == ("filtered", "service", HOME, None)
    [row] = rows(store)
    assert (row["filtered"], row["filter_cause"], row["sealed"]) == (1, "service", 1)
    assert store.counts()["counted"] == 0
    flow.end_service()
    assert flow.press(rating).kind == "rated"  # the repeat interval is untouched by service presses


def test_service_mode_outranks_the_busy_screen_and_end_service_goes_home(flow, store, clock):
    flow.press("dissatisfied")
    flow.begin_service()
    clock.advance(1)
    assert flow.press("satisfied").filter_cause == "service"
    flow.end_service()
    assert flow.screen == HOME and flow.in_service is False
    assert [(r["filtered"], r["filter_cause"], r["reason_outcome"]) for r in rows(store)] == [
        (0, None, "timeout"), (1, "service", None)]


def test_mashing_yields_one_counted_rating(flow, store, clock):
    for i in range(60):
        flow.press(["very_satisfied", "satisfied", "dissatisfied"][i % 3])
        clock.advance(0.05)
    counted = [r for r in rows(store) if not r["filtered"]]
    assert len(rows(store)) == 60 and len(counted) == 1
    assert counted[0]["rating"] == "very_satisfied"


def test_no_question_when_reasons_are_off(store, clock):
    flow = RatingFlow(store, reasons=REASONS, ask_reason=False, clock=clock)
    flow.press("dissatisfied")
    [row] = rows(store)
    assert flow.screen == THANKS and row["sealed"] == 1 and row["reason_outcome"] is None


def test_reset_on_reason_screen_seals_timeout(flow, store):
    flow.press("dissatisfied")
    flow.reset()
    assert flow.screen == HOME and rows(store)[0]["reason_outcome"] == "timeout"


def test_reason_without_question_is_ignored(flow, store):
    assert flow.choose_reason("facilities") is None
    assert flow.skip_reason() is None
    assert rows(store) == []


def test_listeners_see_events_in_order_and_a_broken_one_does_not_stop_the_flow(flow, clock):
    seen = []

    def broken(event):
        raise RuntimeError("listener bug")

    flow.add_listener(broken)
    flow.add_listener(lambda e: seen.append((e.kind, e.screen)))
    flow.press("dissatisfied")
    flow.skip_reason()
    clock.advance(3)
    flow.tick()
    flow.press("satisfied")
    assert seen == [("rated", REASON), ("sealed", THANKS), ("screen", HOME), ("filtered", HOME)]


def test_from_config_takes_the_feedback_settings(store):
    from kiosk.config import parse_config

    config = parse_config({"feedback": {"reasons": ["facilities"], "thanks_s": 1.5,
                                        "repeat_interval_s": 0, "reason_timeout_s": 9},
                           "display": {"touch": False}, "pins": {"reasons": [5]}})
    flow = RatingFlow.from_config(store, config)
    assert (flow.reasons, flow.thanks_s, flow.repeat_interval_s, flow.reason_timeout_s,
            flow.ask_reason) == (("facilities",), 1.5, 0.0, 9.0, True)
    no_way_to_answer = parse_config({"display": {"touch": False}})
    assert RatingFlow.from_config(store, no_way_to_answer).ask_reason is False

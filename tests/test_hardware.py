"""The button panel on gpiozero's MockFactory: pins → callbacks → flow → SQLite, LEDs, buzzer.

The fixtures copy the shape of gpiozero's own tests: a fresh ``MockFactory``
passed as ``pin_factory=``, devices closed and the factory ``reset()`` in
``finally``, and ``Device.pin_factory`` left exactly as it was. MockPin runs
callbacks on the caller's thread and does not bounce, so debounce is driven
with a fake clock and one test presses from real threads.
"""

import logging
import sqlite3
import sys
import threading
import time
from contextlib import closing

import pytest
from gpiozero import Button, Device
from gpiozero.pins.mock import MockFactory

from hardware import ButtonPanel, HardwareError, KeyboardBridge, NoGpioError
from kiosk.config import parse_config
from kiosk.flow import HOME, REASON, THANKS, RatingFlow
from kiosk.ratings import RATINGS
from kiosk.store import RatingStore
from kiosk.terminal import open_terminal, wire_panel

RATING_PINS = {"very_satisfied": 17, "satisfied": 27, "dissatisfied": 22}
REASON_PINS = [5, 6, 13, 19, 26, 21]
SKIP_PIN = 20
LED_PINS = {"very_satisfied": 23, "satisfied": 24, "dissatisfied": 25}
BUZZER_PIN = 18
#: Not the default order, so "reason button 2" must really follow the config.
CONFIG_REASONS = ["facilities", "unclear_guidance", "staff_attitude"]



# -- fixtures: gpiozero's shape ------------------------------------------
def close_all(things):
    while things:
        things.pop().close()


@pytest.fixture
def opened():
    """Panels, terminals and stores a test opened; ``factory`` closes them before its reset."""
    things = []
    try:
        yield things
    finally:
        close_all(things)  # tests that use no MockFactory


@pytest.fixture
def factory(opened):
    saved = Device.pin_factory
    factory = MockFactory()
    try:
        yield factory
    finally:
        try:
            close_all(opened)
        finally:
            factory.reset()
            leaked = Device.pin_factory is not saved
            Device.pin_factory = saved
            if leaked:
                pytest.fail("the test changed gpiozero's Device.pin_factory")



@pytest.fixture
def make_panel(factory, opened):
    def make(**options):
        options.setdefault("rating_pins", RATING_PINS)
        panel = ButtonPanel(pin_factory=factory, **options)
        opened.append(panel)
        return panel

    return make


def config_data(tmp_path, **sections):
    data = {
        "terminal": {"id": "hw-test-01"},
        "storage": {"path": str(tmp_path / "kiosk.db")},
        "feedback": {"reasons": CONFIG_REASONS, "reason_timeout_s": 20, "thanks_s": 3,
                     "repeat_interval_s": 5},
        # bounce_s = 0: open_terminal gives the panel the real clock, and each
        # test presses any button once at most per fake-clock step.
        "pins": {**RATING_PINS, "reasons": REASON_PINS[:3], "skip": SKIP_PIN, "bounce_s": 0},
        "leds": {**LED_PINS, "on_s": 0.3},
        "buzzer": {"pin": BUZZER_PIN, "beep_s": 0.05},
    }
    for section, values in sections.items():
        data[section] = {**data.get(section, {}), **values}
    return data


@pytest.fixture
def make_terminal(factory, opened, clock, tmp_path):
    def make(**sections):
        config = parse_config(config_data(tmp_path, **sections))
        terminal = open_terminal(config, mock_pins=True, pin_factory=factory, clock=clock)
        opened.append(terminal)
        return terminal

    return make


def press(pin):
    pin.drive_low()  # pulled up: pressed is low
    pin.drive_high()


def rows_on_disk(path):
    """The rows as another process would see them: only what was committed."""
    with closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("SELECT * FROM ratings ORDER BY rowid")]


def wait_until(predicate, timeout_s=2.0):
    """Poll ``predicate`` (LED blinks and beeps run on gpiozero threads)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def went_high(pin):
    return any(state.state for state in pin.states)


# -- pins reach the callbacks -------------------------------------------
@pytest.mark.parametrize("code", list(RATING_PINS))
def test_rating_pin_press_calls_when_rating_with_its_code(make_panel, code):
    panel = make_panel()
    seen = []
    panel.when_rating = seen.append
    pin = panel.buttons[code].pin
    assert pin.info.name == f"GPIO{RATING_PINS[code]}"
    pin.drive_low()
    assert seen == [code]
    pin.drive_high()  # the release is not a press
    assert seen == [code]


@pytest.mark.parametrize("number", range(1, 7))
def test_reason_pin_press_calls_when_reason_with_its_number(make_panel, number):
    panel = make_panel(reason_pins=REASON_PINS)
    reasons, ratings = [], []
    panel.when_reason, panel.when_rating = reasons.append, ratings.append
    press(panel.buttons[f"reason_{number}"].pin)
    assert (reasons, ratings) == ([number], [])


def test_skip_pin_press_calls_when_skip(make_panel):
    panel = make_panel(skip_pin=SKIP_PIN)
    skips = []
    panel.when_skip = lambda: skips.append("skip")
    press(panel.buttons["skip"].pin)
    assert skips == ["skip"]


def test_press_without_a_callback_is_harmless(make_panel):
    panel = make_panel(skip_pin=SKIP_PIN)
    press(panel.buttons["skip"].pin)
    press(panel.buttons["satisfied"].pin)


# -- debounce, with the panel's injected clock ----------------------------
@pytest.mark.parametrize("edges, presses", [
    pytest.param([0.0], 1, id="one-press"),
    pytest.param([0.0, 0.01, 0.02, 0.03, 0.04], 1, id="burst-within-bounce"),
    pytest.param([0.0, 0.03, 0.06, 0.09, 0.12, 0.15, 0.18, 0.21, 0.24], 1,
                 id="long-burst-each-edge-restarts-the-quiet-period"),
    pytest.param([0.0, 0.1, 0.2], 2, id="presses-apart"),
    pytest.param([0.0, 0.1, 0.2, 0.3, 0.4], 3, id="three-presses-apart"),
    pytest.param([0.0, 0.10, 0.13], 1, id="release-edge-counts-as-an-edge"),
    pytest.param([0.0, 0.10, 0.16], 2, id="bounce-after-release"),
])
def test_debounce_counts_presses_with_injected_clock(make_panel, clock, edges, presses):
    panel = make_panel(bounce_s=0.05, clock=clock)
    seen = []
    panel.when_rating = seen.append
    pin = panel.buttons["satisfied"].pin
    start = clock.now
    for n, at in enumerate(edges):  # falling, rising, falling, …
        clock.now = start + at
        pin.drive_high() if n % 2 else pin.drive_low()
    assert seen == ["satisfied"] * presses
    clock.advance(1)
    pin.drive_high()  # a held button takes gpiozero's hold_time (1 s) to close


def test_debounce_is_per_button(make_panel, clock):
    panel = make_panel(bounce_s=0.05, clock=clock)
    seen = []
    panel.when_rating = seen.append
    press(panel.buttons["satisfied"].pin)
    clock.advance(0.01)
    press(panel.buttons["very_satisfied"].pin)
    assert seen == ["satisfied", "very_satisfied"]


# -- the whole path into the real SQLite file ----------------------------
@pytest.mark.parametrize("code", ["very_satisfied", "satisfied"])
def test_rating_press_stores_a_sealed_button_row_on_disk(make_terminal, tmp_path, code):
    terminal = make_terminal()
    press(terminal.panel.buttons[code].pin)
    [row] = rows_on_disk(tmp_path / "kiosk.db")
    assert (row["rating"], row["source"], row["sealed"], row["filtered"]) == (code, "button", 1, 0)
    assert (row["reason"], row["reason_outcome"], row["terminal_id"]) == (None, None, "hw-test-01")
    assert terminal.flow.screen == THANKS


def test_dissatisfied_press_stores_an_open_row_and_asks_why(make_terminal, tmp_path):
    terminal = make_terminal()
    press(terminal.panel.buttons["dissatisfied"].pin)
    [row] = rows_on_disk(tmp_path / "kiosk.db")
    assert (row["rating"], row["source"], row["sealed"], row["reason_outcome"]) == (
        "dissatisfied", "button", 0, None)
    assert terminal.flow.screen == REASON and terminal.flow.open_rating_id == row["id"]


@pytest.mark.parametrize("number", [1, 2, 3])
def test_reason_pin_seals_with_the_configured_reason(make_terminal, tmp_path, clock, number):
    terminal = make_terminal()
    press(terminal.panel.buttons["dissatisfied"].pin)
    clock.advance(2)
    press(terminal.panel.buttons[f"reason_{number}"].pin)
    [row] = rows_on_disk(tmp_path / "kiosk.db")
    assert (row["reason"], row["reason_outcome"], row["sealed"]) == (CONFIG_REASONS[number - 1], "given", 1)
    assert terminal.flow.screen == THANKS


def test_skip_pin_seals_as_skipped(make_terminal, tmp_path, clock):
    terminal = make_terminal()
    press(terminal.panel.buttons["dissatisfied"].pin)
    clock.advance(2)
    press(terminal.panel.buttons["skip"].pin)
    [row] = rows_on_disk(tmp_path / "kiosk.db")
    assert (row["reason"], row["reason_outcome"], row["sealed"]) == (None, "skipped", 1)


@pytest.mark.parametrize("button", ["reason_1", "reason_3", "skip"])
def test_reason_and_skip_pins_at_home_store_nothing(make_terminal, tmp_path, button):
    terminal = make_terminal()
    press(terminal.panel.buttons[button].pin)
    assert rows_on_disk(tmp_path / "kiosk.db") == []
    assert terminal.flow.screen == HOME


def test_press_inside_repeat_interval_is_stored_filtered(make_terminal, tmp_path, clock):
    terminal = make_terminal()
    press(terminal.panel.buttons["satisfied"].pin)
    clock.advance(4)  # thanks over (3 s), repeat interval (5 s) not
    press(terminal.panel.buttons["very_satisfied"].pin)
    first, second = rows_on_disk(tmp_path / "kiosk.db")
    assert (first["filtered"], second["filtered"], second["rating"]) == (0, 1, "very_satisfied")


# -- LEDs and buzzer ------------------------------------------------------
@pytest.mark.parametrize("code", list(RATING_PINS))
def test_counted_press_lights_its_led_only(make_terminal, code):
    terminal = make_terminal()
    press(terminal.panel.buttons[code].pin)
    led = terminal.panel.leds[code]
    assert wait_until(lambda: led.is_lit or went_high(led.pin))
    assert led.pin.state is True  # on for on_s = 0.3 s, far longer than the wait above
    others = [other for name, other in terminal.panel.leds.items() if name != code]
    assert not any(went_high(other.pin) for other in others)


def test_led_goes_off_after_its_time(make_terminal):
    terminal = make_terminal(leds={"on_s": 0.05})
    press(terminal.panel.buttons["satisfied"].pin)
    led = terminal.panel.leds["satisfied"]
    assert wait_until(lambda: went_high(led.pin))
    assert wait_until(lambda: not led.is_lit and led.pin.state is False)
    assert [state.state for state in led.pin.states] == [False, True, False]


def test_counted_press_beeps(make_terminal):
    terminal = make_terminal()
    press(terminal.panel.buttons["satisfied"].pin)
    assert wait_until(lambda: went_high(terminal.panel.buzzer.pin))


def test_no_beep_when_feedback_beep_is_off(make_terminal):
    terminal = make_terminal(feedback={"beep": False})
    press(terminal.panel.buttons["satisfied"].pin)
    # The LED proves the feedback ran; the buzzer gets a grace period to misbehave.
    assert wait_until(lambda: went_high(terminal.panel.leds["satisfied"].pin))
    time.sleep(0.1)
    assert not went_high(terminal.panel.buzzer.pin)


def test_filtered_press_lights_no_led_and_does_not_beep(make_terminal, clock):
    terminal = make_terminal(leds={"on_s": 0.05})
    panel = terminal.panel
    press(panel.buttons["satisfied"].pin)
    assert wait_until(lambda: not panel.leds["satisfied"].is_lit and went_high(panel.leds["satisfied"].pin))
    assert wait_until(lambda: panel.buzzer.pin.state is False)
    beeps = len(panel.buzzer.pin.states)
    clock.advance(4)  # filtered: inside the 5 s repeat interval
    press(panel.buttons["very_satisfied"].pin)
    time.sleep(0.1)
    assert not went_high(panel.leds["very_satisfied"].pin)
    assert not went_high(panel.leds["dissatisfied"].pin)
    assert len(panel.buzzer.pin.states) == beeps
    assert terminal.store.counts()["filtered"] == 1


# -- presses from real threads, as on a Pi --------------------------------
PRESSES_PER_THREAD = 40


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_presses_from_real_threads_are_all_stored(make_panel, opened, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    store = RatingStore(tmp_path / "kiosk.db", terminal_id="hw-test-01")
    opened.append(store)
    # Repeat interval, thanks, reason timeout and bounce 0: every press counts.
    flow = RatingFlow(store, reasons=CONFIG_REASONS, reason_timeout_s=0, thanks_s=0, repeat_interval_s=0)
    panel = make_panel(bounce_s=0, led_pins=LED_PINS, buzzer_pin=BUZZER_PIN, led_on_s=0.01, beep_s=0.01)
    wire_panel(flow, panel)
    rated_on = []  # the thread each counted press was delivered on

    def note_thread(event):
        if event.kind == "rated":
            rated_on.append(threading.current_thread().name)

    flow.add_listener(note_thread)
    errors = []
    start = threading.Barrier(len(RATINGS))

    def hammer(code):
        try:
            pin = panel.buttons[code].pin
            start.wait(timeout=10)
            for _ in range(PRESSES_PER_THREAD):
                press(pin)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(code,), name=f"press-{code}") for code in RATINGS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []

    total = PRESSES_PER_THREAD * len(RATINGS)
    assert len(rated_on) == total
    assert set(rated_on) == {f"press-{code}" for code in RATINGS}  # delivered on the pressing threads
    flow.tick()  # the last dissatisfied question times out (reason_timeout_s = 0)
    assert (flow.screen, flow.open_rating_id) == (HOME, None)
    rows = rows_on_disk(tmp_path / "kiosk.db")
    assert len(rows) == total and len({row["id"] for row in rows}) == total
    assert all(row["sealed"] == 1 and row["filtered"] == 0 and row["source"] == "button" for row in rows)
    for code in RATINGS:
        assert sum(row["rating"] == code for row in rows) == PRESSES_PER_THREAD
    outcomes = {(row["rating"] == "dissatisfied", row["reason_outcome"]) for row in rows}
    assert outcomes == {(True, "timeout"), (False, None)}


# -- the keyboard bridge (kiosk run --mock-pins) --------------------------
@pytest.mark.parametrize("key, button, event", [
    ("1", "very_satisfied", ("rating", "very_satisfied")),
    ("2", "satisfied", ("rating", "satisfied")),
    ("3", "dissatisfied", ("rating", "dissatisfied")),
    *[(str(n + 3), f"reason_{n}", ("reason", n)) for n in range(1, 7)],
    ("0", "skip", ("skip", None)),
])
def test_keyboard_key_presses_its_button(make_panel, key, button, event):
    panel = make_panel(reason_pins=REASON_PINS, skip_pin=SKIP_PIN, bounce_s=0)
    seen = []
    panel.when_rating = lambda code: seen.append(("rating", code))
    panel.when_reason = lambda n: seen.append(("reason", n))
    panel.when_skip = lambda: seen.append(("skip", None))
    bridge = KeyboardBridge(panel)
    assert bridge.key_down(key) is True
    assert panel.buttons[button].is_pressed
    assert [name for name, b in panel.buttons.items() if b.is_pressed] == [button]
    assert bridge.key_up(key) is True
    assert not panel.buttons[button].is_pressed
    assert seen == [event]


@pytest.mark.parametrize("key", ["7", "9", "x", "", "10"])
def test_unknown_or_unwired_key_does_nothing(make_terminal, tmp_path, clock, key):
    terminal = make_terminal()  # reason buttons 1-3 only: keys 7, 8, 9 are unwired
    press(terminal.panel.buttons["dissatisfied"].pin)  # a reason key would count now
    clock.advance(1)
    assert terminal.keyboard.key_down(key) is False
    assert terminal.keyboard.key_up(key) is False
    assert terminal.keyboard.tap(key) is False
    [row] = rows_on_disk(tmp_path / "kiosk.db")
    assert (row["sealed"], row["reason"]) == (0, None)
    assert terminal.flow.screen == REASON


def test_keyboard_tap_runs_the_whole_path(make_terminal, tmp_path, clock):
    terminal = make_terminal()
    assert terminal.keyboard.tap("3")
    clock.advance(1)
    assert terminal.keyboard.tap("5")  # reason button 2
    [row] = rows_on_disk(tmp_path / "kiosk.db")
    assert (row["rating"], row["reason"], row["reason_outcome"]) == (
        "dissatisfied", CONFIG_REASONS[1], "given")


def test_open_terminal_with_mock_pins_makes_its_own_mock_factory(tmp_path, opened, factory):
    terminal = open_terminal(parse_config(config_data(tmp_path)), mock_pins=True)
    opened.append(terminal)
    assert isinstance(terminal.panel.buttons["satisfied"].pin_factory, MockFactory)
    assert terminal.panel.buttons["satisfied"].pin_factory is not factory
    assert terminal.hardware_note.startswith("mock pins driven by keys")
    assert terminal.keyboard.tap("1")
    assert rows_on_disk(tmp_path / "kiosk.db")[0]["rating"] == "very_satisfied"


# -- no GPIO on this machine ---------------------------------------------
@pytest.fixture
def no_gpio(monkeypatch):
    """gpiozero's default factory, told to use one that does not exist.

    On this CI machine the plain default already fails (no lgpio, RPi.GPIO,
    pigpio, and no Pi revision for the native factory), but on a Pi it would
    work; naming an unknown factory fails the same honest way everywhere.
    """
    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")


@pytest.fixture
def lgpio_not_installed(monkeypatch):
    """GPIOZERO_PIN_FACTORY=lgpio on a machine without the lgpio module (no [pi] extra)."""
    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "lgpio")
    monkeypatch.setitem(sys.modules, "lgpio", None)  # import lgpio → ImportError
    monkeypatch.delitem(sys.modules, "gpiozero.pins.lgpio", raising=False)


@pytest.mark.parametrize("machine", ["no_gpio", "lgpio_not_installed"])
def test_panel_without_gpio_raises_no_gpio_error(request, machine):
    request.getfixturevalue(machine)
    with pytest.raises(NoGpioError, match="no GPIO"):
        ButtonPanel(rating_pins=RATING_PINS)
    assert Device.pin_factory is None


def test_no_gpio_error_is_a_hardware_error_and_a_runtime_error():
    assert issubclass(NoGpioError, HardwareError) and issubclass(NoGpioError, RuntimeError)


def test_pin_in_use_raises_hardware_error_and_frees_the_pins_it_took(factory, opened):
    squatter = Button(22, pin_factory=factory)
    opened.append(squatter)
    with pytest.raises(HardwareError) as caught:
        ButtonPanel(rating_pins=RATING_PINS, pin_factory=factory)
    assert not isinstance(caught.value, NoGpioError)
    # 17 and 27 were set up before 22 failed; the panel gave them back.
    for pin in (17, 27):
        opened.append(Button(pin, pin_factory=factory))


@pytest.mark.parametrize("machine", ["no_gpio", "lgpio_not_installed"])
def test_open_terminal_without_gpio_works_by_touch(request, tmp_path, opened, machine):
    request.getfixturevalue(machine)
    terminal = open_terminal(parse_config(config_data(tmp_path)))
    opened.append(terminal)
    assert (terminal.panel, terminal.keyboard) == (None, None)
    note = terminal.status()["hardware"]
    assert note.startswith("not available (no GPIO") and "touch only" in note
    terminal.flow.press("satisfied", source="touch")
    [row] = rows_on_disk(tmp_path / "kiosk.db")
    assert (row["rating"], row["source"]) == ("satisfied", "touch")


def test_a_button_held_at_start_is_reported_and_stores_nothing():
    from conftest import held_pin_class

    panel = ButtonPanel(rating_pins={"very_satisfied": 17, "satisfied": 27},
                        pin_factory=MockFactory(pin_class=held_pin_class(17)))
    try:
        seen = []
        panel.when_rating = seen.append
        assert panel.held_at_start == {"very_satisfied"}
        assert panel.held_since_start() == ["very_satisfied"]
        panel.buttons["satisfied"].pin.drive_low()  # a press after the start is a rating, not the sign
        assert seen == ["satisfied"] and panel.held_since_start() == ["very_satisfied"]
        panel.buttons["very_satisfied"].pin.drive_high()  # let go
        assert panel.held_since_start() == [] and seen == ["satisfied"]
    finally:
        panel.close()

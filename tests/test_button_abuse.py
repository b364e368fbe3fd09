"""Suite 9 of issue 10, button abuse: the real Kivy app, gpiozero's MockFactory pins, the real flow.

Presses come from real second threads driving the mock pins while the app draws frames on
the main thread. Time goes through the code's seams: the flow's clock and the debouncer's
clock are one virtual clock that the pressing threads advance as they press (and sleep the
same real time), so the outcome does not depend on how loaded the machine is.

The product's rules (README, "repeat_interval_s", ``filtered`` and ``filter_cause``): a press
counts on home outside the repeat interval; a press on the thank-you or reason screen is
stored filtered ``busy``, one inside the repeat interval ``repeat``; edges of one button
closer than ``bounce_s`` are contact bounce, not presses. Every press is stored.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from conftest import KioskDriver, kiosk_config_data
from reliability import SOAK, record, scale

from kiosk.config import parse_config
from kiosk.ratings import RATINGS
from kiosk.terminal import open_terminal

COMMAND = "HAILONG_SOAK=1 .venv/bin/python -m pytest -m reliability tests/test_button_abuse.py"
THANKS_S, REPEAT_S, REASON_S = 3.0, 5.0, 20.0
#: 50 presses in 2 s is 20 ms down, 20 ms up: faster than the default bounce_s (0.05) lets through,
#: so the suite's terminal filters bounce under 15 ms (a worn contact chatters for 1-5 ms).
BOUNCE_S = 0.015
HOLD_REAL_S = scale(1.5, 60.0)  # CI holds 1.5 s of real time (past gpiozero's hold_time) and 60 s of the flow's


class VirtualClock:
    """Seconds, advanced by whoever presses; read by the flow and the debouncer from any thread."""

    def __init__(self):
        self._now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float, *, sleep: bool = True) -> None:
        with self._lock:
            self._now += seconds
        if sleep:
            time.sleep(seconds)


@pytest.fixture
def abused_kiosk(tmp_path):
    clock = VirtualClock()
    config = parse_config(kiosk_config_data(
        tmp_path, feedback={"thanks_s": THANKS_S, "repeat_interval_s": REPEAT_S, "reason_timeout_s": REASON_S},
        pins={"bounce_s": BOUNCE_S}))
    terminal = open_terminal(config, mock_pins=True, clock=clock)
    terminal.panel.debouncer.clock = clock  # the debouncer's clock seam
    try:
        driver = KioskDriver(terminal)
    except BaseException:
        terminal.close()
        raise
    try:
        yield driver, clock
    finally:
        try:
            driver.stop()
        finally:
            terminal.close()


def run_while_drawing(kiosk, *targets) -> float:
    """Run each target on its own thread while the app draws frames; the real seconds it took."""
    errors = []

    def guard(target):
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guard, args=(t,), name=f"presser-{n}") for n, t in enumerate(targets)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        kiosk.frames(1)
    kiosk.frames(2)
    assert errors == []
    return time.monotonic() - started


# -- the scenarios: each returns how many presses it made --------------------------------------------

def mash(kiosk, clock, rng):
    pin = kiosk.terminal.panel.buttons[rng.choice(RATINGS)].pin

    def fifty_in_two_seconds():
        for _ in range(50):
            pin.drive_low()
            clock.advance(0.02)
            pin.drive_high()
            clock.advance(0.02)

    run_while_drawing(kiosk, fifty_in_two_seconds)
    return 50, ["busy"] * 49


def all_three(kiosk, clock, rng):
    start = threading.Barrier(len(RATINGS))

    def press(code):
        pin = kiosk.terminal.panel.buttons[code].pin

        def together():
            start.wait(timeout=10)
            pin.drive_low()
            time.sleep(0.1)
            pin.drive_high()
        return together

    run_while_drawing(kiosk, *[press(code) for code in RATINGS])
    return 3, ["busy"] * 2


def held(kiosk, clock, rng):
    pin = kiosk.terminal.panel.buttons[rng.choice(RATINGS)].pin
    pin.drive_low()
    kiosk.frames(2)
    # Real time passes as the hold lasts; the flow's clock passes a minute in any case.
    steps = 60
    for _ in range(steps):
        clock.advance(60 / steps, sleep=False)
        kiosk.advance(HOLD_REAL_S / steps)
    home_while_held = kiosk.wait_for(lambda: kiosk.screen == "home", timeout=5)
    pin.drive_high()
    kiosk.frames(2)
    assert home_while_held, f"still on {kiosk.screen} after a minute with the button held"
    return 1, []


def chatter(kiosk, clock, rng):
    pin = kiosk.terminal.panel.buttons[rng.choice(RATINGS)].pin
    gaps = [rng.uniform(0.0005, 0.005) for _ in range(rng.randint(3, 15))]

    def bouncing_contact():
        for n, gap in enumerate(gaps):  # closing: low, high, low, …, ending low
            pin.drive_high() if n % 2 else pin.drive_low()
            clock.advance(gap)
        pin.drive_low()
        clock.advance(0.2)  # held down, still
        for n, gap in enumerate(gaps):  # opening: high, low, high, …, ending high
            pin.drive_low() if n % 2 else pin.drive_high()
            clock.advance(gap)
        pin.drive_high()

    run_while_drawing(kiosk, bouncing_contact)
    return 1, []


SCENARIOS = {"mash": mash, "all_three": all_three, "held": held, "chatter": chatter}


def back_home(kiosk, clock) -> bool:
    """Let the reason question and the thank-you run out, and the repeat interval pass."""
    clock.advance(REASON_S + THANKS_S + REPEAT_S, sleep=False)
    return kiosk.wait_for(lambda: kiosk.screen == "home", timeout=5)


@pytest.mark.reliability
@pytest.mark.ui
def test_button_abuse(abused_kiosk):
    kiosk, clock = abused_kiosk
    rng = random.Random(9)
    rounds = scale(2, 5)  # soak: 5 rounds, so five real minutes held
    started = time.monotonic()
    cases = presses = lost = 0
    wrong = []
    stuck = 0
    for _round in range(rounds):
        for name in rng.sample(sorted(SCENARIOS), len(SCENARIOS)):
            before = {row["id"] for row in kiosk.rows()}
            made, causes = SCENARIOS[name](kiosk, clock, rng)
            if not back_home(kiosk, clock):
                stuck += 1
            new = [row for row in kiosk.rows() if row["id"] not in before]
            cases += 1
            presses += made
            lost += max(0, made - len(new))
            counted = [row for row in new if not row["filtered"]]
            got = (len(new), len(counted), sorted(row["filter_cause"] for row in new if row["filtered"]))
            if got != (made, 1, causes) or not all(r["source"] == "button" and r["sealed"] for r in new):
                wrong.append((name, got, [(r["rating"], r["filter_cause"], r["sealed"]) for r in new]))
    record("Button abuse", cases=cases, lost=lost, command=COMMAND, presses=presses, stuck=stuck,
           miscounted=len(wrong), hold_s=HOLD_REAL_S, bounce_s=BOUNCE_S,
           seconds=round(time.monotonic() - started, 1))
    assert wrong == [] and stuck == 0 and lost == 0
    assert not SOAK or HOLD_REAL_S == 60.0

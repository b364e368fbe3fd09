"""The technician's self-test: library on MockFactory, and `kiosk selftest --mock-pins` as a process."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from hardware import ButtonPanel, SelftestResult, run_selftest

RATING_PINS = {"very_satisfied": 17, "satisfied": 27, "dissatisfied": 22}
LED_PINS = {"very_satisfied": 23, "satisfied": 24, "dissatisfied": 25}
LED_S = 0.02


@pytest.fixture
def factory():
    """gpiozero's test shape: a MockFactory passed as pin_factory=, reset in finally."""
    saved = Device.pin_factory
    factory = MockFactory()
    try:
        yield factory
    finally:
        factory.reset()
        leaked = Device.pin_factory is not saved
        Device.pin_factory = saved
        if leaked:
            pytest.fail("the test changed gpiozero's Device.pin_factory")


@pytest.fixture
def panel(factory):
    panel = ButtonPanel(rating_pins=RATING_PINS, skip_pin=20, led_pins=LED_PINS, buzzer_pin=18,
                        pin_factory=factory)
    try:
        yield panel
    finally:
        panel.close()


def presser(panel, *, never=()):
    """An ``on_prompt`` that presses the asked button from another thread, as a person would."""
    threads = []

    def press(name):
        time.sleep(0.02)  # the prompt is said, then the wait starts
        pin = panel.buttons[name].pin
        pin.drive_low()
        time.sleep(0.05)  # held, so the wait sees it even if it starts late
        pin.drive_high()

    def on_prompt(name):
        if name not in never:
            thread = threading.Thread(target=press, args=(name,), name=f"press-{name}")
            thread.start()
            threads.append(thread)

    on_prompt.threads = threads
    return on_prompt


def states(device):
    return [state.state for state in device.pin.states]


def test_all_buttons_pressed_passes(panel):
    on_prompt = presser(panel)
    lines = []
    result = run_selftest(panel, say=lines.append, timeout_s=2, led_s=LED_S, on_prompt=on_prompt)
    for thread in on_prompt.threads:
        thread.join(timeout=5)
    assert result.ok and result.missing == []
    assert result.seen == {name: True for name in [*RATING_PINS, "skip"]}
    assert [line for line in lines if line.startswith("  ")] == [f"  {name}: seen" for name in result.seen]


def test_each_led_is_lit_in_turn_then_the_buzzer(panel):
    leds = list(panel.leds.items())
    snapshots = []  # at each line said: the history of every LED and the buzzer

    def say(line):
        snapshots.append((line, {code: states(led) for code, led in leds}, states(panel.buzzer)))

    result = run_selftest(panel, say=say, timeout_s=2, led_s=LED_S, on_prompt=presser(panel))
    assert result.leds == list(LED_PINS) and result.beeped
    for k, (code, _) in enumerate(leds):
        line, history, buzzer = snapshots[k]
        assert line.startswith(f"LED {code}: on")
        # Before LED k: the earlier ones have been on and off again, the later ones never on.
        assert [history[c] for c, _ in leds] == [[False, True, False]] * k + [[False]] * (len(leds) - k)
        assert buzzer == [False]
    line, history, buzzer = snapshots[len(leds)]
    assert line == "Buzzer: beep"
    assert all(h == [False, True, False] for h in history.values()) and buzzer == [False]
    assert states(panel.buzzer) == [False, True, False]
    for _, led in leds:
        on_for = led.pin.states[2].timestamp  # time since the previous change: how long it was lit
        assert on_for >= LED_S * 0.9


def test_a_button_never_pressed_is_missing(panel):
    lines = []
    result = run_selftest(panel, say=lines.append, timeout_s=0.2, led_s=LED_S,
                          on_prompt=presser(panel, never={"satisfied"}))
    assert not result.ok
    assert result.missing == ["satisfied"]
    assert result.seen == {"very_satisfied": True, "satisfied": False, "dissatisfied": True, "skip": True}
    assert any(line.startswith("  satisfied: NOT SEEN") for line in lines)


def test_labels_name_the_buttons_in_words(panel):
    lines = []
    run_selftest(panel, say=lines.append, timeout_s=0.05, led_s=0, labels={"skip": "the skip button"},
                 on_prompt=presser(panel, never=set(panel.buttons)))
    assert "Press the skip button (GPIO20) within 0.05 s …" in lines


def test_no_buttons_seen_is_not_ok():
    assert not SelftestResult().ok


# -- the CLI, as a real process ------------------------------------------
CLI_CONFIG = """\
[terminal]
id = "selftest-01"

[storage]
path = "{db}"

[pins]
very_satisfied = 17
satisfied = 27
dissatisfied = 22
"""


@pytest.fixture
def cli_config(tmp_path):
    # No LEDs and no buzzer: their steps sleep, and the library test covers them.
    path = tmp_path / "kiosk.toml"
    path.write_text(CLI_CONFIG.format(db=tmp_path / "kiosk.db"), encoding="utf-8")
    return path


REPO = Path(__file__).resolve().parent.parent


def run_kiosk(args, *, stdin, cwd, env_update=None):
    env = {k: v for k, v in os.environ.items() if k not in ("KIOSK_CONFIG", "GPIOZERO_PIN_FACTORY")}
    # This checkout's code, whatever the venv's editable install maps (it lags new packages).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(PYTHONIOENCODING="utf-8", **(env_update or {}))
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True,
                          text=True, encoding="utf-8", cwd=cwd, env=env, timeout=60)


def test_cli_selftest_passes_when_every_key_is_typed(cli_config, tmp_path):
    done = run_kiosk(["selftest", "--config", str(cli_config), "--mock-pins", "--timeout", "2"],
                     stdin="1\n2\n3\n", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Self-test passed: all 3 buttons seen." in done.stdout
    assert "NOT SEEN" not in done.stdout and "Traceback" not in done.stderr


def test_cli_selftest_fails_and_names_the_missing_button(cli_config, tmp_path):
    done = run_kiosk(["selftest", "--config", str(cli_config), "--mock-pins", "--timeout", "2"],
                     stdin="1\n2\n", cwd=tmp_path)
    assert done.returncode == 1
    assert "Self-test FAILED: not seen: dissatisfied." in done.stderr
    assert "the dissatisfied button (Không hài lòng): NOT SEEN" in done.stdout
    assert "the satisfied button (Hài lòng): seen" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("factory_name", ["no-such-factory", "lgpio"])
def test_cli_selftest_without_gpio_says_so_in_one_message(cli_config, tmp_path, factory_name):
    done = run_kiosk(["selftest", "--config", str(cli_config), "--timeout", "1"], stdin="",
                     cwd=tmp_path, env_update={"GPIOZERO_PIN_FACTORY": factory_name})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    if factory_name == "lgpio" and _importable("lgpio"):  # (the dev extra has it): it loads, finds no Pi
        assert "kiosk: cannot set up the pins: unable to locate Pi revision" in done.stderr
    else:
        assert "kiosk: no GPIO on this machine that gpiozero can drive" in done.stderr
    assert "elsewhere try --mock-pins" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def _importable(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_a_wrong_button_is_named_and_the_wait_goes_on(factory):
    """Reason buttons 1 and 6 wired to each other's pins: asked for reason 1, the technician presses the button
    marked 1 and reason 6 answers. The test says so and waits on; pressing the right one still passes."""
    panel = ButtonPanel(rating_pins={"satisfied": 27}, reason_pins=[5, 6, 13, 19, 26, 21], pin_factory=factory)
    threads = []

    def on_prompt(name):
        def press():
            time.sleep(0.02)
            if name == "reason_1":  # the swapped one first, then (past the debounce time) the right one
                for pin in (panel.buttons["reason_6"].pin, panel.buttons["reason_1"].pin):
                    pin.drive_low()
                    time.sleep(0.06)
                    pin.drive_high()
                    time.sleep(0.06)
            else:
                pin = panel.buttons[name].pin
                pin.drive_low()
                time.sleep(0.05)
                pin.drive_high()

        threads.append(threading.Thread(target=press))
        threads[-1].start()

    lines = []
    try:
        result = run_selftest(panel, say=lines.append, timeout_s=2, led_s=0, on_prompt=on_prompt,
                              labels={"reason_1": "reason 1", "reason_6": "reason 6"})
    finally:
        for thread in threads:
            thread.join(timeout=5)
        panel.close()
    assert "  pressed reason 6 while waiting for reason 1: wires swapped?" in lines
    assert result.wrong == [("reason_6", "reason_1")]
    assert result.ok and result.seen["reason_1"]
    assert lines.index("  pressed reason 6 while waiting for reason 1: wires swapped?") < lines.index("  reason 1: seen")


def test_only_a_wrong_button_leaves_the_awaited_one_missing(panel):
    def on_prompt(name):
        if name == "satisfied":  # the dissatisfied button answers instead, and nothing else
            pin = panel.buttons["dissatisfied"].pin
            pin.drive_low()
            pin.drive_high()
        else:
            presser(panel)(name)

    lines = []
    result = run_selftest(panel, say=lines.append, timeout_s=0.3, led_s=0, on_prompt=on_prompt)
    assert result.missing == ["satisfied"] and not result.ok
    assert result.wrong == [("dissatisfied", "satisfied")]
    assert "  pressed dissatisfied while waiting for satisfied: wires swapped?" in lines


def test_the_panels_callbacks_are_given_back(panel):
    mine = [lambda *_: None for _ in range(3)]
    panel.when_rating, panel.when_reason, panel.when_skip = mine
    run_selftest(panel, say=lambda _: None, timeout_s=0.01, led_s=0)
    assert [panel.when_rating, panel.when_reason, panel.when_skip] == mine


def test_cli_selftest_names_a_swapped_button_and_fails_only_if_one_is_never_seen(cli_config, tmp_path):
    done = run_kiosk(["selftest", "--config", str(cli_config), "--mock-pins", "--timeout", "1"],
                     stdin="1\n3\n3\n", cwd=tmp_path)
    assert ("pressed the dissatisfied button (Không hài lòng) while waiting for the satisfied button (Hài lòng): "
            "wires swapped?") in done.stdout
    assert done.returncode == 1 and "Self-test FAILED: not seen: satisfied." in done.stderr
    assert "Traceback" not in done.stderr

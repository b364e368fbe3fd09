"""The Kivy screens, driven headless: real touches, real key events, real mock pins.

Each test starts a fresh terminal (SQLite file under tmp_path, gpiozero mock
pins) and app on the session's one window (see ``KioskDriver`` in conftest).
Screenshots of every screen land in ``tests/output/screens/``.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk.ratings import LANGUAGES, RATING_LABELS, RATINGS, REASON_LABELS, REASONS
from kiosk.service_pin import hash_pin
from kiosk.texts import TEXTS, screen_texts

ui = pytest.mark.ui
PIN = "2468"
PIN_HASH = hash_pin(PIN)
REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / "tests" / "output" / "screens"  # where KioskDriver.screenshot saves


def tap_home(kiosk, rating: str) -> None:
    kiosk.touch(kiosk.widget("home", rating))


def to_reason_screen(kiosk) -> None:
    tap_home(kiosk, "dissatisfied")
    assert kiosk.screen == "reason"
    # Past the guard against a second touch meant for home (event-driven: a frame may be slow under emulation).
    assert kiosk.wait_for(kiosk.app._reason_touch_allowed, timeout=kiosk.app.reason_guard_s + 1)


def enter_pin(kiosk, pin: str) -> None:
    keys = {w.text: w for w in kiosk.widget("service", "keypad").children}
    for digit in pin:
        kiosk.touch(keys[digit])
    kiosk.touch(kiosk.widget("service", "ok"))


def open_service(kiosk, hold: float | None = None) -> None:
    """Hold the top-left corner: for ``hold`` seconds, or (None) until the service screen opens, lifted
    by then at the latest 0.3 s (× the tests' slowdown) after the hold time, as a technician would."""
    if hold is not None:
        kiosk.touch_at(5, kiosk.app.root.height - 5, hold=hold)
        return
    kiosk.hold_at(5, kiosk.app.root.height - 5, until=lambda: kiosk.screen == "service",
                  timeout=kiosk.app.service_hold_s + 0.3)


# -- touch ------------------------------------------------------------------------

@ui
@pytest.mark.parametrize("rating", ["very_satisfied", "satisfied"])
def test_touching_a_rating_stores_it_and_thanks(start_kiosk, rating):
    kiosk = start_kiosk()
    tap_home(kiosk, rating)
    assert kiosk.screen == "thanks"
    assert not hasattr(kiosk.app, "thanks_rating")  # the thank-you does not show the choice (issue 12)
    [row] = kiosk.rows()
    assert (row["rating"], row["source"], row["filtered"], row["sealed"], row["reason_outcome"]) == (
        rating, "touch", 0, 1, None)


@ui
def test_touching_dissatisfied_asks_why_and_keeps_the_row_open(start_kiosk):
    kiosk = start_kiosk()
    tap_home(kiosk, "dissatisfied")
    assert kiosk.screen == "reason"
    [row] = kiosk.rows()
    assert (row["rating"], row["source"], row["filtered"], row["sealed"]) == ("dissatisfied", "touch", 0, 0)
    labels = [w.text for w in reversed(kiosk.widget("reason", "reasons").children)]
    assert labels == [REASON_LABELS["vi"][code] for code in REASONS]


@ui
def test_touching_a_reason_seals_it_as_given(start_kiosk):
    kiosk = start_kiosk()
    to_reason_screen(kiosk)
    button = next(w for w in kiosk.widget("reason", "reasons").children if w.code == "staff_attitude")
    kiosk.touch(button)
    assert kiosk.screen == "thanks"
    [row] = kiosk.rows()
    assert (row["reason"], row["reason_outcome"], row["sealed"]) == ("staff_attitude", "given", 1)


@ui
def test_skip_seals_as_skipped(start_kiosk):
    kiosk = start_kiosk()
    to_reason_screen(kiosk)
    kiosk.touch(kiosk.widget("reason", "skip"))
    assert kiosk.screen == "thanks"
    [row] = kiosk.rows()
    assert (row["reason"], row["reason_outcome"], row["sealed"]) == (None, "skipped", 1)


@ui
def test_second_tap_of_a_double_tap_is_not_taken_as_a_reason(start_kiosk):
    kiosk = start_kiosk()
    tap_home(kiosk, "dissatisfied")
    kiosk.touch(kiosk.widget("reason", "skip"))  # at once: inside the guard time
    assert kiosk.screen == "reason"
    assert kiosk.rows()[0]["sealed"] == 0


@ui
def test_reason_screen_times_out_home(start_kiosk):
    kiosk = start_kiosk(feedback={"reason_timeout_s": 1})
    tap_home(kiosk, "dissatisfied")
    assert "giây" in kiosk.widget("reason", "countdown").text
    assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=3)
    [row] = kiosk.rows()
    assert (row["reason"], row["reason_outcome"], row["sealed"]) == (None, "timeout", 1)


@ui
def test_thanks_returns_home_in_the_configured_language(start_kiosk):
    kiosk = start_kiosk(feedback={"thanks_s": 0.5})
    kiosk.touch(kiosk.widget("home", "language"))
    assert kiosk.app.language == "en"
    tap_home(kiosk, "satisfied")
    assert kiosk.widget("thanks", "thanks").text == "Thank you!"
    assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=2)
    assert kiosk.app.language == "vi"
    assert kiosk.widget("home", "question").text == TEXTS["vi"]["question"]


@ui
def test_same_touch_delivered_twice_stores_one_press(start_kiosk):
    # Some touchscreens deliver a touch both as a touch and as a mouse click.
    from kivy.tests.common import UnitTestTouch

    kiosk = start_kiosk()
    tile = kiosk.widget("home", "satisfied")
    touches = [UnitTestTouch(*tile.to_window(*tile.center)) for _ in range(2)]
    for touch in touches:
        touch.touch_down()
    for touch in touches:
        touch.touch_up()
    kiosk.frames(2)
    assert kiosk.screen == "thanks"
    assert len(kiosk.rows()) == 1


# -- buttons (mock pins) ------------------------------------------------------------

@ui
@pytest.mark.parametrize(("key", "rating", "screen"), [
    ("1", "very_satisfied", "thanks"), ("2", "satisfied", "thanks"), ("3", "dissatisfied", "reason"),
])
def test_mock_pin_press_through_the_keyboard_bridge(start_kiosk, key, rating, screen):
    kiosk = start_kiosk()
    kiosk.terminal.keyboard.tap(key)
    kiosk.frames(2)
    assert kiosk.screen == screen
    [row] = kiosk.rows()
    assert (row["rating"], row["source"], row["filtered"]) == (rating, "button", 0)


@ui
def test_window_key_drives_the_mock_pins(start_kiosk):
    kiosk = start_kiosk()
    kiosk.key("2")
    assert kiosk.screen == "thanks"
    [row] = kiosk.rows()
    assert (row["rating"], row["source"], row["sealed"]) == ("satisfied", "button", 1)


@ui
def test_reason_and_skip_keys_drive_their_pins(start_kiosk):
    pins = {"pins": {"reasons": [5, 6, 13, 19, 26, 21], "skip": 20}}
    kiosk = start_kiosk(**pins)
    kiosk.key("3")
    assert kiosk.screen == "reason"
    kiosk.key("5")  # reason button 2
    assert kiosk.screen == "thanks"
    assert kiosk.rows()[0]["reason"] == REASONS[1]


@ui
def test_button_pressed_on_another_thread_switches_the_screen_on_kivys(start_kiosk):
    kiosk = start_kiosk()
    switched_on = []
    kiosk.app.root.bind(current=lambda *_: switched_on.append(threading.current_thread()))
    presser = threading.Thread(target=kiosk.terminal.keyboard.tap, args=("1",))
    presser.start()
    presser.join()
    assert kiosk.wait_for(lambda: kiosk.screen == "thanks", timeout=2)
    assert switched_on == [threading.main_thread()]
    assert kiosk.rows()[0]["source"] == "button"


@ui
def test_mashing_during_thanks_counts_once(start_kiosk):
    kiosk = start_kiosk(feedback={"thanks_s": 3, "repeat_interval_s": 5})
    kiosk.terminal.keyboard.tap("1")
    kiosk.frames(1)
    for key in "123" * 5:  # a child's mashing: slower than contact bounce (50 ms)
        kiosk.advance(0.06)
        kiosk.terminal.keyboard.tap(key)
    for _ in range(5):  # touches land on the thank-you, which has no targets
        kiosk.touch_at(400, 240)
    assert kiosk.screen == "thanks"
    rows = kiosk.rows()
    assert len(rows) == 16
    assert [r["filtered"] for r in rows] == [0] + [1] * 15
    assert rows[0]["rating"] == "very_satisfied"


@ui
def test_filtered_press_at_home_leaves_the_screen_home(start_kiosk):
    kiosk = start_kiosk(feedback={"thanks_s": 0.5, "repeat_interval_s": 30})
    tap_home(kiosk, "satisfied")
    assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=2)
    tap_home(kiosk, "very_satisfied")
    kiosk.frames(3)
    assert kiosk.screen == "home"
    assert [r["filtered"] for r in kiosk.rows()] == [0, 1]


# -- the kiosk itself --------------------------------------------------------------------

@ui
def test_escape_does_not_stop_the_app(start_kiosk):
    from kivy.core.window import Window

    kiosk = start_kiosk()
    Window.dispatch("on_key_down", 27, 41, None, [])
    Window.dispatch("on_keyboard", 27, 41, None, [])
    assert Window.dispatch("on_request_close", source="keyboard")
    kiosk.frames(3)
    assert kiosk.running
    assert kiosk.app.root in Window.children
    tap_home(kiosk, "very_satisfied")
    assert kiosk.screen == "thanks"


@ui
def test_kiosk_mode_hides_the_cursor_and_stops_on_sigterm(start_kiosk):
    from kivy.core.window import Window

    kiosk = start_kiosk(windowed=False, display={"kiosk": True})
    try:
        assert kiosk.app.kiosk_mode
        assert Window.show_cursor is False
        assert Window.allow_screensaver is False
        assert Window.dispatch("on_request_close", source="keyboard")  # refused
        # SDL turns SIGTERM (systemctl stop) into a plain quit request: allowed.
        assert not Window.dispatch("on_request_close")
    finally:
        Window.show_cursor = True
        Window.allow_screensaver = True


@ui
def test_errors_in_the_screens_are_logged_not_raised(start_kiosk, caplog):
    from kivy.base import ExceptionManager

    kiosk = start_kiosk()
    assert kiosk.app._exception_handler in ExceptionManager.handlers
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        assert ExceptionManager.handle_exception(exc) == ExceptionManager.PASS
    assert "keeps running" in caplog.text


@ui
def test_language_toggle_switches_every_label_live(start_kiosk):
    kiosk = start_kiosk()
    toggle = kiosk.widget("home", "language")
    assert kiosk.widget("home", "question").text == TEXTS["vi"]["question"]
    kiosk.touch(toggle)
    assert kiosk.widget("home", "question").text == TEXTS["en"]["question"]
    assert toggle.text == "Tiếng Việt"
    tile_labels = {kiosk.widget("home", r).children[0].text for r in RATINGS}
    assert tile_labels == set(RATING_LABELS["en"].values())
    kiosk.touch(toggle)
    assert kiosk.widget("home", "question").text == TEXTS["vi"]["question"]
    assert kiosk.rows() == []


@ui
def test_kiosk_run_stops_cleanly_on_sigterm(tmp_path):
    # The real command, in kiosk mode, in its own process: SDL catches SIGTERM
    # and the app must turn it into a clean stop (exit 0, store closed).
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "kiosk.db"}"\n[display]\nkiosk = true\n', encoding="utf-8")
    env = {**os.environ, "KIVY_HOME": str(tmp_path / "kivy")}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config), "--mock-pins"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        for line in proc.stderr:
            lines.append(line)
            if "first frame drawn" in line or time.monotonic() > deadline:
                break
        assert any("first frame drawn" in line for line in lines), "".join(lines[-20:])
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest[-2000:]
    assert "stopped" in rest


# -- service screen ------------------------------------------------------------------------

@ui
def test_service_screen_needs_the_pin_and_shows_the_status(start_kiosk):
    kiosk = start_kiosk(service={"pin_hash": PIN_HASH})
    open_service(kiosk)  # the real 3 s hold
    assert kiosk.screen == "service"
    enter_pin(kiosk, "1111")
    service = kiosk.app.root.get_screen("service")
    assert not service.unlocked
    assert service.entered == ""
    assert kiosk.widget("service", "message").text == TEXTS["vi"]["pin_wrong"]
    enter_pin(kiosk, PIN)
    assert service.unlocked
    assert "test-ui-01" in kiosk.widget("service", "status").text
    kiosk.touch(kiosk.widget("service", "back"))
    assert kiosk.screen == "home"
    assert kiosk.terminal.flow.screen == "home"
    tap_home(kiosk, "satisfied")
    assert kiosk.screen == "thanks"


@ui
def test_short_hold_does_not_open_the_service_screen(start_kiosk):
    kiosk = start_kiosk(service={"pin_hash": PIN_HASH})
    kiosk.app.service_hold_s = 0.6
    open_service(kiosk, hold=0.2)
    assert kiosk.screen == "home"


@ui
def test_service_screen_is_off_without_a_pin_hash(start_kiosk):
    kiosk = start_kiosk()
    kiosk.app.service_hold_s = 0.3
    open_service(kiosk)
    assert kiosk.screen == "home"


@ui
def test_three_wrong_pins_go_back_home(start_kiosk):
    kiosk = start_kiosk(service={"pin_hash": PIN_HASH})
    kiosk.app.service_hold_s = 0.3
    open_service(kiosk)
    for _ in range(3):
        enter_pin(kiosk, "0000")
    assert kiosk.screen == "home"


@ui
def test_leave_kiosk_mode_stops_the_app(start_kiosk):
    kiosk = start_kiosk(service={"pin_hash": PIN_HASH})
    kiosk.app.service_hold_s = 0.3
    open_service(kiosk)
    enter_pin(kiosk, PIN)
    kiosk.touch(kiosk.widget("service", "leave"))
    assert not kiosk.running


@ui
def test_presses_while_servicing_are_stored_but_keep_the_service_screen(start_kiosk):
    kiosk = start_kiosk(service={"pin_hash": PIN_HASH})
    kiosk.app.service_hold_s = 0.3
    open_service(kiosk)
    kiosk.terminal.keyboard.tap("1")
    kiosk.frames(3)
    assert kiosk.screen == "service"
    [row] = kiosk.rows()
    assert (row["filtered"], row["filter_cause"]) == (1, "service")


# -- screenshots ---------------------------------------------------------------------------

def assert_not_blank(path: Path) -> None:
    from PIL import Image, ImageStat

    image = Image.open(path).convert("RGB")
    assert image.size[0] > 100 and image.size[1] > 100
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50, f"{path} has {len(colours)} colours"
    assert max(ImageStat.Stat(image).stddev) > 20, f"{path} looks blank"


@ui
@pytest.mark.parametrize("size", [None, (1920, 1080), (1024, 768)], ids=["800x480", "1920x1080", "1024x768"])
def test_screenshots_of_every_screen(start_kiosk, size):
    kiosk = start_kiosk(service={"pin_hash": PIN_HASH}, feedback={"reason_timeout_s": 30})
    kiosk.app.service_hold_s = 0.3
    suffix = "x".join(map(str, size or (800, 480)))
    shots = [kiosk.screenshot(f"home-{suffix}", size)]
    kiosk.touch(kiosk.widget("home", "language"))
    shots.append(kiosk.screenshot(f"home-en-{suffix}", size))
    kiosk.touch(kiosk.widget("home", "language"))
    to_reason_screen(kiosk)
    shots.append(kiosk.screenshot(f"reason-{suffix}", size))
    kiosk.touch(kiosk.widget("reason", "skip"))
    assert kiosk.screen == "thanks"
    shots.append(kiosk.screenshot(f"thanks-{suffix}", size))
    kiosk.terminal.flow.reset()
    assert kiosk.wait_for(lambda: kiosk.screen == "home")
    open_service(kiosk)
    keys = {w.text: w for w in kiosk.widget("service", "keypad").children}
    for digit in "24":
        kiosk.touch(keys[digit])
    shots.append(kiosk.screenshot(f"service-pin-{suffix}", size))
    kiosk.touch(kiosk.widget("service", "clear"))
    enter_pin(kiosk, PIN)
    shots.append(kiosk.screenshot(f"service-status-{suffix}", size))
    kiosk.touch(kiosk.widget("service", "voice_test"))
    shots.append(kiosk.screenshot(f"service-voice-{suffix}", size))
    for shot in shots:
        assert shot.parent == SCREENSHOTS
        assert_not_blank(shot)


# -- texts and layering (no window needed) ---------------------------------------------------

def test_every_text_exists_in_every_language():
    keys = {language: set(TEXTS[language]) for language in LANGUAGES}
    assert keys["vi"] == keys["en"]
    for language in LANGUAGES:
        texts = screen_texts(language)
        assert set(RATINGS) | set(REASONS) <= set(texts)
        assert all(value.strip() for value in texts.values())


def test_kiosk_mode_settings_precede_the_window():
    from kiosk.config import parse_config
    from kiosk.ui.launch import kivy_settings

    kiosk = dict(((s, o), v) for s, o, v in kivy_settings(parse_config({}), windowed=False))
    windowed = dict(((s, o), v) for s, o, v in kivy_settings(parse_config({}), windowed=True))
    assert kiosk[("graphics", "fullscreen")] == "auto" and kiosk[("graphics", "show_cursor")] == "0"
    assert windowed[("graphics", "fullscreen")] == "0" and windowed[("graphics", "show_cursor")] == "1"
    assert kiosk[("kivy", "exit_on_escape")] == windowed[("kivy", "exit_on_escape")] == "0"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_only_kiosk_ui_imports_kivy_and_it_reads_no_environment():
    for path in (REPO / "kiosk").rglob("*.py"):
        inside_ui = "ui" in path.relative_to(REPO / "kiosk").parts[:-1]
        if not inside_ui:
            assert "kivy" not in _imports(path), f"{path} imports kivy"
        else:
            assert "gpiozero" not in _imports(path), f"{path} imports gpiozero"
            assert "os.environ" not in path.read_text(encoding="utf-8"), f"{path} reads os.environ"

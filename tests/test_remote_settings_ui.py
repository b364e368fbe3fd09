"""Remote settings on the screens (issue 13), driven headless: a set handed over by the uploader is applied at
the next quiet moment on the home screen, never while a citizen is rating; keys that rebuild the screens restart
them with the set already noted as applied, and a terminal started again runs it from its first frame."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from kiosk.config import parse_config
from kiosk.terminal import open_terminal
from kiosk.texts import TEXTS
from conftest import kiosk_config_data
from server_fixtures import LiveServer
from settings_server import SettingsServer, settings_version
from sync import settings_state

ui = pytest.mark.ui
NEW_QUESTION = "Anh/chị có hài lòng với việc giải quyết hồ sơ không?"
NEW_THANKS = "Xin cảm ơn anh/chị!"


def offer(kiosk, values: dict) -> str:
    """Hand ``values`` to the screens as the uploader does after checking them."""
    version = settings_version(values)
    kiosk.terminal.settings_offer.put(version, values, kiosk.terminal.check_settings(values))
    return version


def applied(kiosk) -> str | None:
    record = settings_state.applied_settings(kiosk.terminal.store.db)
    return record.version if record else None


@ui
def test_a_rating_in_progress_finishes_with_the_old_set_then_home_takes_the_new(start_kiosk):
    kiosk = start_kiosk(feedback={"thanks_s": 0.6, "repeat_interval_s": 0})
    kiosk.app.settings_settle_s = 0.3
    kiosk.touch(kiosk.widget("home", "dissatisfied"))
    assert kiosk.screen == "reason"
    version = offer(kiosk, {"texts.question_vi": NEW_QUESTION, "texts.thanks_vi": NEW_THANKS,
                            "feedback.thanks_s": 4})
    kiosk.advance(0.8)
    assert kiosk.screen == "reason" and applied(kiosk) is None  # not while the citizen answers
    kiosk.touch(kiosk.widget("reason", "skip"))
    assert kiosk.screen == "thanks"
    assert kiosk.widget("thanks", "thanks").text == TEXTS["vi"]["thanks"]  # the old thank-you
    started = time.monotonic()
    assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=3)
    assert time.monotonic() - started < 3.0  # and for the old thanks_s (0.6 s; the new one is 4 s)
    assert applied(kiosk) is None or kiosk.widget("home", "question").text == NEW_QUESTION
    assert kiosk.wait_for(lambda: kiosk.widget("home", "question").text == NEW_QUESTION, timeout=3)
    assert applied(kiosk) == version
    assert kiosk.app.exit_action is None  # taken in place, no restart
    # The next citizen gets the new thank-you, for the new time.
    kiosk.touch(kiosk.widget("home", "very_satisfied"))
    assert kiosk.screen == "thanks" and kiosk.widget("thanks", "thanks").text == NEW_THANKS
    kiosk.advance(1.5)
    assert kiosk.screen == "thanks"
    rows = kiosk.rows()
    assert [r["reason_outcome"] for r in rows] == ["skipped", None] and all(r["sealed"] for r in rows)


@ui
def test_nothing_is_applied_while_the_service_screen_is_up(start_kiosk):
    from kiosk.service_pin import hash_pin

    kiosk = start_kiosk(service={"pin_hash": hash_pin("2468")})
    kiosk.app.settings_settle_s = 0.2
    kiosk.app.service_hold_s = 0.3
    kiosk.touch_at(5, kiosk.app.root.height - 5, hold=0.6)
    assert kiosk.screen == "service"
    offer(kiosk, {"texts.question_vi": NEW_QUESTION})
    kiosk.advance(0.8)
    assert applied(kiosk) is None
    kiosk.app.close_service()
    assert kiosk.wait_for(lambda: applied(kiosk) is not None, timeout=3)
    assert kiosk.widget("home", "question").text == NEW_QUESTION


@ui
def test_reasons_and_language_are_taken_in_place(start_kiosk):
    kiosk = start_kiosk()
    kiosk.app.settings_settle_s = 0.2
    offer(kiosk, {"feedback.reasons": ["staff_attitude", "facilities"], "terminal.language": "en",
                  "texts.question_en": "How did we do?"})
    assert kiosk.wait_for(lambda: kiosk.app.language == "en", timeout=3)
    assert kiosk.widget("home", "question").text == "How did we do?"
    kiosk.touch(kiosk.widget("home", "dissatisfied"))
    codes = [w.code for w in reversed(kiosk.widget("reason", "reasons").children)]
    assert codes == ["staff_attitude", "facilities"]
    assert kiosk.app.exit_action is None


@ui
def test_outside_opening_hours_home_says_so_and_presses_still_count(start_kiosk):
    today = datetime.now().astimezone().weekday()
    other = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[(today + 1) % 7]
    kiosk = start_kiosk(hours={"opening": f"{other} 07:30-11:30"})  # never open today
    assert kiosk.widget("home", "hours").text.startswith("Ngoài giờ làm việc · ")
    kiosk.screenshot("home_outside_hours")
    assert "07:30–11:30" in kiosk.widget("home", "hours").text
    kiosk.touch(kiosk.widget("home", "satisfied"))
    assert kiosk.screen == "thanks"
    [row] = kiosk.rows()
    assert row["filtered"] == 0
    # Remotely back to "always open": the line goes.
    kiosk.app.settings_settle_s = 0.1
    kiosk.app.root.current = "home"
    kiosk.terminal.flow.reset()
    offer(kiosk, {"hours.opening": ""})
    assert kiosk.wait_for(lambda: kiosk.widget("home", "hours").text == "", timeout=3)


@ui
def test_a_key_that_rebuilds_the_screens_restarts_them_and_the_restart_runs_the_set(start_kiosk, tmp_path):
    kiosk = start_kiosk()
    kiosk.app.settings_settle_s = 0.2
    version = offer(kiosk, {"display.high_contrast": True, "texts.thanks_vi": NEW_THANKS})
    assert kiosk.wait_for(lambda: kiosk.app.exit_action == "restart", timeout=3)
    assert applied(kiosk) == version
    kiosk.frames(3)
    assert not kiosk.running
    # What `kiosk run` does after the restart: the same local file, and the set from the first frame.
    again = open_terminal(parse_config(kiosk_config_data(tmp_path)), mock_pins=True)
    try:
        assert again.config.display.high_contrast is True
        assert again.config.texts.thanks_vi == NEW_THANKS
        assert again.local_config.display.high_contrast is False
    finally:
        again.close()


@ui
def test_end_to_end_a_setting_on_the_server_reaches_the_screen_and_is_reported(start_kiosk, tmp_path):
    token = "ui-settings-token"
    server = SettingsServer(token=token)
    live = LiveServer(server.app)
    try:
        version = server.set_values({"texts.question_vi": NEW_QUESTION})
        (tmp_path / "device.token").write_text(token)
        kiosk = start_kiosk(sync=True, server={"url": live.url, "token_file": str(tmp_path / "device.token")})
        kiosk.app.settings_settle_s = 0.2
        assert kiosk.wait_for(lambda: kiosk.widget("home", "question").text == NEW_QUESTION, timeout=10)
        # The heartbeat after the apply reports the version (the screens ask the uploader to send now).
        assert kiosk.wait_for(lambda: (server.last_health() or {}).get("settings_version") == version, timeout=10)
        assert server.fetches == [None]
    finally:
        live.stop()

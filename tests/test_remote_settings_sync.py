"""Remote settings, the uploader's side (issue 13): a receipt wants a version, the terminal fetches it once
(If-None-Match), checks it against its local file, and hands it to the screens or refuses it; the heartbeat
reports the version applied and why one was refused. Against a real uvicorn server on a loopback port."""

from __future__ import annotations

import pytest

from kiosk.config import parse_config
from kiosk.terminal import open_terminal
from server_fixtures import LiveServer
from settings_server import SettingsServer, settings_version

TOKEN = "device-token-for-settings"


@pytest.fixture
def server():
    server = SettingsServer(token=TOKEN)
    live = LiveServer(server.app)
    server.url = live.url
    yield server
    live.stop()


@pytest.fixture
def terminal_for(tmp_path, server):
    """``terminal_for(**sections)``: a provisioned terminal (its uploader not started) on the test server."""
    opened = []

    def make(**sections):
        (tmp_path / "device.token").write_text(TOKEN)
        data = {"terminal": {"id": "t-settings-01"}, "storage": {"path": str(tmp_path / "kiosk.db")},
                "server": {"url": server.url, "token_file": str(tmp_path / "device.token")}}
        for name, values in sections.items():
            data[name] = {**data.get(name, {}), **values}
        terminal = open_terminal(parse_config(data), mock_pins=True, sync=True)
        opened.append(terminal)
        return terminal

    yield make
    for terminal in opened:
        terminal.close()


def apply_offer(terminal):
    """What the screens do at a quiet moment: note the set handed over as applied."""
    offer = terminal.settings_offer.peek()
    terminal.store.note_settings_applied(offer.version, offer.values)
    terminal.settings_offer.take(offer)
    return offer


def test_a_wanted_version_is_fetched_once_checked_and_handed_over(server, terminal_for):
    terminal = terminal_for()
    uploader = terminal.uploader
    assert uploader.send_batch().ok
    assert server.fetches == [] and terminal.settings_offer.peek() is None  # nothing set on the server
    version = server.set_values({"feedback.thanks_s": 5, "texts.question_vi": "Anh/chị hài lòng không?"})
    assert uploader.send_batch().ok
    offer = terminal.settings_offer.peek()
    assert offer.version == version and offer.config.feedback.thanks_s == 5.0
    assert offer.config.texts.custom("vi") == {"question": "Anh/chị hài lòng không?"}
    assert server.fetches == [None]
    # Handed over, not applied yet: not fetched again, and the heartbeat says nothing applied.
    assert uploader.send_batch().ok
    assert server.fetches == [None]
    assert "settings_version" not in server.last_health()
    apply_offer(terminal)
    assert uploader.send_batch().ok
    assert server.last_health()["settings_version"] == version
    assert "settings_error" not in server.last_health()
    assert server.fetches == [None]


def test_if_none_match_carries_the_version_applied_and_304_changes_nothing(server, terminal_for):
    terminal = terminal_for()
    version = server.set_values({"feedback.thanks_s": 4})
    terminal.uploader.send_batch()
    apply_offer(terminal)
    assert terminal.uploader.fetch_settings() == "unchanged"  # the server answers 304
    assert server.fetches == [None, f'"{version}"']
    assert terminal.settings_offer.peek() is None
    assert terminal.uploader.state.settings_fetch_error is None


def test_a_set_that_does_not_fit_is_refused_keeps_the_last_good_and_is_reported(server, terminal_for):
    terminal = terminal_for(pins={"reasons": [5, 6, 13]})
    uploader = terminal.uploader
    good = server.set_values({"feedback.thanks_s": 4})
    uploader.send_batch()
    apply_offer(terminal)
    # Fine on the server (each value is good), but this terminal has three reason buttons wired.
    bad = server.set_values({"feedback.thanks_s": 4, "feedback.reasons": ["staff_attitude"]})
    assert uploader.send_batch().ok
    assert terminal.settings_offer.peek() is None
    assert uploader.send_batch().ok
    health = server.last_health()
    assert health["settings_version"] == good
    assert health["settings_error"].startswith(f"{bad}: [pins] reasons: 3 reason buttons but only 1 reasons")
    # Refused once: the same version is not fetched again at every batch.
    assert len(server.fetches) == 2
    uploader.send_batch()
    assert len(server.fetches) == 2
    # A later good set clears the error once applied.
    fixed = server.set_values({"feedback.thanks_s": 4, "feedback.reasons": ["staff_attitude", "facilities",
                                                                           "processing_time"]})
    uploader.send_batch()
    assert apply_offer(terminal).version == fixed
    uploader.send_batch()
    assert server.last_health()["settings_version"] == fixed and "settings_error" not in server.last_health()


@pytest.mark.parametrize("status", [500, 404])
def test_a_failing_settings_endpoint_is_a_state_and_uploads_go_on(server, terminal_for, status):
    terminal = terminal_for()
    uploader = terminal.uploader
    server.set_values({"feedback.thanks_s": 4})
    server.settings_status = status
    terminal.store.record_press("satisfied", source="button")
    attempt = uploader.send_batch()
    assert attempt.ok and attempt.sent == 1
    assert uploader.state.settings_fetch_error and str(status) in uploader.state.settings_fetch_error
    assert terminal.settings_offer.peek() is None
    # Tried again after the next batch, and then it works.
    server.settings_status = None
    uploader.send_batch()
    assert terminal.settings_offer.peek() is not None and uploader.state.settings_fetch_error is None


def test_an_unreachable_settings_endpoint_never_escapes(server, terminal_for):
    terminal = terminal_for()
    uploader = terminal.uploader
    server.set_values({"feedback.thanks_s": 4})
    uploader.settings_url = "http://127.0.0.1:9/api/v1/terminal/settings"  # nothing listens there
    assert uploader.send_batch().ok
    assert uploader.state.settings_fetch_error
    assert terminal.settings_offer.peek() is None


def test_a_terminal_offline_for_a_month_applies_the_latest_set_once(server, terminal_for):
    terminal = terminal_for()
    uploader = terminal.uploader
    first = server.set_values({"feedback.thanks_s": 4})
    uploader.send_batch()
    apply_offer(terminal)
    server.down = True  # the terminal cannot reach the server ...
    for day in range(30):  # ... while the province changes the settings every day
        server.set_values({"feedback.thanks_s": 4, "texts.thanks_vi": f"Cảm ơn (ngày {day + 1})"})
        terminal.store.record_press("satisfied", source="button")
        assert not uploader.send_batch().ok
    latest = server.version
    server.down = False
    assert uploader.drain()["pending"] == 0
    assert server.fetches == [None, f'"{first}"']  # one fetch for the whole month: only the latest version
    assert apply_offer(terminal).version == latest
    assert terminal.settings_offer.peek() is None
    uploader.send_batch()
    assert server.last_health()["settings_version"] == latest
    assert len(server.fetches) == 2


def test_the_empty_set_propagates_back_to_the_local_file(server, terminal_for):
    terminal = terminal_for(feedback={"thanks_s": 2})
    uploader = terminal.uploader
    server.set_values({"feedback.thanks_s": 6})
    uploader.send_batch()
    apply_offer(terminal)
    empty = server.set_values({})
    assert empty == settings_version({})
    uploader.send_batch()
    offer = terminal.settings_offer.peek()
    assert offer.version == empty and offer.config.feedback.thanks_s == 2.0


def test_kiosk_sync_once_leaves_the_settings_alone(server, tmp_path, terminal_for):
    from kiosk.terminal import open_uploader

    terminal = terminal_for()
    server.set_values({"feedback.thanks_s": 4})
    uploader, _ = open_uploader(terminal.config, terminal.store.clock.stamp)
    try:
        uploader.drain()
    finally:
        uploader.local.close()
    assert server.fetches == []


def test_a_refused_set_is_checked_again_once_after_a_start_and_taken_when_the_file_was_fixed(server, terminal_for,
                                                                                             tmp_path):
    terminal = terminal_for(pins={"reasons": [5, 6, 13]})
    bad = server.set_values({"feedback.reasons": ["staff_attitude"]})
    terminal.uploader.send_batch()
    terminal.uploader.send_batch()
    assert len(server.fetches) == 1 and terminal.settings_offer.peek() is None
    # The technician rewires one reason button and restarts the terminal: the same version now fits.
    fixed = terminal_for(pins={"reasons": [5]})
    fixed.uploader.send_batch()
    assert len(server.fetches) == 2
    assert fixed.settings_offer.peek().version == bad
    # Still refused on a terminal that was not fixed: checked once per start, not at every batch.
    again = terminal_for(pins={"reasons": [5, 6, 13]})
    again.uploader.send_batch()
    again.uploader.send_batch()
    assert len(server.fetches) == 3 and again.settings_offer.peek() is None


def test_a_set_the_check_stumbles_on_is_refused_not_raised(server, terminal_for):
    terminal = terminal_for()
    uploader = terminal.uploader

    def stumble(values):
        raise RuntimeError("a bug in a check")

    uploader.check_settings = stumble
    bad = server.set_values({"feedback.thanks_s": 4})
    assert uploader.send_batch().ok
    uploader.send_batch()
    assert server.last_health()["settings_error"] == f"{bad}: the set cannot be checked (RuntimeError: a bug in a check)"

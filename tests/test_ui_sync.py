"""The terminal's screens while uploading: the sync indicator (frame times: bench/ui_sync.py)."""

import pytest

from server_fixtures import *  # noqa: F401,F403 - server_db_url, start_server, server

pytestmark = pytest.mark.ui


def tap_home(kiosk, rating: str) -> None:
    kiosk.touch(kiosk.widget("home", rating))


@pytest.fixture
def provisioned(server, tmp_path):
    enrolled = server.enroll()
    token_file = tmp_path / "device.token"
    token_file.write_text(enrolled.token)
    return {"terminal": {"id": enrolled.id},
            "server": {"url": server.url, "token_file": str(token_file), "pause_s": 0}}


def test_indicator_is_off_when_not_provisioned(start_kiosk):
    kiosk = start_kiosk(sync=True)
    assert kiosk.terminal.uploader is None and kiosk.app.sync_state == "off"


def test_a_touch_reaches_the_server_and_the_indicator_says_ok(start_kiosk, server, provisioned):
    kiosk = start_kiosk(sync=True, **provisioned)
    tap_home(kiosk, "satisfied")
    assert kiosk.wait_for(lambda: server.count() == 1, timeout=15)
    assert kiosk.wait_for(lambda: kiosk.app.sync_state == "ok", timeout=5)
    [row] = server.rows("ratings")
    assert (row["rating"], row["source"], row["terminal_id"]) == ("satisfied", "touch",
                                                                  provisioned["terminal"]["id"])


def test_a_revoked_terminal_shows_refused_and_keeps_recording(start_kiosk, server, provisioned):
    server.revoke(provisioned["terminal"]["id"])
    kiosk = start_kiosk(sync=True, **provisioned)
    tap_home(kiosk, "very_satisfied")
    assert kiosk.wait_for(lambda: kiosk.app.sync_state == "refused", timeout=15)
    assert len(kiosk.rows()) == 1 and server.count() == 0

"""The dashboard's "Cài đặt thiết bị" page (``/settings``) and the fleet page's settings column, through a real
server (SQLite and PostgreSQL): view per scope, set, remove, roll back, each within the account's scope."""

from __future__ import annotations

import html
import re

import pytest

from dashboard_fixtures import log_in
from officer_fixtures import Units
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock


@pytest.fixture
def units(start_server):
    return Units(start_server(clock=FakeClock(), alert_check_interval_s=0))


def _csrf(page_text: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page_text).group(1)


def _text(answer) -> str:
    """The page's text as read: entities decoded, the isolation marks around names taken away."""
    return re.sub("[\u2066-\u2069]|</?bdi>", "", html.unescape(answer.text))


def test_an_admin_sets_removes_and_rolls_back_on_the_page(units):
    session = log_in(units.server, units.people["province_admin"])
    url = units.server.url
    first = session.get(url + "/settings", params={"node": "U01"}, timeout=30)
    assert first.status_code == 200 and "Cài đặt thiết bị" in first.text and "Phường An Khánh" in _text(first)
    csrf = _csrf(first.text)
    saved = session.post(url + "/settings/change", data={"csrf": csrf, "node": "U01", "key": "feedback.thanks_s",
                                                         "value": "6", "note": "lâu hơn"}, timeout=30)
    assert saved.status_code == 200 and "Đã lưu cài đặt" in saved.text  # after the 303
    assert "feedback.thanks_s" in saved.text and "6.0" in saved.text and "lâu hơn" in _text(saved)
    bad = session.post(url + "/settings/change", data={"csrf": csrf, "node": "U01", "key": "voice.volume",
                                                       "value": "loud"}, timeout=30)
    assert bad.status_code == 422 and "voice.volume" in _text(bad) and "Không lưu được" in _text(bad)
    assert len(units.server.rows("terminal_settings_changes")) == 1
    session.post(url + "/settings/change", data={"csrf": csrf, "node": "U01", "key": "terminal.language",
                                                 "value": "en"}, timeout=30)
    removed = session.post(url + "/settings/change", data={"csrf": csrf, "node": "U01", "unset": "feedback.thanks_s"},
                           timeout=30)
    assert removed.status_code == 200 and "Đã bỏ cài đặt" in _text(removed)
    back = session.post(url + "/settings/rollback", data={"csrf": csrf, "change": "1"}, timeout=30)
    assert back.status_code == 200 and "Đã khôi phục" in _text(back)
    rows = units.server.rows("terminal_settings_changes")
    assert [r["restores_id"] for r in rows] == [None, None, None, 1]
    assert len(units.server.rows("audit_log", action="terminal_settings_rollback")) == 1
    # A terminal of the unit: its effective set, and it shows as waiting until it reports the version.
    terminal = units.terminal["C01"].id
    shown = session.get(url + "/settings", params={"terminal": terminal}, timeout=30)
    assert shown.status_code == 200 and f"node:{units.node['U01']}" in shown.text and "chưa có" in shown.text
    wanted = units.upload("C01")["settings_version"]
    units.upload("C01", health={"settings_version": wanted})
    fleet = session.get(url + "/fleet", timeout=30)
    assert fleet.status_code == 200 and f"✓ {wanted}" in fleet.text
    units.upload("C03", health={"settings_error": f"{wanted}: reasons do not fit the buttons"})
    fleet = _text(session.get(url + "/fleet", timeout=30))
    assert "Từ chối: " + f"{wanted}: reasons do not fit the buttons" in fleet
    detail = _text(session.get(url + f"/fleet/terminal/{units.terminal['C03'].id}", timeout=30))
    assert f"cần chạy {wanted}" in re.sub(r"</?code>", "", detail) and "từ chối: " in detail


def test_a_unit_admin_cannot_reach_another_unit_or_the_fleet(units):
    from server.db import write_transaction
    from server.terminal_settings import Scope, change_settings

    with units.server.engine.connect() as conn, write_transaction(conn):
        other = change_settings(conn, Scope(node_id=units.node["U02"]), set_values={"voice.volume": 0.3},
                                changed_by="test", now_ns=units.server.app.state.clock())
    session = log_in(units.server, units.people["unit_admin"])
    url = units.server.url
    own = session.get(url + "/settings", timeout=30)  # no scope asked: its own unit's
    assert own.status_code == 200 and "Xã Bình Minh" not in _text(own)
    assert re.search(r'id="settings-scope-name">[^<]*Phường An Khánh<', _text(own))
    csrf = _csrf(own.text)
    hidden = session.get(url + "/settings", params={"node": "U02"}, timeout=30)
    assert hidden.status_code == 404 and "0.3" not in hidden.text
    assert session.post(url + "/settings/change", data={"csrf": csrf, "node": "U02", "key": "voice.volume",
                                                        "value": "0.5"}, timeout=30).status_code == 404
    assert session.post(url + "/settings/change", data={"csrf": csrf, "key": "voice.volume", "value": "0.5"},
                        timeout=30).status_code == 403
    assert session.post(url + "/settings/rollback", data={"csrf": csrf, "change": str(other.id)},
                        timeout=30).status_code == 404
    assert len(units.server.rows("terminal_settings_changes")) == 1
    viewer = log_in(units.server, units.people["viewer"])
    assert viewer.get(url + "/settings", timeout=30).status_code == 403
    inspector = log_in(units.server, units.people["inspector"])
    page = inspector.get(url + "/settings", params={"node": "U01"}, timeout=30)
    assert page.status_code == 200 and 'action="/settings/change"' not in page.text

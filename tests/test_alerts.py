"""Alert rules firing and clearing on a scripted stream of ratings, the webhook, and GET /api/v1/alerts."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dashboard_fixtures import SITE_A, SITE_B, at, rating, send
from server.errors import SettingsError
from server.opening import OpeningHours
from server.settings import Settings
from server_fixtures import *  # noqa: F403
from webhook_receiver import WebhookReceiver

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_HOURS = OpeningHours.parse(Settings().opening_hours)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=HANOI)


# -- opening hours -----------------------------------------------------------------------------------

@pytest.mark.parametrize("moment, is_open", [
    (local(2026, 11, 25, 7, 29), False), (local(2026, 11, 25, 7, 30), True),   # Wednesday
    (local(2026, 11, 25, 16, 59), True), (local(2026, 11, 25, 17, 0), False),
    (local(2026, 11, 28, 11, 29), True), (local(2026, 11, 28, 11, 30), False),  # Saturday morning only
    (local(2026, 11, 29, 9, 0), False),                                          # Sunday
    (local(2026, 11, 25, 2, 0), False),                                          # night
])
def test_default_opening_hours(moment, is_open):
    assert DEFAULT_HOURS.is_open(moment) is is_open


@pytest.mark.parametrize("start, end, hours", [
    (local(2026, 11, 25, 16, 30), local(2026, 11, 26, 6, 0), 0.5),    # evening and night do not count
    (local(2026, 11, 25, 16, 30), local(2026, 11, 26, 9, 0), 2.0),
    (local(2026, 11, 27, 16, 30), local(2026, 11, 28, 9, 0), 2.0),    # Friday evening to Saturday morning
    (local(2026, 11, 28, 11, 0), local(2026, 11, 30, 8, 30), 1.5),    # over Sunday
    (local(2026, 11, 23, 0, 0), local(2026, 11, 30, 0, 0), 5 * 9.5 + 4),  # a whole week
])
def test_open_seconds_count_only_opening_time(start, end, hours):
    assert DEFAULT_HOURS.open_seconds(start, end) == hours * 3600


def test_opening_hours_are_configurable_and_described_in_vietnamese():
    hours = OpeningHours.parse("Mon-Sat 08:00-12:00, 13:30-17:00")
    assert hours.is_open(local(2026, 11, 28, 14, 0)) and not hours.is_open(local(2026, 11, 28, 12, 30))
    assert hours.describe_vi() == "Thứ Hai–Thứ Bảy 08:00–12:00, 13:30–17:00"
    assert DEFAULT_HOURS.describe_vi() == "Thứ Hai–Thứ Sáu 07:30–17:00; Thứ Bảy 07:30–11:30"


@pytest.mark.parametrize("values, message", [
    ({"opening_hours": "Mon-Fri 7-17"}, "opening_hours"),
    ({"opening_hours": "Fri-Mon 07:30-17:00"}, "backwards"),
    ({"opening_hours": "Mon 17:00-07:30"}, "closes before"),
    ({"alert_dissatisfied_pct": 0}, "alert_dissatisfied_pct"),
    ({"alert_dissatisfied_pct": 120.0}, "alert_dissatisfied_pct"),
    ({"alert_min_ratings": 0}, "alert_min_ratings"),
    ({"terminal_silent_s": 0}, "terminal_silent_s"),
    ({"alert_check_interval_s": -1}, "alert_check_interval_s"),
    ({"alert_webhook_url": "ftp://example.org/x"}, "alert_webhook_url"),
    ({"dashboard_secret": "changeme"}, "dashboard_secret"),
    ({"dashboard_secret": "short-but-not-a-placeholder"}, "dashboard_secret"),
])
def test_bad_alert_settings_are_refused(values, message):
    with pytest.raises(SettingsError, match=message):
        Settings(**values)


# -- the dissatisfied rule ---------------------------------------------------------------------------

WEDNESDAY_0930 = at("2026-11-25T02:30:00Z")  # 09:30 in Hà Nội


def start_quiet(start_server, **settings):
    """A server on a fake clock whose background check is off: the test checks by hand."""
    clock = FakeClock(WEDNESDAY_0930)
    return start_server(clock=clock, alert_check_interval_s=0, **settings), clock


def check(server) -> dict:
    answer = server.post("/api/v1/alerts/check", headers=server.admin_headers())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {"fired": [(a["rule"], a["subject"]) for a in body["fired"]],
            "cleared": [(a["rule"], a["subject"]) for a in body["cleared"]]}


def unit_of(server, name: str) -> str:
    """The subject of the dissatisfied-share alert of the unit named ``name`` (``unit:<node id>``)."""
    (unit,) = server.rows("nodes", kind="unit", name=name)
    return f"unit:{unit['id']}"


def alerts_now(server) -> dict:
    answer = server.get("/api/v1/alerts", headers=server.admin_headers())
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("dissatisfied, satisfied, fires", [
    (2, 2, True),    # 50 % of 4: the threshold itself
    (3, 1, True),
    (1, 3, False),   # 25 %
    (3, 0, False),   # 100 %, but only 3 counted ratings
])
def test_dissatisfied_share_needs_the_share_and_the_count(start_server, dissatisfied, satisfied, fires):
    server, clock = start_quiet(start_server)
    a = server.enroll(site=SITE_A)
    # Filtered presses never count, whatever they say.
    send(server, a, clock, [rating("dissatisfied", age_s=60 + i) for i in range(dissatisfied)]
         + [rating("satisfied", age_s=30 + i) for i in range(satisfied)]
         + [rating("dissatisfied", filtered=1, age_s=20 + i) for i in range(3)])
    expected = [("dissatisfied_share", unit_of(server, SITE_A))] if fires else []
    assert check(server) == {"fired": expected, "cleared": []}


def test_dissatisfied_alert_fires_once_and_clears_when_the_window_moves_on(start_server):
    server, clock = start_quiet(start_server)
    a, b = server.enroll(site=SITE_A), server.enroll(site=SITE_B)
    send(server, a, clock, [rating("dissatisfied", reason="staff_attitude", age_s=300),
                            rating("dissatisfied", age_s=200), rating("satisfied", age_s=100)])
    send(server, b, clock, [rating("very_satisfied", age_s=10 + i) for i in range(10)])
    assert check(server) == {"fired": [], "cleared": []}  # 3 counted at A: not yet

    clock.advance(60)
    send(server, a, clock, [rating("dissatisfied", reason="processing_time", age_s=5)])
    subject = unit_of(server, SITE_A)
    assert check(server) == {"fired": [("dissatisfied_share", subject)], "cleared": []}  # B is fine
    body = alerts_now(server)
    (alert,) = body["active"]
    (unit,) = server.rows("nodes", kind="unit", name=SITE_A)
    place = {"path": f"Tỉnh › {SITE_A}", "province": {"id": unit["parent_id"], "code": None, "name": "Tỉnh"},
             "unit": {"id": unit["id"], "code": None, "name": SITE_A}}
    assert alert["details"] == {"site": SITE_A, "unit_id": unit["id"], "unit_code": None,
                                "province_id": unit["parent_id"], "province_code": None, "place": place,
                                "counted": 4, "dissatisfied": 3, "pct": 75.0, "window_s": 900,
                                "since": alert["details"]["since"]}
    assert (alert["unit_id"], alert["province_id"], alert["place"]) == (unit["id"], unit["parent_id"],
                                                                         f"Tỉnh › {SITE_A}")
    assert alert["message"] == (f"Tỉnh › {SITE_A}: 3 trên 4 lượt đánh giá (75,0%) trong 15 phút qua "
                                "là không hài lòng")
    assert alert["fired_at"] == "2026-11-25T02:31:00.000Z" and alert["cleared_at"] is None
    assert body["recent"] == []

    clock.advance(5 * 60)
    assert check(server) == {"fired": [], "cleared": []}  # still holding: no second alert
    assert len(alerts_now(server)["active"]) == 1

    clock.advance(15 * 60)  # the window has moved past them
    assert check(server) == {"fired": [], "cleared": [("dissatisfied_share", subject)]}
    body = alerts_now(server)
    assert body["active"] == [] and [a["id"] for a in body["recent"]] == [alert["id"]]
    assert body["recent"][0]["cleared_at"] == "2026-11-25T02:51:00.000Z"


def test_a_configured_threshold_is_used(start_server):
    server, clock = start_quiet(start_server, alert_dissatisfied_pct=80.0, alert_min_ratings=2,
                                alert_window_s=120)
    a = server.enroll(site=SITE_A)
    send(server, a, clock, [rating("dissatisfied", age_s=500), rating("dissatisfied", age_s=60),
                            rating("satisfied", age_s=50)])
    assert check(server)["fired"] == []  # in 2 minutes: 1 of 2 dissatisfied, 50 % < 80 %
    send(server, a, clock, [rating("dissatisfied", age_s=40), rating("dissatisfied", age_s=30),
                            rating("dissatisfied", age_s=20)])
    assert check(server)["fired"] == [("dissatisfied_share", unit_of(server, SITE_A))]  # 4 of 5: 80 %


# -- the silent-terminal rule ------------------------------------------------------------------------

def test_silent_terminal_counts_only_opening_hours(start_server):
    clock = FakeClock(at("2026-11-25T09:30:00Z"))  # Wednesday 16:30 in Hà Nội
    server = start_server(clock=clock, alert_check_interval_s=0)
    a = server.enroll(site=SITE_A, counter="Quầy 1")
    revoked = server.enroll(site=SITE_B)
    send(server, a, clock, [rating("satisfied")])
    send(server, revoked, clock, [])
    server.revoke(revoked.id)

    clock.now_ns = at("2026-11-25T10:30:00Z")  # 17:30: 30 min of opening time
    assert check(server) == {"fired": [], "cleared": []}
    clock.now_ns = at("2026-11-25T23:00:00Z")  # Thursday 06:00: silent all night, still only 30 min
    assert check(server) == {"fired": [], "cleared": []}
    clock.now_ns = at("2026-11-26T01:29:00Z")  # Thursday 08:29: 1 h 29 min
    assert check(server) == {"fired": [], "cleared": []}
    clock.now_ns = at("2026-11-26T02:00:00Z")  # Thursday 09:00: 2 h of opening time
    assert check(server) == {"fired": [("terminal_silent", a.id)], "cleared": []}  # the revoked one never
    (alert,) = alerts_now(server)["active"]
    assert alert["details"]["site"] == SITE_A and alert["details"]["last_seen_at"] == "2026-11-25T09:30:00.000Z"
    assert alert["place"] == f"Tỉnh › {SITE_A} › Bộ phận Một cửa › Quầy 1"  # where it stands, by the tree
    assert alert["details"]["place"]["counter"]["name"] == "Quầy 1"
    assert alert["details"]["node_id"] == alert["details"]["place"]["counter"]["id"]
    assert alert["message"] == (f"Thiết bị {a.id} (Tỉnh › {SITE_A} › Bộ phận Một cửa › Quầy 1) im lặng ít nhất "
                                "2 giờ trong giờ làm việc (lần cuối: 25/11/2026 16:30)")

    clock.advance(600)
    send(server, a, clock, [])  # a heartbeat: heard from again
    assert check(server) == {"fired": [], "cleared": [("terminal_silent", a.id)]}


def test_a_terminal_enrolled_but_never_heard_from_goes_silent_too(start_server):
    server, clock = start_quiet(start_server, terminal_silent_s=1800)
    a = server.enroll(site=SITE_A)
    clock.advance(1799)
    assert check(server)["fired"] == []
    clock.advance(1)
    assert check(server)["fired"] == [("terminal_silent", a.id)]


# -- the webhook -------------------------------------------------------------------------------------

@pytest.fixture
def hook():
    h = WebhookReceiver()
    yield h
    h.close()


def test_webhook_receives_fired_and_cleared_and_retries_after_a_failure(start_server, hook):
    server, clock = start_quiet(start_server, alert_webhook_url=hook.url)
    a = server.enroll(site=SITE_A)
    send(server, a, clock, [rating("dissatisfied", age_s=10 + i) for i in range(4)])
    hook.fail_next = 1
    subject = unit_of(server, SITE_A)
    assert check(server)["fired"] == [("dissatisfied_share", subject)]
    assert hook.received == []  # the hook failed: kept for later

    clock.advance(60)
    check(server)  # nothing new fires, but the waiting event goes out
    assert [r["body"]["event"] for r in hook.received] == ["fired"]
    first = hook.received[0]
    assert first["content_type"] == "application/json"
    assert first["body"]["alert"]["rule"] == "dissatisfied_share" and first["body"]["alert"]["subject"] == subject
    assert first["body"]["alert"]["details"]["counted"] == 4 and first["body"]["alert"]["active"] is True
    assert first["body"]["rule_label"] == "Tỷ lệ không hài lòng cao"

    clock.advance(20 * 60)
    assert check(server)["cleared"] == [("dissatisfied_share", subject)]
    check(server)
    assert [r["body"]["event"] for r in hook.received] == ["fired", "cleared"]  # each event once
    assert hook.received[1]["body"]["alert"]["cleared_at"] == "2026-11-25T02:51:00.000Z"


def test_an_unreachable_webhook_does_not_block_checks_or_ingest(start_server, hook):
    url = hook.url
    hook.close()  # nothing listens there any more
    server, clock = start_quiet(start_server, alert_webhook_url=url)
    a = server.enroll(site=SITE_A)
    send(server, a, clock, [rating("dissatisfied", age_s=10 + i) for i in range(4)])
    assert check(server)["fired"] == [("dissatisfied_share", unit_of(server, SITE_A))]
    send(server, a, clock, [rating("satisfied")])  # ingest goes on
    rows = server.rows("alerts")
    assert len(rows) == 1 and rows[0]["fired_sent_at"] is None


# -- the background check ----------------------------------------------------------------------------

def test_the_app_checks_the_rules_in_the_background(start_server, hook):
    clock = FakeClock(WEDNESDAY_0930)
    server = start_server(clock=clock, alert_check_interval_s=1, alert_webhook_url=hook.url)
    a = server.enroll(site=SITE_A)
    send(server, a, clock, [rating("dissatisfied", age_s=10 + i) for i in range(5)])
    deadline = time.monotonic() + 15
    while not hook.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [r["body"]["event"] for r in hook.received] == ["fired"]
    assert [a["subject"] for a in alerts_now(server)["active"]] == [unit_of(server, SITE_A)]


# -- the API's authentication --------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [("get", "/api/v1/alerts"), ("post", "/api/v1/alerts/check")])
def test_alerts_api_needs_an_admin_token(start_server, method, path):
    server, _clock = start_quiet(start_server)
    terminal = server.enroll()
    call = getattr(server, method)
    answer = call(path)
    assert answer.status_code == 401 and answer.json()["ok"] is False
    assert "admin token" in answer.json()["error"]
    answer = call(path, headers=terminal.headers)
    assert answer.status_code == 403 and answer.json() == {
        "ok": False, "error": "a device token cannot do this; it needs an admin token", "field": None}
    answer = call(path, headers={"Authorization": "Bearer hl_adm_not-a-real-token"})
    assert answer.status_code == 401
    assert call(path, headers=server.admin_headers()).status_code == 200


def test_alerts_api_refuses_a_bad_query(start_server):
    server, _clock = start_quiet(start_server)
    answer = server.get("/api/v1/alerts", params={"recent_days": "soon"}, headers=server.admin_headers())
    assert answer.status_code == 422 and answer.json()["field"] == "recent_days"


# -- the silent terminals counted in SQL: one cut-off time, the same answer as the rule's walk (issue 11 §5) --

HOURS = "Mon-Fri 07:30-11:30, 13:30-17:00; Sat 07:30-11:30"


@pytest.mark.parametrize("now", [
    "2026-11-25T03:00:00Z",   # Wednesday 10:00 local: two hours back is this morning
    "2026-11-25T06:31:00Z",   # Wednesday 13:31: across the lunch break
    "2026-11-28T02:00:00Z",   # Saturday 09:00: back into Friday afternoon
    "2026-11-29T05:00:00Z",   # Sunday: closed, silence runs from Saturday
    "2026-11-30T00:45:00.123Z",  # Monday 07:45.123: over the weekend, to the millisecond
])
def test_the_silence_cutoff_agrees_with_the_rules_walk(now):
    from datetime import timedelta

    from server.alerts import AlertRules, silence_cutoff, terminal_silence
    from server.timekeeping import iso_from_ns

    rules = AlertRules(silent_s=7200, opening_hours=OpeningHours.parse(HOURS), tz=ZoneInfo("Asia/Ho_Chi_Minh"))
    now_ns = at(now.replace(".123", "")) + (123_000_000 if ".123" in now else 0)
    cutoff = silence_cutoff(rules, now_ns)
    assert cutoff is not None
    # Every minute of the week before, and each millisecond around the cut-off itself.
    cut_ns = at(cutoff[:19] + "Z") + int(cutoff[20:23]) * 1_000_000
    moments = [now_ns - minutes * 60 * 10**9 for minutes in range(0, 7 * 24 * 60, 7)]
    moments += [cut_ns + delta * 1_000_000 for delta in (-2, -1, 0, 1, 2)]
    for moment in moments:
        since = iso_from_ns(moment)
        silent = terminal_silence(since, since, rules, now_ns) >= rules.silent_s
        assert (since <= cutoff) == silent, (since, cutoff)
    assert timedelta(0) < timedelta(microseconds=(now_ns - cut_ns) // 1000) <= timedelta(days=3)


def test_no_opening_hours_means_no_terminal_is_silent():
    from server.alerts import AlertRules, silence_cutoff

    rules = AlertRules(silent_s=7200, opening_hours=OpeningHours.parse(""), tz=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert silence_cutoff(rules, at("2026-11-25T03:00:00Z")) is None

"""One rounding rule for every figure shown (half up, in decimal): the report's total and its "mức chung"
agree, the alert's share and window, the terminal's clock offset — at the .x5 boundaries where half-up and
Python's round() (half to even, on floats) part ways."""

from __future__ import annotations

import pytest

from dashboard_fixtures import SITE_A, SITE_B, at, log_in, rating, send
from kiosk.config import parse_config
from kiosk.status import format_status, terminal_status
from kiosk.store import RatingStore
from report_fixtures import local_iso, rating_row, write_pulled_db
from reports import build_report, parse_period, sqlite_source
from reports.render import render_table, summary_vi
from server_fixtures import *  # noqa: F403
from server.timekeeping import iso_from_ns
from sync.local import LocalRatings

SUMMARY = "/api/v1/reports/summary"
NOVEMBER = parse_period("month", on="2026-11-10")
#: 349 content of 400: 87.25 %, shown 87,3 % (round(87.25, 1) is 87.2).
CONTENT, COUNTED = 349, 400


def levels() -> list[str]:
    return ["satisfied"] * CONTENT + ["dissatisfied"] * (COUNTED - CONTENT)


def test_the_total_and_the_overall_average_show_the_same_rate(tmp_path):
    # Three of the ratings at a second site, too few to compare: the table then states the overall average.
    rows = [rating_row("pl-1" if i > 2 else "vq-1", SITE_A if i > 2 else SITE_B, "Quầy 1", level,
                       local_iso(2026, 11, 1 + i % 28, 9, i % 60)) for i, level in enumerate(levels())]
    path = tmp_path / "pulled.db"
    write_pulled_db(path, rows)
    report = build_report(sqlite_source(path), NOVEMBER)
    assert (report.total.satisfaction_rate, report.average_rate) == (87.3, 87.3)
    table = render_table(report)
    assert "mức chung 87,3%" in table
    assert "tỷ lệ hài lòng đạt 87,3%" in summary_vi(report)


def test_the_api_answers_the_same_rate_for_the_total_and_the_overall_average(server):
    terminal = server.enroll()
    ratings = [make_rating(terminal.id, rating=level, created_at=local_iso(2026, 11, 10, 9, i // 60, i % 60),  # noqa: F405
                           boot_id="earlier-boot", monotonic_ns=i, clock_synced=1,
                           **({"reason_outcome": "timeout"} if level == "dissatisfied" else {}))
               for i, level in enumerate(levels())]
    assert server.upload(terminal, make_batch(ratings)).status_code == 200  # noqa: F405
    answer = server.get(SUMMARY, params={"period": "month", "on": "2026-11-10"}, headers=server.admin_headers())
    assert answer.status_code == 200, answer.text
    report = answer.json()["report"]
    assert (report["total"]["satisfaction_rate"], report["average_rate"], report["groups"][0]["shrunk_rate"]) == \
        (87.3, 87.3, 87.3)


def test_the_alert_share_and_window_are_rounded_half_up(start_server):
    # 41 of 80 dissatisfied = 51.25 % → 51,3 %; a window of 150 s = 2.5 minutes → 3 minutes.
    clock = FakeClock(at("2026-11-25T02:30:00Z"))  # noqa: F405  — 09:30 on a Wednesday in Hà Nội
    server = start_server(clock=clock, alert_check_interval_s=0, alert_window_s=150)
    terminal = server.enroll(site=SITE_A)
    send(server, terminal, clock, [rating("dissatisfied", age_s=100 + i) for i in range(41)]
         + [rating("satisfied", age_s=10 + i) for i in range(39)])
    answer = server.post("/api/v1/alerts/check", headers=server.admin_headers())
    assert answer.status_code == 200, answer.text
    fired, = answer.json()["fired"]
    assert fired["details"]["pct"] == 51.3
    assert fired["message"] == f"Tỉnh › {SITE_A}: 41 trên 80 lượt đánh giá (51,3%) trong 3 phút qua là không hài lòng"


@pytest.mark.parametrize("offset, shown", [(0.25, "+0.3 s"), (-0.25, "-0.3 s"), (1.25, "+1.3 s")])
def test_the_terminal_status_rounds_the_clock_offset_half_up(tmp_path, offset, shown):
    db_path = tmp_path / "kiosk.db"
    config = parse_config({"storage": {"path": str(db_path)}, "terminal": {"id": "hd-01"}})
    store = RatingStore(db_path, terminal_id="hd-01")
    try:
        LocalRatings(store.db).save_state({"clock_offset_s": offset})  # as the uploader keeps the server's answer
        text = format_status(terminal_status(config, store))
        assert f"Clock offset reported by the server: {shown}" in text
    finally:
        store.close()


def test_the_fleet_page_and_its_export_round_the_clock_offset_half_up(start_server):
    # A heartbeat sent 0.25 s ahead of the server's clock: shown +0.3 s (Python's "%+.1f" says +0.2).
    clock = FakeClock(at("2026-11-25T02:30:00Z"))  # noqa: F405
    server = start_server(clock=clock, alert_check_interval_s=0)
    terminal = server.enroll(site=SITE_A)
    heartbeat = make_batch([], boot_id="boot-x", monotonic_ns=10**9,  # noqa: F405
                           sent_at=iso_from_ns(clock.now_ns + 250_000_000))
    assert server.upload(terminal, heartbeat).status_code == 200
    session = log_in(server, server.person())
    assert "+0.3 s" in session.get(server.url + "/fleet", timeout=30).text
    assert ",0.3," in session.get(server.url + "/export/fleet.csv", timeout=30).text

"""Report periods: every kind, Vietnamese labels, local-time edges, time zones, bad input."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from report_fixtures import local_iso, rating_row, write_pulled_db
from reports import PeriodError, build_report, parse_period, sqlite_source


@pytest.mark.parametrize(("kind", "on", "first", "last", "label"), [
    ("day", "2026-11-25", "2026-11-25", "2026-11-25", "Ngày 25/11/2026"),
    ("week", "2026-11-25", "2026-11-23", "2026-11-29", "Tuần 48/2026 (23/11/2026–29/11/2026)"),
    ("week", "2027-01-01", "2026-12-28", "2027-01-03", "Tuần 53/2026 (28/12/2026–03/01/2027)"),
    ("month", "2026-02-14", "2026-02-01", "2026-02-28", "Tháng 2/2026"),
    ("month", "2028-02-14", "2028-02-01", "2028-02-29", "Tháng 2/2028"),
    ("quarter", "2026-11-25", "2026-10-01", "2026-12-31", "Quý IV/2026"),
    ("quarter", "2026-01-01", "2026-01-01", "2026-03-31", "Quý I/2026"),
    ("half", "2026-06-30", "2026-01-01", "2026-06-30", "6 tháng đầu năm 2026"),
    ("half", "2026-07-01", "2026-07-01", "2026-12-31", "6 tháng cuối năm 2026"),
    ("year", "2026-11-25", "2026-01-01", "2026-12-31", "Năm 2026"),
])
def test_every_period_kind(kind, on, first, last, label):
    period = parse_period(kind, on=on)
    assert (period.first_day.isoformat(), period.last_day.isoformat(), period.label) == (first, last, label)
    assert period.start.tzinfo.key == "Asia/Ho_Chi_Minh" and period.end > period.start


def test_a_range_includes_both_days():
    period = parse_period("range", start="2026-11-01", end="2026-11-15")
    assert period.label == "Từ 01/11/2026 đến 15/11/2026" and period.days == 15
    assert period.utc_bounds() == ("2026-10-31T17:00:00.000Z", "2026-11-15T17:00:00.000Z")


def test_utc_bounds_are_local_midnights():
    assert parse_period("quarter", on=date(2026, 11, 25)).utc_bounds() == \
        ("2026-09-30T17:00:00.000Z", "2026-12-31T17:00:00.000Z")
    assert parse_period("day", on="2026-11-25", tz="UTC").utc_bounds() == \
        ("2026-11-25T00:00:00.000Z", "2026-11-26T00:00:00.000Z")


def test_default_day_is_today_where_the_sites_are():
    from zoneinfo import ZoneInfo
    assert parse_period("day").first_day == datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()


# A rating at the last instant of a local day, and one at the first instant of the next.
EDGES = [
    # (local time, kind, on, inside?)
    ((2026, 11, 24, 23, 59, 59, 999), "day", "2026-11-24", True),
    ((2026, 11, 25, 0, 0, 0, 0), "day", "2026-11-24", False),
    ((2026, 11, 25, 0, 0, 0, 0), "day", "2026-11-25", True),
    ((2026, 10, 31, 23, 59, 59, 999), "month", "2026-11-10", False),
    ((2026, 11, 1, 0, 0, 0, 0), "month", "2026-11-10", True),
    ((2026, 11, 30, 23, 59, 59, 999), "month", "2026-11-10", True),
    ((2026, 12, 1, 0, 0, 0, 0), "month", "2026-11-10", False),
    ((2026, 9, 30, 23, 59, 59, 0), "quarter", "2026-11-10", False),
    ((2026, 10, 1, 0, 0, 0, 0), "quarter", "2026-11-10", True),
    ((2026, 12, 31, 23, 59, 59, 0), "quarter", "2026-11-10", True),
    ((2027, 1, 1, 0, 0, 0, 0), "quarter", "2026-11-10", False),
    ((2026, 6, 30, 23, 59, 59, 0), "half", "2026-03-01", True),
    ((2026, 7, 1, 0, 0, 0, 0), "half", "2026-03-01", False),
    ((2026, 12, 31, 23, 59, 59, 0), "year", "2026-03-01", True),
    ((2027, 1, 1, 0, 0, 0, 0), "year", "2026-03-01", False),
    ((2026, 11, 22, 23, 59, 59, 0), "week", "2026-11-25", False),  # Sunday before
    ((2026, 11, 23, 0, 0, 0, 0), "week", "2026-11-25", True),     # Monday
]


@pytest.mark.parametrize(("moment", "kind", "on", "inside"), EDGES)
def test_ratings_at_the_edges_land_in_the_right_period(tmp_path, moment, kind, on, inside):
    write_pulled_db(tmp_path / "r.db", [rating_row("t", "A", None, "satisfied", local_iso(*moment))])
    report = build_report(sqlite_source(tmp_path / "r.db"), parse_period(kind, on=on))
    assert report.total.counted == (1 if inside else 0)
    assert report.reconciles


def test_the_edge_lands_in_the_right_trend_day(tmp_path):
    rows = [rating_row("t", "A", None, "satisfied", local_iso(2026, 11, 24, 23, 59, 59, 999)),
            rating_row("t", "A", None, "dissatisfied", local_iso(2026, 11, 25, 0, 0, 0, 0))]
    write_pulled_db(tmp_path / "r.db", rows)
    report = build_report(sqlite_source(tmp_path / "r.db"), parse_period("month", on="2026-11-01"))
    day24, day25 = report.trend[23], report.trend[24]
    assert (day24.label, day24.satisfied, day24.dissatisfied) == ("24/11/2026", 1, 0)
    assert (day25.label, day25.satisfied, day25.dissatisfied) == ("25/11/2026", 0, 1)
    # 23:59 on Tuesday and 0:00 on Wednesday, local.
    assert report.heatmap[1][23] == 1 and report.heatmap[2][0] == 1


def test_another_time_zone_moves_the_edges(tmp_path):
    # 2026-11-30T20:00Z is still November in London but already December in Hà Nội.
    write_pulled_db(tmp_path / "r.db", [rating_row("t", "A", None, "satisfied", "2026-11-30T20:00:00.000Z")])
    source = sqlite_source(tmp_path / "r.db")
    assert build_report(source, parse_period("month", on="2026-11-01", tz="Europe/London")).total.counted == 1
    assert build_report(source, parse_period("month", on="2026-11-01")).total.counted == 0


def test_a_half_hour_zone_counts_exactly_at_its_edges(tmp_path):
    # India is UTC+5:30: the period's bounds are not whole UTC hours, so the hours query reads by time.
    rows = [rating_row("t", "A", None, "satisfied", "2026-10-31T18:29:59.999Z"),   # 31/10 23:59:59 IST
            rating_row("t", "A", None, "satisfied", "2026-10-31T18:30:00.000Z")]   # 01/11 00:00 IST
    write_pulled_db(tmp_path / "r.db", rows)
    report = build_report(sqlite_source(tmp_path / "r.db"), parse_period("month", on="2026-11-01",
                                                                           tz="Asia/Kolkata"))
    assert report.total.counted == 1 and report.reconciles


@pytest.mark.parametrize(("args", "field"), [
    (("fortnight",), "period"),
    (("month",), "on"),
    (("range",), "start"),
    (("range",), "end"),
    (("range",), "end"),
    (("month",), "tz"),
    (("month",), "start"),
])
def test_bad_input_names_the_field(args, field):
    options = {
        "on": {"on": "2026-13-01"},
        "start": {"end": "2026-11-02"} if args == ("range",) else {"start": "2026-11-01"},
        "end": {"start": "2026-11-05", "end": "2026-11-01"},
        "tz": {"tz": "Mars/Olympus"},
        "period": {},
    }[field]
    with pytest.raises(PeriodError) as caught:
        parse_period(*args, **options)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, ValueError)

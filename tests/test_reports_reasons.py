"""The reasons of the dissatisfied are the same in every view of a report — total, trend (Report.trend, the
API's ``trend``, the workbook's "Theo thời gian" sheet) — on every source, and a view that loses them fails
the checks."""

from __future__ import annotations

import io
import sqlite3
from datetime import date

import openpyxl
import pytest

from report_fixtures import SITE_A, local_iso, rating_row, write_pulled_db
from reports import build_report, parse_period, sqlalchemy_source, sqlite_source
from reports.periods import vi_date
from reports.render import write_xlsx
from reports.sources import REPORT_INDEXES, Tallies
from server_fixtures import *  # noqa: F403

SUMMARY = "/api/v1/reports/summary"
DAY = date(2026, 11, 25)  # a Wednesday; the week's trend is per day
WEEK = parse_period("week", on=DAY.isoformat())
#: One dissatisfied about processing time and four without a reason, at different hours, among content ones.
DISSATISFIED = [("processing_time", "given", 8)] + [(None, outcome, hour)
                                                   for outcome, hour in (("skipped", 9), ("timeout", 10),
                                                                         ("skipped", 14), ("timeout", 15))]
EXPECTED = {"processing_time": 1, "no_reason": 4}


def pulled_rows() -> list[dict]:
    rows = [rating_row("pl-1", SITE_A, "Quầy 1", "dissatisfied", local_iso(2026, 11, 25, hour), reason=reason,
                       reason_outcome=outcome) for reason, outcome, hour in DISSATISFIED]
    rows += [rating_row("pl-1", SITE_A, "Quầy 1", "satisfied", local_iso(2026, 11, 25, 11, i)) for i in range(3)]
    return rows


def upload_rows(server) -> None:
    """The same ratings through the real batch API, dated as sent (a synced clock, an earlier boot)."""
    terminal = server.enroll(site=SITE_A, counter="Quầy 1")
    ratings = [make_rating(terminal.id, rating=row["rating"], reason=row["reason"],  # noqa: F405
                           reason_outcome=row["reason_outcome"], created_at=row["corrected_at"],
                           boot_id="earlier-boot", monotonic_ns=i, clock_synced=1)
               for i, row in enumerate(pulled_rows())]
    answer = server.upload(terminal, make_batch(ratings))  # noqa: F405
    assert answer.status_code == 200, answer.text


def trend_reasons(trend: list[dict]) -> dict[str, int]:
    """The trend's dissatisfied reasons added up over its buckets (cells as the API answers them)."""
    summed: dict[str, int] = {}
    for cell in trend:
        for key, n in cell["dissatisfied_reasons"].items():
            summed[key] = summed.get(key, 0) + n
    return {key: n for key, n in summed.items() if n}


def assert_reasons_agree(report) -> None:
    data = report.to_dict()
    assert {k: n for k, n in data["total"]["dissatisfied_reasons"].items() if n} == EXPECTED
    assert trend_reasons(data["trend"]) == EXPECTED
    day, = [cell for cell in data["trend"] if cell["dissatisfied"]]
    assert day["label"] == vi_date(DAY) and day["dissatisfied_reasons"] == {**EXPECTED}
    assert all(list(cell["dissatisfied_reasons"]) == data["reasons"] for cell in data["trend"])
    assert report.reconciles, [c for c in report.checks if not c.ok]


def workbook_trend_row(report) -> dict[str, object]:
    """The day's row of the workbook's "Theo thời gian" sheet, by column heading."""
    buffer = io.BytesIO()
    write_xlsx(report, buffer)
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["Theo thời gian"]
    rows = list(sheet.iter_rows(values_only=True))
    header = next(row for row in rows if "KHL: Thời gian giải quyết hồ sơ" in row)
    day = next(row for row in rows if row[0] == vi_date(DAY))
    return dict(zip(header, day))


def test_the_trend_counts_reasons_like_the_total_on_a_pulled_file(tmp_path):
    path = tmp_path / "pulled.db"
    write_pulled_db(path, pulled_rows())
    report = build_report(sqlite_source(path), WEEK)
    assert report.trend_unit == "day"
    assert_reasons_agree(report)
    row = workbook_trend_row(report)
    assert (row["KHL: Thời gian giải quyết hồ sơ"], row["KHL: Không nêu lý do"]) == (1, 4)


def test_the_trend_counts_reasons_like_the_total_on_the_server(server):
    # Both backends (the server fixture runs on SQLite and PostgreSQL): the tallies and the API.
    upload_rows(server)
    with server.engine.connect() as conn:
        report = build_report(sqlalchemy_source(conn), WEEK)
    assert_reasons_agree(report)
    answer = server.get(SUMMARY, params={"period": "week", "on": DAY.isoformat()}, headers=server.admin_headers())
    assert answer.status_code == 200, answer.text
    online = answer.json()["report"]
    assert trend_reasons(online["trend"]) == EXPECTED and online["reconciles"] is True


def test_the_server_without_its_tallies_counts_reasons_too(start_server):
    # A zone with a half-hour offset: the tallies cannot answer, the ratings themselves do.
    server = start_server(timezone="Asia/Kolkata")
    upload_rows(server)
    with server.engine.connect() as conn:
        report = build_report(sqlalchemy_source(conn), parse_period("week", on=DAY.isoformat(), tz="Asia/Kolkata"))
    assert trend_reasons(report.to_dict()["trend"]) == EXPECTED
    assert report.reconciles, [c for c in report.checks if not c.ok]


class ReasonlessHours:
    """A source whose hourly counts lost the reasons (what the trend used to do): a drift the checks must catch."""

    def __init__(self, source):
        self.source = source

    def tallies(self, period, **filters) -> Tallies:
        tallies = self.source.tallies(period, **filters)
        return Tallies(tallies.units, [(hour, rating, None, filtered, n)
                                       for hour, rating, _reason, filtered, n in tallies.hours])


def test_a_trend_that_loses_the_reasons_fails_the_checks(tmp_path):
    path = tmp_path / "pulled.db"
    write_pulled_db(path, pulled_rows())
    report = build_report(ReasonlessHours(sqlite_source(path)), WEEK)
    failed = {check.what: (check.parts, check.whole) for check in report.checks if not check.ok}
    assert report.reconciles is False
    assert failed == {"cộng theo thời gian = tổng (không hài lòng, lý do: thời gian giải quyết hồ sơ)": (0, 1),
                      "cộng theo thời gian = tổng (không hài lòng, lý do: không nêu lý do)": (5, 4)}


def test_a_file_pulled_with_the_old_hours_index_gets_the_new_one(tmp_path):
    path = tmp_path / "pulled.db"
    write_pulled_db(path, pulled_rows())
    with sqlite3.connect(path) as conn:  # what an earlier kiosk-admin report left in the file
        conn.execute("CREATE INDEX ix_ratings_report_units ON ratings "
                     f"({REPORT_INDEXES['ix_ratings_report_units']})")
        conn.execute("CREATE INDEX ix_ratings_report_hours ON ratings "
                     "(SUBSTR(corrected_at, 1, 13), rating, filtered, corrected_at)")
    assert_reasons_agree(build_report(sqlite_source(path), WEEK))
    with sqlite3.connect(path) as conn:
        hours_index, = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'ix_ratings_report_hours'").fetchone()
        plan = " ".join(row[-1] for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT SUBSTR(corrected_at, 1, 13), rating, reason, filtered, COUNT(*) FROM ratings "
            "GROUP BY SUBSTR(corrected_at, 1, 13), rating, reason, filtered"))
    assert "rating, reason, filtered" in hours_index
    assert "ix_ratings_report_hours" in plan and "TEMP B-TREE" not in plan  # read in order, no sort


@pytest.mark.parametrize("group_by", ["site", None])
def test_the_heat_map_adds_up_to_the_dissatisfied(tmp_path, group_by):
    path = tmp_path / "pulled.db"
    write_pulled_db(path, pulled_rows())
    report = build_report(sqlite_source(path), WEEK, group_by=group_by)
    check, = [c for c in report.checks if c.what == "bản đồ giờ × thứ cộng lại = tổng (không hài lòng)"]
    assert (check.parts, check.whole, check.ok) == (5, 5, True)

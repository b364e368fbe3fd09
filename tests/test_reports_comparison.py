"""Against the previous period: the interval of the gap (Newcombe), the verdict, the small-sample guard, and
how the report, its paragraph, CSV, workbook, the API (both backends) and the dashboard carry them."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest

from report_fixtures import SITE_A, SITE_B, Q1, rating_row, spread, upload_rows, write_pulled_db
from server_fixtures import *  # noqa: F403
from reports import build_report, parse_period, sqlite_source
from reports.comparison import compare, newcombe
from reports.periods import previous_period
from reports.render import csv_rows, write_xlsx
from reports.paragraph import summary_vi

SUMMARY = "/api/v1/reports/summary"


# -- the statistics ---------------------------------------------------------------------------------

@pytest.mark.parametrize("counts, expected", [
    # Newcombe (1998), Statistics in Medicine 17:873–890, table II, method 10.
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0)),
])
def test_the_interval_is_newcombes_hybrid_score(counts, expected):
    assert tuple(round(x, 4) for x in newcombe(*counts)) == expected


@pytest.mark.parametrize("now, before, expected", [
    # +4.8 points on 400 a side: the interval holds 0, so no rise is claimed.
    ((349, 400), (330, 400), (87.3, 82.5, 4.8, -0.2, 9.7, "no_clear_change", "không đổi rõ rệt")),
    ((380, 400), (330, 400), (95.0, 82.5, 12.5, 8.2, 16.9, "up", "tăng")),
    ((300, 400), (330, 400), (75.0, 82.5, -7.5, -13.1, -1.8, "down", "giảm")),
])
def test_exact_figures_and_verdicts(now, before, expected):
    change = compare(now[0], now[1], before[0], before[1], min_sample=30)
    assert (change.rate, change.previous_rate, change.difference, change.low, change.high, change.verdict,
            change.verdict_vi) == expected
    assert (change.counted, change.previous_counted) == (now[1], before[1])


def test_down_3_points_on_20_ratings_is_no_fall():
    # Guarded (fewer than 30 a side): too few to compare; without the guard the interval says no clear change.
    assert compare(17, 20, 18, 20, min_sample=30).verdict_vi == "quá ít để so sánh"
    unguarded = compare(17, 20, 352, 400, min_sample=10)
    assert (unguarded.difference, unguarded.verdict_vi) == (-3.0, "không đổi rõ rệt")
    assert unguarded.low < 0 < unguarded.high


def test_an_empty_side_is_too_few_even_without_a_guard():
    change = compare(0, 0, 5, 10, min_sample=0)
    assert (change.verdict, change.difference, change.low) == ("too_few", None, None)


@pytest.mark.parametrize("kind, on, label", [
    ("day", "2026-11-01", "Ngày 31/10/2026"),
    ("week", "2026-11-25", "Tuần 47/2026 (16/11/2026–22/11/2026)"),
    ("month", "2026-03-31", "Tháng 2/2026"),
    ("quarter", "2026-01-10", "Quý IV/2025"),
    ("half", "2026-07-01", "6 tháng đầu năm 2026"),
    ("year", "2026-11-25", "Năm 2025"),
])
def test_the_previous_period_is_the_one_of_the_same_kind_just_before(kind, on, label):
    period = parse_period(kind, on=on)
    before = previous_period(period)
    assert (before.kind, before.label, before.end) == (kind, label, period.start)


def test_a_ranges_previous_period_has_its_length():
    before = previous_period(parse_period("range", start="2026-11-01", end="2026-11-10"))
    assert (before.first_day.isoformat(), before.last_day.isoformat(), before.days) == ("2026-10-22", "2026-10-31", 10)


# -- in the report ----------------------------------------------------------------------------------

def month_rows(terminal, site, month, content, counted, *, salt=0) -> list[dict]:
    """``counted`` ratings of one terminal in ``month`` of 2026, ``content`` of them very satisfied, the rest
    dissatisfied with no reason."""
    levels = ["very_satisfied"] * content + ["dissatisfied"] * (counted - content)
    return [rating_row(terminal, site, Q1, level, at)
            for level, at in zip(levels, spread(counted, month=month, salt=salt))]


def two_months() -> list[dict]:
    """Site A: 349/400 in November against 330/400 in October (+4.8, no clear change); site B: 17/20 against
    18/20 (−5 points on 20 ratings: too few)."""
    return (month_rows("pl-1", SITE_A, 10, 330, 400) + month_rows("pl-1", SITE_A, 11, 349, 400)
            + month_rows("vq-1", SITE_B, 10, 18, 20, salt=1) + month_rows("vq-1", SITE_B, 11, 17, 20, salt=1))


NOVEMBER = parse_period("month", on="2026-11-10")


@pytest.fixture
def pulled(tmp_path):
    path = tmp_path / "pulled.db"
    write_pulled_db(path, two_months())
    return path


def changes(report: dict) -> dict:
    out = {g["label"]: g["change"] for g in report["groups"]}
    out["total"] = report["total"]["change"]
    return {label: (c["counted"], c["previous_counted"], c["difference"], c["low"], c["high"], c["verdict"])
            for label, c in out.items()}


EXPECTED = {SITE_A: (400, 400, 4.8, -0.2, 9.7, "no_clear_change"),
            SITE_B: (20, 20, -5.0, None, None, "too_few"),
            "total": (420, 420, 4.3, -0.6, 9.1, "no_clear_change")}


def test_the_report_compares_the_total_and_each_group(pulled):
    report = build_report(sqlite_source(pulled), NOVEMBER)
    assert report.previous_period.label == "Tháng 10/2026"
    assert changes(report.to_dict()) == EXPECTED
    assert report.reconciles
    assert "kỳ trước: cộng các dòng theo đơn vị = tổng số lượt được tính" in {c.what for c in report.checks}


def test_the_paragraph_calls_no_clear_change_no_change(pulled):
    text = summary_vi(build_report(sqlite_source(pulled), NOVEMBER))
    assert ("So với kỳ trước (Tháng 10/2026: 82,9% trên 420 lượt), tỷ lệ hài lòng không đổi rõ rệt: chênh lệch "
            "+4,3 điểm phần trăm nằm trong mức dao động ngẫu nhiên (khoảng tin cậy 95%: từ −0,6 đến +9,1 điểm).") \
        in text
    assert "tăng" not in text and "giảm" not in text


def test_the_paragraph_on_20_ratings_is_too_few_never_a_fall(pulled):
    text = summary_vi(build_report(sqlite_source(pulled), NOVEMBER, site=SITE_B))
    assert ("So với kỳ trước (Tháng 10/2026: 90,0% trên 20 lượt): quá ít để so sánh (cần ít nhất 30 lượt mỗi kỳ, "
            "kỳ này có 20 lượt).") in text
    assert "giảm" not in text
    # Without the guard, the interval alone keeps "down 5 points on 20 ratings" from being called a fall.
    unguarded = summary_vi(build_report(sqlite_source(pulled), NOVEMBER, site=SITE_B, min_sample=10))
    assert "không đổi rõ rệt: chênh lệch −5,0 điểm phần trăm" in unguarded and "giảm" not in unguarded


def test_the_paragraph_says_a_clear_fall(tmp_path):
    path = tmp_path / "fall.db"
    write_pulled_db(path, month_rows("pl-1", SITE_A, 10, 330, 400) + month_rows("pl-1", SITE_A, 11, 300, 400))
    text = summary_vi(build_report(sqlite_source(path), NOVEMBER))
    assert ("tỷ lệ hài lòng giảm 7,5 điểm phần trăm (khoảng tin cậy 95%: từ −13,1 đến −1,8 điểm)") in text


def test_csv_and_workbook_carry_the_comparison(pulled, tmp_path):
    report = build_report(sqlite_source(pulled), NOVEMBER)
    rows = csv_rows(report)
    header = rows[0]
    body = {row[1]: dict(zip(header, row)) for row in rows[1:4]}
    assert [body[SITE_A][h] for h in header[-6:]] == [400, 82.5, 4.8, -0.2, 9.7, "không đổi rõ rệt"]
    assert [body[SITE_B][h] for h in header[-6:]] == [20, 90.0, -5.0, "", "", "quá ít để so sánh"]
    assert ["Kỳ trước", "Tháng 10/2026", "2026-10-01", "2026-10-31"] == [r for r in rows if r[:1] == ["Kỳ trước"]][0][:4]
    path = tmp_path / "r.xlsx"
    write_xlsx(report, path)
    sheet = openpyxl.load_workbook(path)["Tổng hợp"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    total = next(row for row in values if row[1] == "Tổng cộng" and row[9] == "không đổi rõ rệt")
    assert total[2:10] == [420, 0.871, 420, 0.829, 4.3, -0.6, 9.1, "không đổi rõ rệt"]


def test_a_report_without_the_previous_period(pulled):
    report = build_report(sqlite_source(pulled), NOVEMBER, with_previous=False)
    assert report.previous_period is None and report.total.change is None
    assert "So với kỳ trước" not in summary_vi(report) and "So với kỳ trước" not in csv_rows(report)[0]


# -- through the server, both backends --------------------------------------------------------------

@pytest.fixture
def uploaded(server):
    terminals = {"pl-1": server.enroll(site=SITE_A, counter=Q1), "vq-1": server.enroll(site=SITE_B, counter=Q1)}
    upload_rows(server, terminals, two_months())
    return server, server.admin_headers()


def test_the_api_gives_the_comparison(uploaded, pulled):
    server, headers = uploaded
    answer = server.get(SUMMARY, params={"period": "month", "on": "2026-11-10"}, headers=headers)
    assert answer.status_code == 200, answer.text
    report = answer.json()["report"]
    assert changes(report) == EXPECTED
    assert report["previous_period"]["label"] == "Tháng 10/2026"
    offline = build_report(sqlite_source(pulled), NOVEMBER).to_dict()
    assert report["total"]["change"] == offline["total"]["change"]
    csv_text = server.get(SUMMARY, params={"period": "month", "on": "2026-11-10", "format": "csv"},
                          headers=headers).content.decode("utf-8-sig")
    assert "So với kỳ trước" in csv_text.splitlines()[0] and "quá ít để so sánh" in csv_text
    book = openpyxl.load_workbook(io.BytesIO(server.get(
        SUMMARY, params={"period": "month", "on": "2026-11-10", "format": "xlsx"}, headers=headers).content))
    assert any(c.value == "So với kỳ trước" for row in book["Tổng hợp"].iter_rows() for c in row)


def test_the_dashboard_shows_the_comparison(uploaded):
    server, _headers = uploaded
    from dashboard_fixtures import log_in
    session = log_in(server, server.person())
    html = session.get(server.url + "/", params={"period": "month", "on": "2026-11-10"}, timeout=30).text
    assert '<span id="previous-verdict">không đổi rõ rệt</span>' in html
    found = re.search(r'id="previous-change"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert "kỳ trước 82,9% (n=420)" in " ".join(found.split()) and "từ −0,6 đến +9,1 điểm" in found
    groups = re.search(r'<table class="rates" id="groups">(.*?)</table>', html, re.S).group(1)
    assert "<th>So với kỳ trước</th>" in groups and "quá ít để so sánh · n trước=20" in groups


def test_the_terminal_table_shows_the_verdict_with_n(pulled):
    from reports.render import render_table

    table = render_table(build_report(sqlite_source(pulled), NOVEMBER))
    assert "So với kỳ trước (Tháng 10/2026)" in table
    assert "không đổi rõ rệt (+4,8 điểm; KTC 95% −0,2…+9,7; n trước 400)" in table
    assert "quá ít để so sánh (n trước 20)" in table

"""The report's figures on a known data set: the tables per site, counter and terminal, the checks,
the small-sample guard and the shrunk ranking, trend and heat map, the seed article's shape."""

from __future__ import annotations

import pytest

from report_fixtures import (SITE_A, SITE_B, SITE_C, known_rows, local_iso, rating_row, seed_article_rows,
                             write_pulled_db)
from reports import Cell, build_report, parse_period, sqlite_source
from reports.figures import Check


@pytest.fixture
def known_db(tmp_path):
    path = tmp_path / "known.db"
    write_pulled_db(path, known_rows())
    return path


def november(path, **options):
    return build_report(sqlite_source(path), parse_period("month", on="2026-11-10"), **options)


def table(report):
    """(rank, label, counted, very, satisfied, dissatisfied, pct very/sat/dis, rate, filtered, too_few, shrunk)."""
    return [(c.rank, c.label, c.counted, c.very_satisfied, c.satisfied, c.dissatisfied,
             c.pct["very_satisfied"], c.pct["satisfied"], c.pct["dissatisfied"], c.satisfaction_rate, c.filtered,
             c.too_few, c.shrunk_rate) for c in report.groups]


# Worked out by hand (see known_rows): overall 108 of 126 content, p̄ = 6/7, prior weight 30.
EXPECTED = {
    "site": [
        (1, SITE_A, 80, 50, 23, 7, 62.5, 28.8, 8.8, 91.3, 3, False, 89.7),
        (2, SITE_B, 1, 0, 0, 1, 0.0, 0.0, 100.0, 0.0, 0, True, 82.9),
        (3, SITE_C, 45, 25, 10, 10, 55.6, 22.2, 22.2, 77.8, 0, False, 81.0),
    ],
    "counter": [
        (1, f"{SITE_A} – Quầy 1", 60, 40, 15, 5, 66.7, 25.0, 8.3, 91.7, 2, False, 89.7),
        (2, f"{SITE_A} – Quầy 2", 20, 10, 8, 2, 50.0, 40.0, 10.0, 90.0, 1, True, 87.4),
        (3, f"{SITE_B} – Quầy 1", 1, 0, 0, 1, 0.0, 0.0, 100.0, 0.0, 0, True, 82.9),
        (4, f"{SITE_C} – Quầy 1", 45, 25, 10, 10, 55.6, 22.2, 22.2, 77.8, 0, False, 81.0),
    ],
    "terminal": [
        (1, "pl-1", 60, 40, 15, 5, 66.7, 25.0, 8.3, 91.7, 2, False, 89.7),
        (2, "yk-2", 5, 5, 0, 0, 100.0, 0.0, 0.0, 100.0, 0, True, 87.8),
        (3, "pl-2", 20, 10, 8, 2, 50.0, 40.0, 10.0, 90.0, 1, True, 87.4),
        (4, "vq-1", 1, 0, 0, 1, 0.0, 0.0, 100.0, 0.0, 0, True, 82.9),
        (5, "yk-1", 40, 20, 10, 10, 50.0, 25.0, 25.0, 75.0, 0, False, 79.6),
    ],
}


@pytest.mark.parametrize("group_by", ["site", "counter", "terminal"])
def test_known_data_set_gives_the_expected_table(known_db, group_by):
    report = november(known_db, group_by=group_by)
    assert table(report) == EXPECTED[group_by]
    total = report.total
    assert (total.counted, total.very_satisfied, total.satisfied, total.dissatisfied, total.filtered) == \
        (126, 75, 33, 18, 3)
    assert total.pct == {"very_satisfied": 59.5, "satisfied": 26.2, "dissatisfied": 14.3}
    assert total.satisfaction_rate == 85.7
    assert report.reconciles


def test_dissatisfied_by_reason_with_no_reason_and_unknown_codes(known_db):
    report = november(known_db, group_by="site")
    assert report.reasons == ["processing_time", "staff_attitude", "wifi_down", "no_reason"]
    assert report.total.dissatisfied_reasons == {"processing_time": 13, "staff_attitude": 1, "wifi_down": 1,
                                                 "no_reason": 3}
    site_a = report.groups[0]
    assert site_a.dissatisfied_reasons == {"processing_time": 3, "staff_attitude": 1, "wifi_down": 1,
                                           "no_reason": 2}


def test_filtered_presses_are_shown_but_never_counted(known_db):
    report = november(known_db, group_by="terminal")
    pl1 = next(c for c in report.groups if c.label == "pl-1")
    # pl-1 has two filtered very-satisfied presses: counted stays 60, very satisfied stays 40.
    assert (pl1.counted, pl1.very_satisfied, pl1.filtered) == (60, 40, 2)
    assert report.total.filtered == 3  # the filtered press in December is outside the period


def test_every_part_adds_up_and_the_report_says_so(known_db):
    report = november(known_db, group_by="counter")
    assert report.reconciles and report.checks and all(check.ok for check in report.checks)
    assert sum(c.counted for c in report.groups) == report.total.counted
    assert sum(c.filtered for c in report.groups) == report.total.filtered
    assert sum(c.counted for c in report.trend) == report.total.counted
    assert sum(map(sum, report.heatmap)) == report.total.counted
    for cell in (report.total, *report.groups):
        assert cell.very_satisfied + cell.satisfied + cell.dissatisfied == cell.counted
        assert sum(cell.dissatisfied_reasons.values()) == cell.dissatisfied


def test_a_sum_that_does_not_add_up_is_reported(known_db):
    report = november(known_db)
    report.checks.append(Check("a deliberately wrong sum", 2938, 2939))
    assert not report.reconciles
    assert report.to_dict()["reconciles"] is False


@pytest.mark.parametrize(("counted", "too_few"), [(0, True), (1, True), (29, True), (30, False), (31, False)])
def test_small_sample_guard_at_thirty(counted, too_few):
    assert Cell("x", satisfied=counted).too_few is too_few


def test_one_of_one_dissatisfied_is_not_ranked_last(tmp_path):
    rows = []
    for i, (site, very, bad) in enumerate([("Big good", 180, 20), ("Small bad", 0, 1), ("Mid", 60, 15)]):
        for n, level in ((very, "very_satisfied"), (bad, "dissatisfied")):
            rows += [rating_row(f"t{i}", site, "Quầy 1", level, local_iso(2026, 11, 1 + j % 28)) for j in range(n)]
    write_pulled_db(tmp_path / "r.db", rows)
    report = november(tmp_path / "r.db")
    by_raw = sorted(report.groups, key=lambda c: c.satisfaction_rate)
    assert by_raw[0].label == "Small bad"                      # 0 % raw: last by the raw rate
    assert [c.label for c in report.groups] == ["Big good", "Small bad", "Mid"]
    small = report.groups[1]
    assert small.too_few and small.satisfaction_rate == 0.0
    # (0 + 30 × 240/276) / (1 + 30) = 84.15 %: pulled toward the average 87.0 %, not down to 0 %.
    assert small.shrunk_rate == 84.2 and report.average_rate == 87.0


def test_a_unit_with_only_filtered_presses_ranks_last_without_a_rate(tmp_path):
    rows = [rating_row("t1", "Busy", None, "satisfied", local_iso(2026, 11, 3)) for _ in range(40)]
    rows += [rating_row("t2", "Only filtered", None, "satisfied", local_iso(2026, 11, 3), filtered=1)]
    write_pulled_db(tmp_path / "r.db", rows)
    report = november(tmp_path / "r.db")
    last = report.groups[-1]
    assert (last.label, last.counted, last.filtered, last.satisfaction_rate, last.shrunk_rate) == \
        ("Only filtered", 0, 1, None, None)


def test_no_ratings_at_all_still_reconciles(tmp_path):
    write_pulled_db(tmp_path / "r.db", [rating_row("t1", "A", None, "satisfied", local_iso(2025, 1, 1))])
    report = november(tmp_path / "r.db")
    assert report.total.counted == 0 and report.total.satisfaction_rate is None and report.groups == []
    assert report.reconciles and len(report.trend) == 30


def test_filters_narrow_to_one_site_counter_or_terminal(known_db):
    assert november(known_db, site=SITE_A).total.counted == 80
    assert november(known_db, site=SITE_A, counter="Quầy 2").total.counted == 20
    assert november(known_db, terminal="yk-2").total.counted == 5
    assert november(known_db, site="nowhere").total.counted == 0


def test_group_by_none_gives_the_total_only(known_db):
    report = november(known_db, group_by=None)
    assert report.groups == [] and report.total.counted == 126 and report.reconciles


def test_sites_hold_their_counters_and_terminals(known_db):
    report = november(known_db)
    assert list(report.sites) == [SITE_A, SITE_B, SITE_C]  # ranked like the site rows
    assert [c.label for c in report.sites[SITE_C]["terminals"]] == ["yk-2", "yk-1"]
    assert [c.counted for c in report.sites[SITE_A]["counters"]] == [60, 20]


def test_trend_has_every_day_of_the_month(known_db):
    report = november(known_db)
    assert report.trend_unit == "day" and len(report.trend) == 30
    assert report.trend[0].label == "01/11/2026" and report.trend[-1].label == "30/11/2026"
    assert report.trend[0].counted >= 1 and report.trend[-1].counted >= 1  # the two edge ratings


@pytest.mark.parametrize(("kind", "unit", "buckets"), [
    ("week", "day", 7), ("month", "day", 30), ("quarter", "week", 14), ("half", "month", 6), ("year", "month", 12),
])
def test_trend_unit_follows_the_period(known_db, kind, unit, buckets):
    report = build_report(sqlite_source(known_db), parse_period(kind, on="2026-11-10"))
    assert report.trend_unit == unit and len(report.trend) == buckets
    assert sum(c.counted for c in report.trend) == report.total.counted


def test_trend_can_be_asked_per_week(known_db):
    report = november(known_db, trend="week")
    # Monday 26/10 … Monday 30/11: six weeks touch November, the first and last clipped to it.
    assert len(report.trend) == 6 and report.trend[0].label == "Tuần 44 (01/11–01/11)"
    assert report.trend[-1].label == "Tuần 49 (30/11–30/11)"
    assert sum(c.counted for c in report.trend) == 126


def test_heatmap_is_local_weekday_by_local_hour(tmp_path):
    rows = [
        rating_row("t", "A", None, "satisfied", local_iso(2026, 11, 28, 7, 30)),   # Saturday 7:30 local
        rating_row("t", "A", None, "satisfied", local_iso(2026, 11, 28, 11, 59)),  # Saturday 11:59
        rating_row("t", "A", None, "dissatisfied", local_iso(2026, 11, 23, 0, 0)),  # Monday 0:00 (Sun 17:00 UTC)
        rating_row("t", "A", None, "satisfied", local_iso(2026, 11, 23, 8, 0), filtered=1),  # not counted
    ]
    write_pulled_db(tmp_path / "r.db", rows)
    report = november(tmp_path / "r.db")
    assert report.heatmap[5][7] == 1 and report.heatmap[5][11] == 1
    assert report.heatmap[0][0] == 1 and report.heatmap_dissatisfied[0][0] == 1
    assert report.heatmap[0][8] == 0
    assert sum(map(sum, report.heatmap)) == 3


def test_seed_article_shape_adds_up_to_2939(tmp_path):
    write_pulled_db(tmp_path / "hd.db", seed_article_rows())
    report = build_report(sqlite_source(tmp_path / "hd.db"), parse_period("half", on="2026-03-01"))
    total = report.total
    assert (total.very_satisfied, total.satisfied, total.dissatisfied, total.counted) == (2220, 715, 4, 2939)
    assert total.very_satisfied + total.satisfied + total.dissatisfied == 2939
    assert total.dissatisfied_reasons == {"processing_time": 3, "no_reason": 1}
    assert total.pct == {"very_satisfied": 75.5, "satisfied": 24.3, "dissatisfied": 0.1}
    assert total.satisfaction_rate == 99.9
    assert report.reconciles


def test_to_dict_round_trips(known_db):
    import json

    from reports import Report

    report = november(known_db, group_by="counter")
    data = json.loads(json.dumps(report.to_dict()))
    assert Report.from_dict(data).to_dict() == data
    assert data["groups"][0]["pct"] == {"very_satisfied": 66.7, "satisfied": 25.0, "dissatisfied": 8.3}
    assert data["reconciles"] is True and data["period"]["label"] == "Tháng 11/2026"


def test_unrecognised_levels_are_kept_out_and_shown(tmp_path):
    rows = [rating_row("t", "A", None, "satisfied", local_iso(2026, 11, 3)),
            rating_row("t", "A", None, "meh", local_iso(2026, 11, 3))]
    write_pulled_db(tmp_path / "r.db", rows)
    report = november(tmp_path / "r.db")
    assert report.total.counted == 1 and report.total.unrecognised == 1 and report.reconciles


@pytest.mark.parametrize("bad", [{"group_by": "ward"}, {"trend": "hour"}])
def test_bad_grouping_or_trend_is_refused(known_db, bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        november(known_db, **bad)

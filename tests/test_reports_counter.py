"""The counter's sections of a report, from rows as the server's queries give them (no database here; the
whole path, terminal → ingest → report → export, is tests/test_reports_officers.py): by officer with the
small-sample guard and the shrunk ranking, the dossiers' share rated, the audit counts' opening-hours edges and
bursts, the checks, and the renderings that show a section only when it is in use."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from report_fixtures import VN, local_iso
from reports import Report, parse_period
from reports.counter import report_from_dict
from reports.counter_audit import NEUTRAL_NOTE, audit_section, burst_size
from reports.counter_render import csv_section_rows, section_sentences
from reports.counter_sources import partial_utc_hours
from reports.dossiers import dossier_section
from reports.figures import Cell
from reports.officers import NO_OFFICER, officer_section
from reports.render import render_table, write_csv
from reports.periods import iso_utc
from server.opening import OpeningHours

HOURS = OpeningHours.parse("Mon-Fri 07:30-17:00; Sat 07:30-11:30")
NOVEMBER = parse_period("month", on="2026-11-10")


@pytest.mark.parametrize(("levels", "size"), [
    (["very_satisfied"] * 3, 3),
    (["very_satisfied"] * 2, 0),
    (["very_satisfied", "very_satisfied", "satisfied", "very_satisfied"], 0),  # not in a row
    (["satisfied", "very_satisfied", "very_satisfied", "very_satisfied", "very_satisfied"], 4),
    (["very_satisfied"] * 3 + ["dissatisfied"] + ["very_satisfied"] * 3, 6),  # two runs
    ([], 0),
])
def test_a_burst_is_three_very_satisfied_in_a_row(levels, size):
    assert burst_size(levels) == size


def test_the_hours_judged_by_the_minute_are_those_that_open_or_close_off_the_hour():
    # 07:30 in Hà Nội is 00:30 UTC, Saturday's 11:30 is 04:30 UTC; 17:00 is 10:00 UTC, a whole hour.
    assert partial_utc_hours(NOVEMBER, HOURS, VN) == ["00", "04"]
    assert partial_utc_hours(NOVEMBER, OpeningHours.parse("Mon-Fri 08:00-17:00"), VN) == []


def utc_minute(local: str) -> str:
    return local[:16]


def utc_hour(local: str) -> str:
    return local[:13]


def audit_of(counts, shifts=(), ratings=(), total=None):
    counted = sum(row[-1] for row in counts) if total is None else total
    places = {"t-1": ("Phường Phúc La", "Quầy 1", 4, 9), "t-2": ("Phường Phúc La", "Quầy 2", 4, 10)}
    return audit_section(NOVEMBER, HOURS, list(counts), list(shifts), sorted(ratings), places,
                         {4: "Phường Phúc La", 9: "Quầy 1", 10: "Quầy 2"}, {7: ("CB01", "Nguyễn Văn An")},
                         total_counted=counted, tz=VN)


@pytest.mark.parametrize(("local", "by_minute", "outside"), [
    ((2026, 11, 16, 7, 29, 59), True, 1),   # Monday 07:29:59: before opening
    ((2026, 11, 16, 7, 30, 0), True, 0),    # Monday 07:30: open
    ((2026, 11, 16, 9, 0, 0), False, 0),    # Monday 09:00
    ((2026, 11, 16, 17, 0, 0), False, 1),   # Monday 17:00: closed
    ((2026, 11, 14, 11, 29, 0), True, 0),   # Saturday 11:29: open
    ((2026, 11, 14, 11, 30, 0), True, 1),   # Saturday 11:30: closed
    ((2026, 11, 15, 10, 0, 0), False, 1),   # Sunday
])
def test_ratings_outside_opening_hours(local, by_minute, outside):
    at = local_iso(*local)
    when = utc_minute(at) if by_minute else utc_hour(at)
    section = audit_of([("t-1", 4, 7, "CB01", when, 1)])
    assert [(line.label, line.counted, line.outside_hours) for line in section.officers] == [
        ("Nguyễn Văn An (CB01)", 1, outside)]
    assert (section.terminals[0].outside_hours, section.total.outside_hours) == (outside, outside)


def test_ratings_with_nobody_signed_in_are_counted_per_terminal_and_as_their_own_officer_line():
    at = utc_hour(local_iso(2026, 11, 16, 9))
    section = audit_of([("t-1", 4, None, None, at, 5), ("t-1", 4, 7, "CB01", at, 3), ("t-2", 4, None, None, at, 2)])
    assert [(line.terminal, line.counted, line.no_officer) for line in section.terminals] == [("t-1", 8, 5),
                                                                                             ("t-2", 2, 2)]
    assert [(line.label, line.counted) for line in section.officers] == [("Nguyễn Văn An (CB01)", 3),
                                                                         (NO_OFFICER, 7)]
    assert all(check.ok for check in section.checks)
    assert section.note == NEUTRAL_NOTE and "không phải kết luận vi phạm" in section.note


def iso_at(base: str, seconds: float) -> str:
    moment = datetime.fromisoformat(base.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return iso_utc(moment.astimezone(timezone.utc))


SIGN_IN = local_iso(2026, 11, 16, 8)


@pytest.mark.parametrize(("presses", "signed_out_after", "burst"), [
    ([(30, "very_satisfied"), (60, "very_satisfied"), (90, "very_satisfied")], None, 3),
    ([(0, "very_satisfied"), (60, "very_satisfied"), (120, "very_satisfied")], None, 3),   # both ends included
    ([(30, "very_satisfied"), (60, "very_satisfied"), (121, "very_satisfied")], None, 0),  # the third too late
    ([(-5, "very_satisfied"), (30, "very_satisfied"), (60, "very_satisfied")], None, 0),   # one before the sign-in
    ([(30, "very_satisfied"), (40, "satisfied"), (50, "very_satisfied"), (60, "very_satisfied")], None, 0),
    ([(30, "very_satisfied"), (60, "very_satisfied"), (90, "very_satisfied")], 70, 0),     # signed out before the third
])
def test_bursts_right_after_a_sign_in(presses, signed_out_after, burst):
    out = iso_at(SIGN_IN, signed_out_after) if signed_out_after is not None else iso_at(SIGN_IN, 8 * 3600)
    ratings = [("t-1", iso_at(SIGN_IN, s), level) for s, level in presses]
    ratings.append(("t-2", iso_at(SIGN_IN, 45), "very_satisfied"))  # another terminal: not this sign-in's
    shifts = [("t-1", 4, 7, "CB01", SIGN_IN, out)]
    section = audit_of([], shifts, ratings, total=0)
    officer = section.officers[0]
    assert (officer.sign_ins, officer.bursts, officer.burst_ratings) == (1, 1 if burst else 0, burst)
    assert (section.terminals[0].terminal, section.terminals[0].bursts) == ("t-1", 1 if burst else 0)
    assert section.in_use


def officer_rows():
    """Unit 4: Nguyễn Văn An 40 (36 content), Trần Bình 2 (1 content), a code the server does not know (CB77)
    1 satisfied, nobody signed in 7 (5 content); unit 5: another officer with the code CB01, 10 very satisfied."""
    return [(4, 7, "CB01", "very_satisfied", None, 0, 30), (4, 7, "CB01", "satisfied", None, 0, 6),
            (4, 7, "CB01", "dissatisfied", "processing_time", 0, 4), (4, 7, "CB01", "very_satisfied", None, 1, 2),
            (4, 8, "CB02", "satisfied", None, 0, 1), (4, 8, "CB02", "dissatisfied", None, 0, 1),
            (4, None, "CB77", "satisfied", None, 0, 1),
            (4, None, None, "satisfied", None, 0, 5), (4, None, None, "dissatisfied", None, 0, 2),
            (5, 9, "CB01", "very_satisfied", None, 0, 10)]


NAMES = {7: ("CB01", "Nguyễn Văn An"), 8: ("CB02", "Trần Bình"), 9: ("CB01", "Lê Cường")}
UNITS = {4: "Phường Phúc La", 5: "Phường Văn Quán"}


def total_of(rows) -> Cell:
    total = Cell("Tổng cộng")
    for *_ids, rating, reason, filtered, n in rows:
        total.add(rating, reason, filtered, n)
    return total


def test_officers_are_ranked_by_the_shrunk_rate_with_the_small_sample_guard():
    rows = officer_rows()
    total = total_of(rows)  # 60 counted, 53 content (36 + 1 + 1 + 5 + 10): p̄ = 53/60
    assert (total.counted, total.content) == (60, 53)
    section = officer_section(rows, NAMES, UNITS, total_counted=total.counted, total_filtered=total.filtered,
                              total=total)
    # (content·60 + 30·53) / ((n + 30)·60): Cường 10/10 → 2190/2400 = 91.25 → 91.3; An 36/40 → 3750/4200 = 89.3;
    # CB77 1/1 → 1650/1860 = 88.7; Bình 1/2 → 1650/1920 = 85.9. An alone has 30 or more.
    assert [(c.rank, c.label, c.site, c.counted, c.shrunk_rate, c.too_few) for c in section.lines] == [
        (1, "Lê Cường (CB01)", "Phường Văn Quán", 10, 91.3, True),
        (2, "Nguyễn Văn An (CB01)", "Phường Phúc La", 40, 89.3, False),
        (3, "CB77 (không có trong danh sách cán bộ)", "Phường Phúc La", 1, 88.7, True),
        (4, "Trần Bình (CB02)", "Phường Phúc La", 2, 85.9, True),
    ]
    assert (section.no_officer.counted, section.no_officer.rank, section.lines[1].filtered) == (7, None, 2)
    assert section.several_units and section.in_use
    assert all(check.ok for check in section.checks)


def test_an_officers_section_that_does_not_add_up_says_so():
    rows = officer_rows()
    section = officer_section(rows, NAMES, UNITS, total_counted=total_of(rows).counted + 1)
    assert [check.ok for check in section.checks] == [False]


def test_no_officer_signed_in_anywhere_is_not_in_use():
    rows = [(4, None, None, "satisfied", None, 0, 5)]
    section = officer_section(rows, NAMES, UNITS, total_counted=5)
    assert section.lines == [] and not section.in_use and section.no_officer.counted == 5


def test_dossiers_share_rated_counts_replaced_and_unanswered_invitations_as_not_rated():
    rows = [(4, "t-1", "rated", 3), (4, "t-1", "unanswered", 2), (4, "t-2", "replaced", 1), (4, "t-2", "rated", 1),
            (5, "t-3", "rated", 1), (5, "t-3", "expired_somehow", 1)]
    places = {"t-1": ("Phường Phúc La", "Quầy 1", 4, 9), "t-2": ("Phường Phúc La", "Quầy 2", 4, 10),
              "t-3": ("Phường Văn Quán", None, 5, 0)}
    names = {4: "Phường Phúc La", 5: "Phường Văn Quán", 9: "Quầy 1", 10: "Quầy 2"}
    section = dossier_section(rows, places, names, repeats=2, counted=9)
    assert [(x.label, x.invitations, x.rated, x.unanswered, x.replaced, x.other, x.share_rated)
            for x in section.counters] == [
        ("Phường Phúc La – Quầy 1", 5, 3, 2, 0, 0, 60.0), ("Phường Phúc La – Quầy 2", 2, 1, 0, 1, 0, 50.0),
        ("Phường Văn Quán – (không ghi quầy)", 2, 1, 0, 0, 1, 50.0)]
    assert [(x.label, x.invitations, x.share_rated) for x in section.units] == [("Phường Phúc La", 7, 57.1),
                                                                               ("Phường Văn Quán", 2, 50.0)]
    t = section.total
    assert (t.invitations, t.rated, t.share_rated, t.too_few, section.repeats) == (9, 5, 55.6, True, 2)
    assert section.reconciles
    assert not dossier_section(rows, places, names, counted=10).reconciles  # a different count: not hidden


def report_with_sections(tmp_path, *, in_use: bool) -> Report:
    """A report of a pulled file with sections of other rows, as the server adds them (their own checks)."""
    from report_fixtures import known_rows, write_pulled_db
    from reports import build_report, sqlite_source

    path = tmp_path / f"known-{in_use}.db"
    write_pulled_db(path, known_rows())
    report = build_report(sqlite_source(path), NOVEMBER)
    rows = officer_rows() if in_use else [(4, None, None, "satisfied", None, 0, 5)]
    total = total_of(rows)
    report.officers = officer_section(rows, NAMES, UNITS, total_counted=total.counted, total=total)
    report.dossiers = dossier_section([(4, "t-1", "rated", 1)] if in_use else [], {}, UNITS)
    at = utc_hour(local_iso(2026, 11, 16, 9))
    report.audit = audit_of([("t-1", 4, 7 if in_use else None, "CB01" if in_use else None, at, total.counted)])
    return report


def test_a_report_with_its_sections_goes_to_json_and_back(tmp_path):
    report = report_with_sections(tmp_path, in_use=True)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["officers"]["lines"][0]["officer_name"] == "Lê Cường" and data["audit"]["note"] == NEUTRAL_NOTE
    assert report_from_dict(data).to_dict() == data


def test_sections_in_use_show_in_every_rendering_and_unused_ones_in_none(tmp_path):
    used, unused = report_with_sections(tmp_path, in_use=True), report_with_sections(tmp_path, in_use=False)
    out = io.StringIO()
    write_csv(used, out)
    assert "Kết quả theo cán bộ tiếp nhận" in out.getvalue() and "Nguyễn Văn An" in out.getvalue()
    assert "không phải kết luận vi phạm" in out.getvalue()
    assert "Nguyễn Văn An" in render_table(used) and len(section_sentences(used)) == 3
    assert csv_section_rows(unused) == [] and section_sentences(unused) == []
    assert "Kết quả theo cán bộ" not in render_table(unused)


class _Dialect:
    def __init__(self, name):
        self.dialect = type("D", (), {"name": name})()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_database_judges_opening_hours_only_under_one_offset_all_period_long(dialect):
    from reports.counter_sources import opening_condition

    vn = opening_condition(_Dialect(dialect), NOVEMBER, HOURS, VN)
    assert "'0730'" in vn and "'1700'" in vn and "'1130'" in vn and "420 minutes" in vn  # UTC+7
    london = parse_period("range", start="2026-03-20", end="2026-04-05", tz="Europe/London")
    from zoneinfo import ZoneInfo

    assert opening_condition(_Dialect(dialect), london, HOURS, ZoneInfo("Europe/London")) is None  # summer time

"""The dashboard's SVG charts keep a sensible size on the page whatever the period."""

from __future__ import annotations

import re

import pytest

from report_fixtures import known_rows, write_pulled_db
from reports import build_report, parse_period, sqlite_source
from server.dashboard import charts

DESKTOP_CSS_WIDTH = 1100  # about the overview's content column on a 1366 px screen
TREND_CSS_MIN_WIDTH = 480  # svg.trend { min-width } in dashboard.css


@pytest.fixture(scope="module")
def november(tmp_path_factory):
    path = tmp_path_factory.mktemp("charts") / "pulled.db"
    write_pulled_db(path, known_rows())
    return path


def drawn_size(svg: str) -> tuple[float, float]:
    _x, _y, width, height = map(float, re.search(r'viewBox="([^"]+)"', svg).group(1).split())
    return width, height


@pytest.mark.parametrize("kind, period", [
    ("day", {"on": "2026-11-25"}), ("week", {"on": "2026-11-25"}), ("month", {"on": "2026-11-25"}),
    ("quarter", {"on": "2026-11-25"}), ("half", {"on": "2026-11-25"}), ("year", {"on": "2026-11-25"}),
    ("range", {"start": "2026-11-01", "end": "2026-12-31"}),  # 61 days: the most day columns
    ("range", {"start": "2020-01-01", "end": "2026-12-31"}),  # 84 months
])
def test_the_trend_is_neither_a_tower_nor_a_sliver(november, kind, period):
    source = sqlite_source(november)
    report = build_report(source, parse_period(kind, **period))
    trend = report.to_dict()["trend"]
    svg = str(charts.trend_chart(trend))
    width, height = drawn_size(svg)
    assert svg.count("<title>") >= len(trend)  # every column is drawn, with its numbers
    # Scaled to the page's width, as the stylesheet does (width: 100%, height: auto).
    for css_width in (TREND_CSS_MIN_WIDTH, DESKTOP_CSS_WIDTH):
        shown = css_width * height / width
        assert 100 <= shown <= 330, (kind, len(trend), css_width, shown)

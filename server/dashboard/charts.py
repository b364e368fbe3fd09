"""Charts as inline SVG, drawn on the server: no script, no chart library, nothing fetched.

Each function takes figures from ``Report.to_dict()`` and returns markup that
scales with its container (``viewBox``), carries a ``<title>`` per mark (the
exact numbers, for a long press or a hover) and a text label beside each bar,
so no figure is told by colour alone.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from reports.labels import LEVEL_LABELS, LEVELS, WEEKDAYS_SHORT, reason_label, vi_int, vi_pct

LEVEL_CLASSES = {"very_satisfied": "lv-very", "satisfied": "lv-ok", "dissatisfied": "lv-bad"}


def _svg(width: int, height: int, body: list[str], label: str, css: str) -> Markup:
    return Markup(f'<svg class="chart {css}" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-label="{escape(label)}" preserveAspectRatio="xMinYMin meet">'
                  + "".join(body) + "</svg>")


def _bars(rows: list[tuple[str, float, str, str]], label: str, css: str) -> Markup:
    """Horizontal bars, each under its label (narrow enough to read on a phone): (label, share 0..1, value, class)."""
    width, row = 420, 46
    body = []
    for i, (name, share, value, cls) in enumerate(rows):
        y = i * row
        bar = (width - 110) * share
        body.append(f'<text x="0" y="{y + 14}" class="lbl">{escape(name)}</text>'
                    f'<rect x="0" y="{y + 19}" width="{bar:.1f}" height="20" class="{cls}">'
                    f'<title>{escape(name)}: {escape(value)}</title></rect>'
                    f'<text x="{bar + 6:.1f}" y="{y + 34}" class="val">{escape(value)}</text>')
    return _svg(width, max(row * len(rows), row), body, label, css)


def levels_chart(cell: dict) -> Markup:
    """Three bars: each level's share of the counted ratings, with its percentage and count."""
    rows = [(LEVEL_LABELS[level], (cell["pct"].get(level) or 0.0) / 100,
             f"{vi_pct(cell['pct'].get(level))} ({vi_int(cell[level])})", LEVEL_CLASSES[level]) for level in LEVELS]
    return _bars(rows, f"Ba mức đánh giá, n={cell['counted']}", "levels")


def reasons_chart(cell: dict, reasons: list[str]) -> Markup:
    """One bar per reason of dissatisfaction (no reason given included), longest = most."""
    counts = [(key, cell["dissatisfied_reasons"].get(key, 0)) for key in reasons]
    most = max((n for _k, n in counts), default=0) or 1
    rows = [(reason_label(key), n / most, vi_int(n), "lv-bad") for key, n in counts]
    return _bars(rows, "Lý do không hài lòng", "reasons")


#: The trend's drawing is between these widths, whatever its number of columns: it is scaled to the
#: page's width, so a narrow drawing (a day is one column) would stand thousands of pixels tall, and
#: a very wide one (years of months) would shrink to a sliver.
TREND_MIN_WIDTH, TREND_MAX_WIDTH = 720, 960


def trend_chart(trend: list[dict]) -> Markup:
    """One column per day/week/month: the three levels stacked to 100 %, the count (n) beneath.

    The drawing is :data:`TREND_MIN_WIDTH` to :data:`TREND_MAX_WIDTH` wide and 206 tall, so on the
    page it is a fifth to a third as tall as it is wide, whatever the period:

    >>> import re
    >>> cell = {"label": "25/11/2026", "counted": 0, "pct": {}, "very_satisfied": 0, "satisfied": 0, "dissatisfied": 0}
    >>> [re.search(r'viewBox="([^"]+)"', trend_chart([cell] * n)).group(1) for n in (1, 31, 120)]
    ['0 0 720 206', '0 0 960 206', '0 0 960 206']
    """
    n = max(len(trend), 1)
    left, top, plot_h = 40, 10, 160
    step = min(60.0, (TREND_MAX_WIDTH - left) / n)
    width = max(TREND_MIN_WIDTH, round(left + step * n))
    gap = min(2.0, step / 4)  # between columns
    body = [f'<line x1="38" y1="{top}" x2="{width}" y2="{top}" class="grid"/>',
            f'<line x1="38" y1="{top + plot_h / 2}" x2="{width}" y2="{top + plot_h / 2}" class="grid"/>',
            f'<text x="34" y="{top + 4}" class="axis" text-anchor="end">100%</text>',
            f'<text x="34" y="{top + plot_h / 2 + 4}" class="axis" text-anchor="end">50%</text>',
            f'<text x="34" y="{top + plot_h + 4}" class="axis" text-anchor="end">0%</text>']
    every = max(1, n // 12)  # labels on at most about a dozen columns
    for i, cell in enumerate(trend):
        x = left + i * step
        y = top + plot_h
        for level in reversed(LEVELS):  # dissatisfied at the bottom, where a rise shows
            share = (cell[level] / cell["counted"]) if cell["counted"] else 0
            h = plot_h * share
            y -= h
            if h:
                body.append(f'<rect x="{x + gap / 2:.1f}" y="{y:.1f}" width="{step - gap:.1f}" height="{h:.1f}" '
                            f'class="{LEVEL_CLASSES[level]}"><title>{escape(cell["label"])} — '
                            f'{escape(LEVEL_LABELS[level])}: {vi_int(cell[level])} '
                            f'({vi_pct(cell["pct"].get(level))})</title></rect>')
        if not cell["counted"]:
            body.append(f'<rect x="{x + gap / 2:.1f}" y="{top}" width="{step - gap:.1f}" height="{plot_h}" '
                        f'class="empty"><title>{escape(cell["label"])}: không có lượt đánh giá</title></rect>')
        if i % every == 0:
            body.append(f'<text x="{x + step / 2:.1f}" y="{top + plot_h + 16}" class="axis" '
                        f'text-anchor="middle">{escape(_short(cell["label"]))}</text>')
        if step >= 14 or i % every == 0:  # narrower, the counts would overlap: each column's title has it
            body.append(f'<text x="{x + step / 2:.1f}" y="{top + plot_h + 30}" class="axis n" '
                        f'text-anchor="middle">{cell["counted"]}</text>')
    body.append(f'<text x="34" y="{top + plot_h + 30}" class="axis n" text-anchor="end">n=</text>')
    return _svg(width, top + plot_h + 36, body, "Xu hướng theo thời gian", "trend")


def _short(label: str) -> str:
    """A column label short enough to sit under a column: ``25/11`` from ``25/11/2026``."""
    first = label.split(" ")[-1] if label.count("/") >= 2 and " " in label else label
    parts = first.split("/")
    return "/".join(parts[:2]) if len(parts) == 3 else label[:10]


def heatmap_chart(heatmap: list[list[int]], dissatisfied: list[list[int]] | None = None) -> Markup:
    """Weekdays × hours of the day (local time): each cell's shade and number is its counted ratings."""
    most = max((max(row) for row in heatmap), default=0) or 1
    cell_w, cell_h, left, top = 26, 24, 34, 18
    body = [f'<text x="{left + h * cell_w + cell_w / 2}" y="12" class="axis" text-anchor="middle">{h}</text>'
            for h in range(24)]
    for d, row in enumerate(heatmap):
        y = top + d * cell_h
        body.append(f'<text x="0" y="{y + 16}" class="axis">{WEEKDAYS_SHORT[d]}</text>')
        for h, n in enumerate(row):
            x = left + h * cell_w
            bad = dissatisfied[d][h] if dissatisfied else 0
            level = 0 if not n else 1 + int(4 * n / most - 1e-9)  # 0 (none) … 4 (busiest)
            body.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" class="heat h{level}">'
                        f'<title>{WEEKDAYS_SHORT[d]} {h:02d}:00–{h:02d}:59: {n} lượt'
                        f'{f", {bad} không hài lòng" if bad else ""}</title></rect>')
            if n:
                body.append(f'<text x="{x + (cell_w - 2) / 2}" y="{y + 15}" class="heat-n{" hi" if level >= 3 else ""}" '
                            f'text-anchor="middle">{n}</text>')
    return _svg(left + 24 * cell_w, top + 7 * cell_h, body, "Lượt đánh giá theo giờ và thứ", "heatmap")

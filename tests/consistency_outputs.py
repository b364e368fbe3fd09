"""Small, independent readers of every output of a report, and the figures a plain SQL GROUP BY gives.

Used by ``tests/test_report_consistency.py``. Nothing here calls the product's formatting or
figure code: each reader parses what a person (or Excel) would see, and :func:`expected_figures`
counts the rows of the ``ratings`` table itself, buckets local time with :mod:`zoneinfo` and
rounds with :class:`fractions.Fraction` and :mod:`decimal`. Only the vocabulary (codes and their
Vietnamese labels) is shared, since that is what the outputs are written in.

Every reader answers the same shape, a dict of the *aspects* it shows (see :data:`ASPECTS`):
a "row" is a dict of some of :data:`ROW_KEYS`, and percentages are text with one decimal
(``"87.3"``), or None where an output shows none ("–").
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from sync.vocabulary import LEVEL_LABELS, LEVELS, NO_REASON, NO_REASON_LABELS, REASON_LABELS

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MIN_SAMPLE, PRIOR_WEIGHT = 30, 30
NO_COUNTER_LABEL = "(không ghi quầy)"

#: What a row of a report may show; each output shows some of these.
ROW_KEYS = ("counted", *LEVELS, *(f"pct_{level}" for level in LEVELS), "rate", "filtered", "reasons", "too_few",
            "shrunk")
#: The parts of a report an output may show (each compared by its own assertion).
ASPECTS = ("total", "groups", "ranks", "reasons", "trend", "heatmap", "sites", "average", "paragraph")

LABEL_TO_REASON = {**{label: code for code, label in REASON_LABELS["vi"].items()}, NO_REASON_LABELS["vi"]: NO_REASON}
WEEKDAYS_SHORT = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")
WEEKDAYS_LONG = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


def half_up(part, whole) -> str | None:
    """``part`` of ``whole`` in percent, half up to one decimal, as text: ``half_up(349, 400) == "87.3"``."""
    if not whole:
        return None
    tenths = math.floor(Fraction(part) * 1000 / Fraction(whole) + Fraction(1, 2))  # exact: no float, no Decimal
    return f"{tenths // 10}.{tenths % 10}"


def pct_text(value) -> str | None:
    """A percentage read as a number (87.3, 87.29999…) as one-decimal text."""
    return None if value is None or value == "" else f"{float(value):.1f}"


# -- the figures from the ratings table -----------------------------------------------------------

@dataclass(frozen=True)
class PeriodSpec:
    """A period as the test asks for it: the local days it covers (``first`` to ``after``, exclusive)."""

    kind: str
    on: str | None
    start: str | None
    end: str | None
    first: date
    after: date
    unit: str  # day, week or month: the trend's buckets (the default for its length)

    def local_bounds(self) -> tuple[datetime, datetime]:
        return (datetime(self.first.year, self.first.month, self.first.day, tzinfo=VN),
                datetime(self.after.year, self.after.month, self.after.day, tzinfo=VN))


def _vi_date(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def trend_buckets(period: PeriodSpec) -> list[tuple[date, str]]:
    """(first day, label) of every trend bucket of the period, empty ones too."""
    last = period.after - timedelta(days=1)
    out = []
    if period.unit == "day":
        day = period.first
        while day <= last:
            out.append((day, _vi_date(day)))
            day += timedelta(days=1)
    elif period.unit == "week":
        monday = period.first - timedelta(days=period.first.weekday())
        while monday <= last:
            start, end = max(monday, period.first), min(monday + timedelta(days=6), last)
            out.append((monday, f"Tuần {monday.isocalendar()[1]} ({start.day:02d}/{start.month:02d}–"
                                f"{end.day:02d}/{end.month:02d})"))
            monday += timedelta(days=7)
    else:
        first = period.first.replace(day=1)
        while first <= last:
            out.append((first, f"Tháng {first.month}/{first.year}"))
            first = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return out


def _bucket_of(day: date, unit: str) -> date:
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


class Tally:
    """Counts of one row: levels, filtered presses, dissatisfied by reason."""

    def __init__(self):
        self.levels = dict.fromkeys(LEVELS, 0)
        self.filtered = 0
        self.reasons: dict[str, int] = defaultdict(int)

    def add(self, level, reason, filtered, n):
        if filtered:
            self.filtered += n
            return
        self.levels[level] += n
        if level == "dissatisfied":
            self.reasons[reason or NO_REASON] += n

    @property
    def counted(self) -> int:
        return sum(self.levels.values())

    @property
    def content(self) -> int:
        return self.levels["very_satisfied"] + self.levels["satisfied"]

    def row(self, *, average: Fraction | None = None) -> dict:
        counted = self.counted
        row = {"counted": counted, **self.levels, **{f"pct_{lv}": half_up(self.levels[lv], counted) for lv in LEVELS},
               "rate": half_up(self.content, counted), "filtered": self.filtered,
               "reasons": {k: n for k, n in self.reasons.items() if n}, "too_few": counted < MIN_SAMPLE}
        if average is not None and counted:
            row["shrunk"] = half_up(self.content + PRIOR_WEIGHT * average, counted + PRIOR_WEIGHT)
        else:
            row["shrunk"] = None
        return row

    def exact_shrunk(self, average: Fraction | None) -> Fraction | None:
        if average is None or not self.counted:
            return None
        return (self.content + PRIOR_WEIGHT * average) / (self.counted + PRIOR_WEIGHT)


def local_time(corrected_at: str) -> datetime:
    """``2026-12-31T16:59:59.999Z`` → the aware local time in Asia/Ho_Chi_Minh."""
    return datetime.strptime(corrected_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).astimezone(VN)


#: Counts of the ratings table with every column a report may group by; the rest is done in Python.
GROUP_BY_SQL = ("SELECT site, counter, terminal_id, rating, reason, filtered, corrected_at, COUNT(*) "
                "FROM ratings GROUP BY site, counter, terminal_id, rating, reason, filtered, corrected_at")


def group_label(grouping: str, site: str, counter: str | None, terminal: str) -> str:
    if grouping == "site":
        return site
    if grouping == "counter":
        return f"{site} – {counter or NO_COUNTER_LABEL}"
    return terminal


def expected_figures(rows, period: PeriodSpec, *, group_by: str, site: str | None = None) -> dict:
    """Every aspect of the report, from ``rows`` of :data:`GROUP_BY_SQL`
    (site, counter, terminal, rating, reason, filtered, corrected_at, n)."""
    start, end = period.local_bounds()
    total = Tally()
    units: dict[tuple, Tally] = defaultdict(Tally)
    buckets = {first: Tally() for first, _label in trend_buckets(period)}
    heat = defaultdict(int)
    heat_bad = defaultdict(int)
    for r_site, r_counter, r_terminal, level, reason, filtered, corrected_at, n in rows:
        local = local_time(corrected_at)
        if not start <= local < end or (site is not None and r_site != site):
            continue
        total.add(level, reason, filtered, n)
        units[(r_site, r_counter, r_terminal)].add(level, reason, filtered, n)
        buckets[_bucket_of(local.date(), period.unit)].add(level, reason, filtered, n)
        if not filtered:
            heat[(local.weekday(), local.hour)] += n
            if level == "dissatisfied":
                heat_bad[(local.weekday(), local.hour)] += n
    average = Fraction(total.content, total.counted) if total.counted else None

    def folded(grouping: str, keys) -> dict[str, Tally]:
        out: dict[str, Tally] = defaultdict(Tally)
        for key in keys:
            target, unit = out[group_label(grouping, *key)], units[key]
            for level in LEVELS:
                target.levels[level] += unit.levels[level]
            target.filtered += unit.filtered
            for reason, n in unit.reasons.items():
                target.reasons[reason] += n
        return out

    def rows_of(tallies: dict[str, Tally]) -> dict[str, dict]:
        return {label: t.row(average=average) for label, t in tallies.items()}

    def order(tallies: dict[str, Tally]) -> list[Fraction | None]:
        return [t.exact_shrunk(average) for t in tallies.values()]

    groups = folded(group_by, units)
    sites = {}
    for site_name in sorted({key[0] for key in units}):
        own = [key for key in units if key[0] == site_name]
        sites[site_name] = {"counters": rows_of(folded("counter", own)), "terminals": rows_of(folded("terminal", own))}
    total_row = total.row()
    total_row.pop("shrunk")
    labels = dict(trend_buckets(period))
    return {
        "total": total_row,
        "groups": rows_of(groups),
        "shrunk_exact": {label: t.exact_shrunk(average) for label, t in groups.items()},
        "reasons": {k: n for k, n in total.reasons.items() if n},
        "trend": {labels[first]: {k: v for k, v in t.row().items() if k != "shrunk"}
                  for first, t in buckets.items()},
        "heatmap": {"counted": {k: v for k, v in heat.items() if v}, "dissatisfied": {k: v for k, v in heat_bad.items()
                                                                                     if v}},
        "sites": sites,
        "average": half_up(total.content, total.counted),
        "order": order,
    }


# -- values as the outputs write them ---------------------------------------------------------------

def vi_number(text: str) -> int:
    """``1.234`` → 1234 (a dot between thousands)."""
    text = text.strip()
    if not re.fullmatch(r"\d{1,3}(\.\d{3})*", text):
        raise ValueError(f"not a Vietnamese whole number: {text!r}")
    return int(text.replace(".", ""))


def vi_percent(text: str) -> str | None:
    """``87,3%`` → "87.3"; ``–`` → None."""
    text = text.strip()
    if text == "–":
        return None
    match = re.fullmatch(r"(\d+),(\d)%", text)
    if not match:
        raise ValueError(f"not a Vietnamese percentage: {text!r}")
    return f"{match[1]}.{match[2]}"


def _reasons_from_labels(values: dict[str, object]) -> dict[str, int]:
    return {LABEL_TO_REASON.get(label, label): int(n) for label, n in values.items() if int(n or 0)}


# -- the terminal table (kiosk-admin report --format table) ------------------------------------------

def _columns(dashes: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"-+", dashes)]


def _table_rows(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """A table of :func:`reports.render._table`: the header line, a line of dashes, rows; columns by the dashes."""
    spans = _columns(lines[1])

    def cut(line):
        cells = []
        for i, (a, b) in enumerate(spans):
            piece = line[a:b] if i + 1 < len(spans) else line[a:]
            cells.append(piece.strip())
        return cells

    return cut(lines[0]), [cut(line) for line in lines[2:]]


def _level_row(cells: dict[str, str]) -> dict:
    out = {"counted": vi_number(cells["Số lượt"]), "filtered": vi_number(cells["Bị lọc"]),
           "rate": vi_percent(cells["Tỷ lệ HL"])}
    for level, short, pct_col in (("very_satisfied", "Rất HL", 0), ("satisfied", "Hài lòng", 1),
                                  ("dissatisfied", "Không HL", 2)):
        out[level] = vi_number(cells[short])
        out[f"pct_{level}"] = vi_percent(cells[f"%{pct_col}"])
    return out


def _named(headers: list[str], cells: list[str]) -> dict[str, str]:
    named, pcts = {}, 0
    for header, cell in zip(headers, cells):
        if header == "%":
            header, pcts = f"%{pcts}", pcts + 1
        named[header] = cell
    return named


def read_table(text: str) -> dict:
    """The aspects of the plain-text report."""
    sections = [s.splitlines() for s in text.rstrip("\n").split("\n\n")]
    groups_lines, reasons_lines, trend_lines, heat_lines = sections[1], sections[2], sections[3], sections[4]
    note = [line for line in groups_lines if line.startswith("ít mẫu:")]
    headers, rows = _table_rows([line for line in groups_lines if not line.startswith("ít mẫu:")])
    groups, ranks, total = {}, [], None
    for cells in rows:
        named = _named(headers, cells)
        row = _level_row(named) | {"too_few": named["Ghi chú"] == "ít mẫu"}
        if named[headers[1]] == "Tổng cộng" and named["#"] == "":
            total = row
        else:
            row["shrunk"] = vi_percent(named["Xếp hạng theo"])
            groups[named[headers[1]]] = row
            ranks.append((int(named["#"]), named[headers[1]]))
    _h, reason_rows = _table_rows(reasons_lines)
    reasons = _reasons_from_labels({cells[0]: vi_number(cells[1]) for cells in reason_rows})
    reason_pcts = {LABEL_TO_REASON.get(cells[0], cells[0]): vi_percent(cells[2]) for cells in reason_rows}
    t_headers, t_rows = _table_rows(trend_lines)
    trend = {cells[0]: _level_row(_named(t_headers, cells)) for cells in t_rows}
    heat = {}
    if len(heat_lines) > 1:
        h_headers, h_rows = _table_rows(heat_lines[1:])
        hours = [int(h.rstrip("h")) for h in h_headers[1:]]
        for cells in h_rows:
            day = WEEKDAYS_SHORT.index(cells[0])
            for hour, value in zip(hours, cells[1:]):
                if value != "·":
                    heat[(day, hour)] = vi_number(value)
    out = {"total": total, "groups": groups, "ranks": ranks, "reasons": reasons, "reason_pcts": reason_pcts,
           "trend": trend, "heatmap": {"counted": heat}}
    if note:
        out["average"] = vi_percent(re.search(r"mức chung (\S+) \(", note[0])[1])
    return out


# -- CSV ----------------------------------------------------------------------------------------

def read_csv(data: bytes | str) -> dict:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if not text.startswith("\ufeff"):
        raise ValueError("the CSV has no byte-order mark (Excel would garble the Vietnamese)")
    rows = list(csv.reader(io.StringIO(text[1:])))
    header = rows[0]
    groups, ranks, total = {}, [], None
    reason_cols = {h.split(" – ", 1)[1]: h for h in header if h.startswith("Không hài lòng – ")}
    for values in rows[1:]:
        if not any(values):  # the blank row before the footer (as wide as the header: the CSV is one table)
            break
        cell = dict(zip(header, values))
        row = {"counted": int(cell["Số lượt được tính"]), "filtered": int(cell["Lượt bấm bị lọc (không tính)"]),
               "rate": pct_text(cell["Tỷ lệ hài lòng (%)"]),
               "reasons": _reasons_from_labels({label: cell[col] for label, col in reason_cols.items()}),
               "too_few": {"có": True, "không": False}[cell["Ít mẫu (dưới 30 lượt)"]]}
        for level in LEVELS:
            row[level] = int(cell[LEVEL_LABELS["vi"][level]])
            row[f"pct_{level}"] = pct_text(cell[f"{LEVEL_LABELS['vi'][level]} (%)"])
        if cell["Xếp hạng"] == "":
            total = row
        else:
            row["shrunk"] = pct_text(cell["Tỷ lệ dùng để xếp hạng (%)"])
            groups[values[1]] = row
            ranks.append((int(cell["Xếp hạng"]), values[1]))
    check = next(r for r in rows if r and r[0] == "Kiểm tra")
    return {"total": total, "groups": groups, "ranks": ranks, "reasons": total["reasons"] if total else {},
            "reconciles": check[1] == "khớp"}


# -- the Excel workbook -------------------------------------------------------------------------------

def _sheet_table(ws, header_row: int) -> list[dict]:
    headers = [c.value for c in ws[header_row]]
    out = []
    for row in ws.iter_rows(min_row=header_row + 1):
        values = [c.value for c in row]
        if all(v is None for v in values):
            break
        out.append(dict(zip(headers, values)))
    return out


def _xlsx_row(cell: dict) -> dict:
    row = {"counted": cell["Số lượt được tính"], "filtered": cell["Lượt bấm bị lọc (không tính)"],
           "rate": pct_text(None if cell["Tỷ lệ hài lòng"] is None else cell["Tỷ lệ hài lòng"] * 100),
           "reasons": _reasons_from_labels({k[len("KHL: "):]: v for k, v in cell.items()
                                            if k and k.startswith("KHL: ")})}
    for level in LEVELS:
        label = LEVEL_LABELS["vi"][level]
        row[level] = cell[label]
        share = cell[f"% {label.lower()}"]
        row[f"pct_{level}"] = None if share is None else pct_text(share * 100)
    note = next(v for k, v in cell.items() if k and k.startswith("Ghi chú"))
    row["too_few"] = note is not None
    if "Tỷ lệ dùng để xếp hạng" in cell and cell.get("Xếp hạng") is not None:
        share = cell["Tỷ lệ dùng để xếp hạng"]
        row["shrunk"] = None if share is None else pct_text(share * 100)
    return row


def _ranked(rows: list[dict], first: str) -> tuple[dict, list, dict | None]:
    groups, ranks, total = {}, [], None
    for cell in rows:
        row = _xlsx_row(cell)
        if cell[first] == "Tổng cộng" and cell.get("Xếp hạng") is None:
            total = row
        else:
            groups[str(cell[first])] = row
            ranks.append((cell["Xếp hạng"], str(cell[first])))
    return groups, ranks, total


def read_xlsx(data: bytes) -> dict:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    summary, trend_ws, hours_ws, *site_sheets = book.worksheets
    if (summary.title, trend_ws.title, hours_ws.title) != ("Tổng hợp", "Theo thời gian", "Giờ trong tuần"):
        raise ValueError(f"unexpected sheets {book.sheetnames}")
    column_a = [c.value for c in summary["A"]]
    header_row = column_a.index("Xếp hạng") + 1
    first = summary.cell(row=header_row, column=2).value
    groups, ranks, total = _ranked(_sheet_table(summary, header_row), first)
    # The reasons' table may start in any column (today B, the wide label column): find its heading.
    reasons_row = next(c.row for row in summary.iter_rows() for c in row if c.value == "Lý do không hài lòng")
    reason_cells = _sheet_table(summary, reasons_row)
    reasons = _reasons_from_labels({r["Lý do không hài lòng"]: r["Số lượt"] for r in reason_cells})
    paragraph = next(v for v in column_a if isinstance(v, str) and v.startswith("Trong kỳ"))
    trend_rows = _sheet_table(trend_ws, 1)
    unit = trend_ws.cell(row=1, column=1).value
    trend = {r[unit]: _xlsx_row(r) for r in trend_rows}
    heat, heat_sum = {}, {}
    for row in hours_ws.iter_rows(min_row=3, values_only=True):
        if row[0] in WEEKDAYS_LONG:
            day = WEEKDAYS_LONG.index(row[0])
            for hour, n in enumerate(row[1:25]):
                if n:
                    heat[(day, hour)] = n
            heat_sum[day] = row[25]
    sites = {}
    for ws in site_sheets:
        name = ws["A1"].value
        col_a = [c.value for c in ws["A"]]
        tables = [i + 1 for i, v in enumerate(col_a) if v == "Xếp hạng"]
        counters, _r, site_total = _ranked(_sheet_table(ws, tables[0]), "Quầy")
        terminals, _r2, _t = _ranked(_sheet_table(ws, tables[1]), "Thiết bị")
        sites[name] = {"counters": {f"{name} – {label}": row for label, row in counters.items()},
                       "terminals": terminals, "total": site_total}
    return {"total": total, "groups": groups, "ranks": ranks, "reasons": reasons, "trend": trend,
            "heatmap": {"counted": heat}, "heat_row_sums": heat_sum, "sites": sites, "paragraph": paragraph}


# -- the API's JSON ------------------------------------------------------------------------------

def _json_row(cell: dict, *, ranked: bool) -> dict:
    row = {"counted": cell["counted"], "filtered": cell["filtered"], "rate": pct_text(cell["satisfaction_rate"]),
           "reasons": {k: n for k, n in cell["dissatisfied_reasons"].items() if n}, "too_few": cell["too_few"],
           **{level: cell[level] for level in LEVELS},
           **{f"pct_{level}": pct_text(cell["pct"][level]) for level in LEVELS}}
    if ranked:
        row["shrunk"] = pct_text(cell["shrunk_rate"])
    return row


def read_json(report: dict) -> dict:
    total = _json_row(report["total"], ranked=False)
    heat = {(d, h): n for d, row in enumerate(report["heatmap"]) for h, n in enumerate(row) if n}
    bad = {(d, h): n for d, row in enumerate(report["heatmap_dissatisfied"]) for h, n in enumerate(row) if n}
    trend = {}
    for cell in report["trend"]:
        trend[cell["label"]] = _json_row(cell, ranked=False)
    return {"total": total, "groups": {c["label"]: _json_row(c, ranked=True) for c in report["groups"]},
            "ranks": [(c["rank"], c["label"]) for c in report["groups"]], "reasons": total["reasons"],
            "trend": trend, "heatmap": {"counted": heat, "dissatisfied": bad},
            "sites": {site: {"counters": {c["label"]: _json_row(c, ranked=True) for c in parts["counters"]},
                             "terminals": {c["label"]: _json_row(c, ranked=True) for c in parts["terminals"]}}
                      for site, parts in report["sites"].items()},
            "average": pct_text(report["average_rate"]), "reconciles": report["reconciles"]}


# -- the dashboard's overview page ----------------------------------------------------------------

class _Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag=None, **attrs):
        for child in self.children:
            if isinstance(child, _Node):
                if (tag is None or child.tag == tag) and all(child.attrs.get(k.rstrip("_")) == v
                                                             for k, v in attrs.items()):
                    yield child
                yield from child.find_all(tag, **attrs)

    def find(self, tag=None, **attrs):
        return next(self.find_all(tag, **attrs), None)


class _Tree(HTMLParser):
    VOID = {"input", "br", "meta", "link", "img", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = _Node("#root", {}, None)

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(_Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def _html_rate_row(tr: _Node) -> tuple[str, dict, int | None]:
    cells = {td.attrs.get("data-label"): td.text().strip() for td in tr.find_all("td")}
    row = {"counted": vi_number(cells["n"]), "rate": vi_percent(cells["Tỷ lệ hài lòng"]),
           "filtered": vi_number(cells["Bị lọc"]), "too_few": "quá ít để so sánh" in cells["Ghi chú"]}
    for level in LEVELS:
        match = re.fullmatch(r"(\S+) \((\S+)\)", cells[LEVEL_LABELS["vi"][level]])
        row[level], row[f"pct_{level}"] = vi_number(match[1]), vi_percent(match[2])
    rank = None
    if "Hạng" in cells:
        rank = None if cells["Hạng"] == "—" else int(cells["Hạng"])
        row["shrunk"] = vi_percent(cells["Tỷ lệ dùng để xếp hạng"])
    return cells["Tên"], row, rank


def read_dashboard(html: str) -> dict:
    tree = _Tree()
    tree.feed(html)
    root = tree.root
    total = {"counted": vi_number(root.find("tr", id="level-total").find("td", class_="num count").text()),
             "rate": vi_percent(root.find(id="satisfaction-rate").text()),
             "filtered": vi_number(root.find(id="filtered").text())}
    for level in LEVELS:
        tr = root.find("tr", id=f"level-{level}")
        total[level] = vi_number(tr.find("td", class_="num count").text())
        total[f"pct_{level}"] = vi_percent(tr.find("td", class_="num pct").text())
    reasons = {}
    for tr in root.find("section", id="reasons").find_all("tr"):
        reasons[tr.attrs["id"].removeprefix("reason-")] = vi_number(tr.find("td", class_="num").text())
    reasons = {k: n for k, n in reasons.items() if n}
    total["reasons"] = reasons
    trend = {}
    for tr in root.find("section", id="trend").find("tbody").find_all("tr"):
        label, row, _rank = _html_rate_row(tr)
        trend[label] = row
    groups, ranks = {}, []
    for tr in root.find("table", id="groups").find("tbody").find_all("tr"):
        if len(list(tr.find_all("td"))) < 5:
            continue  # "Không có dữ liệu."
        label, row, rank = _html_rate_row(tr)
        groups[label] = row
        ranks.append((rank, label))
    sites = {}
    for details in root.find_all("details", class_="site-counters"):
        name = re.fullmatch(r"Các quầy của (.*) \(\d+\)", details.find("summary").text().strip())[1]
        sites[name] = {"counters": {label: row for label, row, _r in
                                    map(_html_rate_row, details.find("tbody").find_all("tr"))}}
    heat, bad = {}, {}
    for title in root.find("section", id="heatmap").find_all("title"):
        match = re.fullmatch(r"(T\d|CN) (\d\d):00–\d\d:59: (\d+) lượt(?:, (\d+) không hài lòng)?", title.text())
        day, hour = WEEKDAYS_SHORT.index(match[1]), int(match[2])
        if int(match[3]):
            heat[(day, hour)] = int(match[3])
        if match[4]:
            bad[(day, hour)] = int(match[4])
    note = root.find("section", id="compare").find("p", class_="note").text()
    return {"total": total, "groups": groups, "ranks": ranks, "reasons": reasons, "trend": trend,
            "heatmap": {"counted": heat, "dissatisfied": bad}, "sites": sites,
            "average": vi_percent(re.search(r"mức trung bình chung \(([^)]*)\)", note)[1]),
            "paragraph": root.find(id="summary").text().strip(),
            "reconciles": "ok-text" in root.find(id="reconcile").attrs.get("class", "")}


# -- the paragraph in Vietnamese ---------------------------------------------------------------

def read_paragraph(text: str) -> dict:
    """The figures of the paragraph: "… nhận được N lượt đánh giá, trong đó A lượt rất hài lòng (x%), …"."""
    text = text.strip()
    total = {"counted": vi_number(re.search(r"nhận được (\S+) lượt đánh giá", text)[1])}
    reasons = {}
    if total["counted"]:
        match = re.search(r"trong đó (\S+) lượt rất hài lòng \((\S+)\), (\S+) lượt hài lòng \((\S+)\), (\S+) lượt "
                          r"không hài lòng \((\S+)\)(?:, gồm (.*?))?; tỷ lệ hài lòng đạt (\S+%)\.", text)
        for i, level in enumerate(LEVELS):
            total[level] = vi_number(match[1 + 2 * i])
            total[f"pct_{level}"] = vi_percent(match[2 + 2 * i])
        total["rate"] = vi_percent(match[8])
        for part in re.finditer(r"(\d[\d.]*) lượt (?:về (.+?)|(không nêu lý do))(?=, \d| và \d|$)", match[7] or ""):
            if part[3]:
                key = NO_REASON
            else:
                key = next((code for code, label in REASON_LABELS["vi"].items()
                            if label[0].lower() + label[1:] == part[2]), part[2])
            reasons[key] = vi_number(part[1])
    filtered = re.search(r"Ngoài ra có (\S+) lượt bấm lặp lại", text)
    total["filtered"] = vi_number(filtered[1]) if filtered else 0
    total["reasons"] = reasons
    return {"total": total, "reasons": reasons,
            "reconciles": "Kiểm tra: các số cộng lại khớp với tổng" in text}

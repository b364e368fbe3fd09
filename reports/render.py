"""A report as people read it: a terminal table, CSV, an Excel workbook, a paragraph in Vietnamese.

Every output says whether the totals reconcile (:func:`reconcile_line`). The paragraph and that line
are written in :mod:`reports.paragraph`, the workbook in :mod:`reports.workbook`; both are named here too.

For example::

    print(render_table(report))
    write_csv(report, "quy4.csv")
    write_xlsx(report, "quy4.xlsx")
    summary_vi(report)
    # → 'Trong kỳ (Quý IV/2026), bộ phận Một cửa nhận được 2.939 lượt đánh giá, trong đó …'
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .counter_render import (AUDIT_OFFICER_HEADERS, AUDIT_TERMINAL_HEADERS, AUDIT_TITLE, DOSSIER_HEADERS,
                             DOSSIERS_TITLE, OFFICERS_TITLE, audit_explanation, audit_officer_rows, audit_terminal_rows,
                             csv_section_rows, dossier_rows, officer_headers, officer_rows, shown_audit, shown_dossiers,
                             shown_officers)
from .figures import Cell, Report
from .labels import CHANGE_HEADERS, LEVEL_LABELS, LEVELS, TREND_UNIT_LABELS_VI, WEEKDAYS_SHORT, one_decimal, reason_label, vi_int, vi_pct, vi_points
from .paragraph import reconcile_line, summary_vi
from .spreadsheet_text import csv_row
from .workbook import write_xlsx

__all__ = ["render_table", "write_csv", "write_xlsx", "summary_vi", "reconcile_line", "csv_rows"]


# -- the terminal table ---------------------------------------------------------------------------

def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]

    def line(values):
        return "  ".join(str(v).rjust(w) if i in right else str(v).ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *[line(row) for row in rows]]


def _level_cells(cell: Cell) -> list[str]:
    pct = cell.pct
    values = [vi_int(cell.counted)]
    for level in LEVELS:
        values += [vi_int(getattr(cell, level)), vi_pct(pct[level])]
    return values + [vi_pct(cell.satisfaction_rate), vi_int(cell.filtered)]


_LEVEL_HEADERS = ["Số lượt", "Rất HL", "%", "Hài lòng", "%", "Không HL", "%", "Tỷ lệ HL", "Bị lọc"]


def render_table(report: Report) -> str:
    """The report as plain-text tables for a terminal: groups ranked, reasons, trend, hours × weekdays."""
    out = [f"Báo cáo mức độ hài lòng — {report.period.label} (giờ {report.period.tz.key})"]
    filters = ", ".join(f"{k} = {v}" for k, v in report.filters.items() if v)
    if filters:
        out.append(f"Chỉ gồm: {filters}")
    if report.node:
        out.append("Cấp tổ chức: " + " › ".join(step["name"] for step in report.node["path"]))
    out.append("")
    rows = []
    compared = report.previous_period is not None
    for cell in report.groups:
        rows.append([str(cell.rank), cell.label, *_level_cells(cell), vi_pct(cell.shrunk_rate),
                     "ít mẫu" if cell.too_few else "", *([_change_words(cell)] if compared else [])])
    rows.append(["", "Tổng cộng", *_level_cells(report.total), "", "ít mẫu" if report.total.too_few else "",
                 *([_change_words(report.total)] if compared else [])])
    headers = ["#", report.grouping_label, *_LEVEL_HEADERS, "Xếp hạng theo", "Ghi chú",
               *([f"So với kỳ trước ({report.previous_period.label})"] if compared else [])]
    out += _table(headers, rows, right=set(range(2, 12)))
    if any(cell.too_few for cell in report.groups):
        out.append(f"ít mẫu: dưới {report.min_sample} lượt được tính, chưa đủ để so sánh. Thứ hạng theo tỷ lệ "
                   f"hài lòng đã điều chỉnh về mức chung {vi_pct(report.average_rate)} "
                   f"(tương đương {report.prior_weight} lượt).")
    out.append("")
    total = report.total
    reason_rows = [[reason_label(key), vi_int(total.dissatisfied_reasons.get(key, 0)),
                    vi_pct(one_decimal(total.dissatisfied_reasons.get(key, 0), total.dissatisfied))]
                   for key in report.reasons]
    out += _table(["Lý do không hài lòng", "Số lượt", "%"], reason_rows, right={1, 2})
    out.append("")
    unit = TREND_UNIT_LABELS_VI[report.trend_unit]
    out += _table([unit, *_LEVEL_HEADERS], [[c.label, *_level_cells(c)] for c in report.trend],
                  right=set(range(1, 10)))
    out.append("")
    out += _heatmap_lines(report)
    out.append("")
    out += _section_lines(report)
    out.append(reconcile_line(report))
    return "\n".join(out) + "\n"


def _section_lines(report: Report) -> list[str]:
    """The counter's sections shown (by officer, dossiers, audit counts) as plain tables."""
    def texts(rows):
        return [[vi_pct(v) if isinstance(v, float) else (vi_int(v) if isinstance(v, int) else str(v)) for v in row]
                for row in rows]

    out: list[str] = []
    if (officers := shown_officers(report)) is not None:
        headers = officer_headers(report, officers)
        out += [OFFICERS_TITLE, *_table(headers, texts(officer_rows(report, officers)),
                                        right=set(range(2 + officers.several_units + 1, len(headers) - 1))), ""]
    if (dossiers := shown_dossiers(report)) is not None:
        out += [DOSSIERS_TITLE, *_table(DOSSIER_HEADERS, texts(dossier_rows(dossiers)), right=set(range(2, 8))),
                f"Lượt đánh giá lại cùng một hồ sơ (lưu, không tính): {vi_int(dossiers.repeats)}", ""]
    if (audit := shown_audit(report)) is not None:
        out += [AUDIT_TITLE, audit_explanation(audit),
                *_table(AUDIT_OFFICER_HEADERS, texts(audit_officer_rows(audit)), right=set(range(3, 8))), "",
                *_table(AUDIT_TERMINAL_HEADERS, texts(audit_terminal_rows(audit)), right=set(range(3, 9))), ""]
    return out


def _change_words(cell: Cell) -> str:
    """``không đổi rõ rệt (+4,8; KTC 95% −0,2…+9,7; n trước 400)`` — the verdict with its figures."""
    change = cell.change
    if change is None:
        return ""
    if change.verdict == "too_few":
        return f"{change.verdict_vi} (n trước {vi_int(change.previous_counted)})"
    return (f"{change.verdict_vi} ({vi_points(change.difference)} điểm; KTC 95% {vi_points(change.low)}…"
            f"{vi_points(change.high)}; n trước {vi_int(change.previous_counted)})")


def _heatmap_lines(report: Report) -> list[str]:
    hours = [h for h in range(24) if any(report.heatmap[d][h] for d in range(7))]
    if not hours:
        return ["Giờ × thứ: không có lượt nào."]
    hours = list(range(hours[0], hours[-1] + 1))
    rows = [[WEEKDAYS_SHORT[d], *[vi_int(report.heatmap[d][h]) if report.heatmap[d][h] else "·" for h in hours]]
            for d in range(7)]
    return ["Số lượt theo giờ (giờ địa phương) × thứ:",
            *_table(["", *[f"{h}h" for h in hours]], rows, right=set(range(1, len(hours) + 1)))]


# -- CSV ------------------------------------------------------------------------------------------

def csv_rows(report: Report) -> list[list]:
    """The CSV's rows: a header, a row per group, the total, then the period and the check.

    Every row is as wide as the header (the last ones padded with empty fields), so a spreadsheet
    or a CSV reader sees one table.
    """
    reason_headers = [f"{LEVEL_LABELS['dissatisfied']} – {reason_label(key)}" for key in report.reasons]
    header = ["Xếp hạng", f"Theo {report.grouping_label.lower()}", "Đơn vị", "Quầy", "Thiết bị", "Số lượt được tính",
              *[h for level in LEVELS for h in (LEVEL_LABELS[level], f"{LEVEL_LABELS[level]} (%)")],
              "Tỷ lệ hài lòng (%)", *reason_headers, "Lượt bấm bị lọc (không tính)", f"Ít mẫu (dưới {report.min_sample} lượt)",
              "Tỷ lệ dùng để xếp hạng (%)"]
    compared = report.previous_period is not None
    if compared:
        header += CHANGE_HEADERS
    rows = [header]

    def row(cell: Cell, rank, label):
        pct = cell.pct
        return [rank if rank is not None else "", label, cell.site or "", cell.counter or "", cell.terminal or "",
                cell.counted, *[v for level in LEVELS for v in (getattr(cell, level), _num(pct[level]))],
                _num(cell.satisfaction_rate), *[cell.dissatisfied_reasons.get(k, 0) for k in report.reasons],
                cell.filtered, "có" if cell.too_few else "không", _num(cell.shrunk_rate),
                *(change_values(cell) if compared else [])]

    rows += [row(cell, cell.rank, cell.label) for cell in report.groups]
    rows.append(row(report.total, None, "Tổng cộng"))
    rows += csv_section_rows(report)  # by officer, dossiers, audit counts: when the report holds them
    rows += [[], ["Kỳ báo cáo", report.period.label, report.period.first_day.isoformat(),
                  report.period.last_day.isoformat(), report.period.tz.key],
             *([["Kỳ trước", report.previous_period.label, report.previous_period.first_day.isoformat(),
                 report.previous_period.last_day.isoformat(), report.previous_period.tz.key]] if compared else []),
             ["Kiểm tra", "khớp" if report.reconciles else "KHÔNG khớp", reconcile_line(report)]]
    width = max(len(row) for row in rows)
    return [row + [""] * (width - len(row)) for row in rows]


def change_values(cell: Cell) -> list:
    """The :data:`CHANGE_HEADERS` values of ``cell`` (empty when it has no comparison)."""
    change = cell.change
    if change is None:
        return [""] * len(CHANGE_HEADERS)
    return [change.previous_counted, _num(change.previous_rate), _num(change.difference), _num(change.low),
            _num(change.high), change.verdict_vi]


def _num(value):
    return "" if value is None else value


def write_csv(report: Report, file) -> None:
    """Write the report as CSV, UTF-8 with a byte-order mark (Excel then shows Vietnamese right).

    ``file`` is a path or an open text file (written as it is, BOM included). A text that a spreadsheet
    would read as a formula (a unit named "=…") gets a leading quote (:func:`reports.spreadsheet_text.csv_field`).
    """
    buffer = io.StringIO()
    buffer.write("\ufeff")
    csv.writer(buffer, lineterminator="\r\n").writerows(map(csv_row, csv_rows(report)))
    if hasattr(file, "write"):
        file.write(buffer.getvalue())
    else:
        Path(file).write_text(buffer.getvalue(), encoding="utf-8", newline="")

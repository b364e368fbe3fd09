"""The report as an Excel workbook for officials (openpyxl).

Sheets: "Tổng hợp" (the figures, the paragraph, the ranked groups, the reasons,
the check), "Theo thời gian" (the trend), "Giờ trong tuần" (hours × weekdays),
then one sheet per site (its counters and terminals). Headings are Vietnamese,
percentages are real numbers formatted ``0.0%``, headers are frozen, columns
sized to their content.
"""

from __future__ import annotations

import re
from pathlib import Path

from .figures import Cell, Report
from .labels import LEVEL_LABELS, LEVELS, NO_COUNTER, TREND_UNIT_LABELS_VI, WEEKDAYS, one_decimal, reason_label

PCT = "0.0%"
COUNT = "#,##0"
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


def _styles():
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    thin = Side(style="thin", color="999999")
    return {
        "title": Font(bold=True, size=14),
        "bold": Font(bold=True),
        "header_font": Font(bold=True, color="FFFFFF"),
        "header_fill": PatternFill("solid", fgColor="1F4E78"),
        "total_fill": PatternFill("solid", fgColor="DDEBF7"),
        "few_fill": PatternFill("solid", fgColor="FFF2CC"),
        "bad_font": Font(bold=True, color="C00000"),
        "wrap": Alignment(wrap_text=True, vertical="top"),
        "center": Alignment(horizontal="center", vertical="center", wrap_text=True),
        "border": Border(left=thin, right=thin, top=thin, bottom=thin),
    }


def _fraction(pct: float | None):
    """A percentage already rounded to one decimal, as the fraction Excel formats with ``0.0%``."""
    return None if pct is None else round(pct / 100, 4)


class _Sheet:
    """Rows written top to bottom, with the column widths remembered."""

    def __init__(self, ws, styles):
        self.ws, self.s, self.row, self.widths = ws, styles, 1, {}

    def put(self, col: int, value, *, fmt: str | None = None, font=None, fill=None, border=False, align=None):
        cell = self.ws.cell(row=self.row, column=col, value=value)
        if fmt:
            cell.number_format = fmt
        if font:
            cell.font = font
        if fill:
            cell.fill = fill
        if border:
            cell.border = self.s["border"]
        if align:
            cell.alignment = align
        if value is not None and not (align is self.s["wrap"]):
            width = len(f"{value:.1%}") if fmt == PCT and isinstance(value, float) else len(str(value))
            self.widths[col] = max(self.widths.get(col, 0), width)
        return cell

    def line(self, *values, **style):
        for col, value in enumerate(values, 1):
            self.put(col, value, **style)
        self.row += 1

    def header(self, headers: list[str]) -> int:
        for col, text in enumerate(headers, 1):
            self.put(col, text, font=self.s["header_font"], fill=self.s["header_fill"], border=True,
                     align=self.s["center"])
            self.widths[col] = max(self.widths.get(col, 0), min(len(text), 18))
        self.row += 1
        return self.row - 1

    def cells_table(self, first_header: str, cells: list[Cell], report: Report, *, total: Cell | None = None,
                    ranked: bool = True, label=lambda cell: cell.label) -> int:
        """A table of cells; returns the header's row."""
        headers = (["Xếp hạng"] if ranked else []) + [first_header, "Số lượt được tính"]
        for level in LEVELS:
            headers += [LEVEL_LABELS[level], f"% {LEVEL_LABELS[level].lower()}"]
        headers += ["Tỷ lệ hài lòng", *[f"KHL: {reason_label(k)}" for k in report.reasons],
                    "Lượt bấm bị lọc (không tính)", f"Ghi chú (dưới {report.min_sample} lượt: ít mẫu)"]
        if ranked:
            headers.append("Tỷ lệ dùng để xếp hạng")
        header_row = self.header(headers)
        for cell in cells:
            self._cell_row(cell, label(cell), report, ranked=ranked)
        if total is not None:
            self._cell_row(total, "Tổng cộng", report, ranked=ranked, fill=self.s["total_fill"],
                           font=self.s["bold"])
        return header_row

    def _cell_row(self, cell: Cell, label: str, report: Report, *, ranked: bool, fill=None, font=None):
        pct = cell.pct
        values: list = ([cell.rank if fill is None else None] if ranked else []) + [label, cell.counted]
        formats: list = ([None] if ranked else []) + [None, COUNT]
        for level in LEVELS:
            values += [getattr(cell, level), _fraction(pct[level])]
            formats += [COUNT, PCT]
        values += [_fraction(cell.satisfaction_rate), *[cell.dissatisfied_reasons.get(k, 0) for k in report.reasons],
                   cell.filtered, "ít mẫu, chưa đủ để so sánh" if cell.too_few else None]
        formats += [PCT, *[COUNT] * len(report.reasons), COUNT, None]
        if ranked:
            values.append(_fraction(cell.shrunk_rate) if fill is None else None)
            formats.append(PCT)
        row_fill = fill or (self.s["few_fill"] if cell.too_few else None)
        for col, (value, fmt) in enumerate(zip(values, formats), 1):
            self.put(col, value, fmt=fmt, fill=row_fill, font=font, border=True)
        self.row += 1

    def finish(self, *, freeze_row: int | None):
        from openpyxl.utils import get_column_letter

        for col, width in self.widths.items():
            self.ws.column_dimensions[get_column_letter(col)].width = min(max(width + 2, 8), 60)
        if freeze_row:
            self.ws.freeze_panes = self.ws.cell(row=freeze_row + 1, column=1)


def _sheet_title(name: str, taken: set[str]) -> str:
    base = _BAD_TITLE.sub("-", name).strip("'") or "Đơn vị"
    title, n = base[:31], 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def write_xlsx(report: Report, path) -> None:
    """Write the report as an Excel workbook to ``path`` (or a binary file; see the module's docstring)."""
    from openpyxl import Workbook

    from .render import reconcile_line, summary_vi

    styles = _styles()
    wb = Workbook()
    taken: set[str] = set()

    sheet = _Sheet(wb.active, styles)
    sheet.ws.title = _sheet_title("Tổng hợp", taken)
    sheet.put(1, "BÁO CÁO KẾT QUẢ ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG", font=styles["title"])
    sheet.widths.pop(1)
    sheet.row += 2
    sheet.line("Kỳ báo cáo:", report.period.label)
    sheet.line("Từ ngày – đến ngày:", f"{report.period.first_day:%d/%m/%Y} – {report.period.last_day:%d/%m/%Y}")
    sheet.line("Múi giờ:", report.period.tz.key)
    for name, value in report.filters.items():
        if value:
            sheet.line({"site": "Đơn vị:", "counter": "Quầy:", "terminal": "Thiết bị:"}[name], value)
    sheet.row += 1
    summary = sheet.ws.cell(row=sheet.row, column=1, value=summary_vi(report))
    summary.alignment = styles["wrap"]
    sheet.ws.merge_cells(start_row=sheet.row, start_column=1, end_row=sheet.row, end_column=10)
    sheet.ws.row_dimensions[sheet.row].height = 90
    sheet.row += 2
    grouping = report.group_by or "site"
    groups = report.groups if report.group_by else [
        cell for cell in (_site_total(report, site) for site in report.sites)]
    heading = {"site": "Đơn vị", "counter": "Đơn vị – quầy", "terminal": "Thiết bị"}[grouping]
    header_row = sheet.cells_table(heading, groups, report, total=report.total)
    sheet.row += 1
    sheet.line(f"Xếp hạng theo tỷ lệ hài lòng điều chỉnh về mức chung ({report.prior_weight} lượt), để đơn vị ít "
               "lượt không bị xếp đầu hay cuối chỉ vì vài lượt đánh giá.")
    sheet.row += 1
    sheet.line("Lý do không hài lòng", "Số lượt", "Tỷ lệ trong số không hài lòng", font=styles["bold"])
    total = report.total
    for key in report.reasons:
        n = total.dissatisfied_reasons.get(key, 0)
        sheet.line(reason_label(key), n, _fraction(one_decimal(n, total.dissatisfied)))
        sheet.ws.cell(row=sheet.row - 1, column=3).number_format = PCT
    sheet.row += 1
    check = sheet.put(1, reconcile_line(report), font=None if report.reconciles else styles["bad_font"])
    sheet.widths.pop(1, None)
    check.alignment = styles["wrap"]
    sheet.finish(freeze_row=header_row)
    sheet.ws.column_dimensions["A"].width = max(sheet.ws.column_dimensions["A"].width, 22)

    trend = _Sheet(wb.create_sheet(_sheet_title("Theo thời gian", taken)), styles)
    unit = TREND_UNIT_LABELS_VI[report.trend_unit]
    header_row = trend.cells_table(unit, report.trend, report, ranked=False)
    trend.finish(freeze_row=header_row)

    hours = _Sheet(wb.create_sheet(_sheet_title("Giờ trong tuần", taken)), styles)
    hours.line("Số lượt được tính theo giờ (giờ địa phương) và thứ trong tuần", font=styles["bold"])
    hours.widths.pop(1, None)
    header_row = hours.header(["Thứ", *[f"{h}h" for h in range(24)], "Cộng"])
    for day, name in enumerate(WEEKDAYS):
        hours.line(name, *report.heatmap[day], sum(report.heatmap[day]), fmt=None)
    hours.finish(freeze_row=header_row)

    for site, parts in report.sites.items():
        ws = _Sheet(wb.create_sheet(_sheet_title(site, taken)), styles)
        ws.put(1, site, font=styles["title"])
        ws.widths.pop(1)
        ws.row += 1
        ws.line("Kỳ báo cáo:", report.period.label)
        ws.row += 1
        header_row = ws.cells_table("Quầy", parts["counters"], report, total=_site_total(report, site),
                                    label=lambda cell: cell.counter or NO_COUNTER)
        ws.row += 1
        ws.cells_table("Thiết bị", parts["terminals"], report)
        ws.finish(freeze_row=header_row)
    wb.save(path if hasattr(path, "write") else Path(path))


def _site_total(report: Report, site: str) -> Cell:
    total = Cell(site, site=site, min_sample=report.min_sample)
    for cell in report.sites[site]["terminals"]:
        total.merge(cell)
    return total

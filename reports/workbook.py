"""The report as an Excel workbook for officials (openpyxl).

Sheets: "Tổng hợp" (the figures, the paragraph, the ranked groups, the reasons,
the check), "Theo thời gian" (the trend), "Giờ trong tuần" (hours × weekdays),
then — when the report holds them and they are in use — "Theo cán bộ", "Hồ sơ" and "Kiểm tra tại quầy"
(:mod:`reports.counter_workbook`), then one sheet per site (its counters and terminals). Headings are Vietnamese,
percentages are real numbers formatted ``0.0%`` (the figures' own values, rounded
once by :func:`sync.vocabulary.one_decimal`), headers are frozen, columns sized to
their content. Every sheet prints on A4, one page wide and as many pages tall as
it needs, its header row repeated on each page (:func:`_print_setup`).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from .figures import Cell, Report
from .labels import CHANGE_HEADERS, GROUPINGS_VI, LEVEL_LABELS, LEVELS, NO_COUNTER, TREND_UNIT_LABELS_VI, WEEKDAYS, one_decimal, reason_label
from .paragraph import reconcile_line, summary_vi
from .spreadsheet_text import write_text

PCT = "0.0%"
COUNT = "#,##0"
POINTS = "+0.0;-0.0;0.0"
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


def _styles():
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    thin = Side(style="thin", color="999999")
    return {
        "title": Font(name="Calibri", bold=True, size=14),
        "bold": Font(name="Calibri", bold=True),
        "header_font": Font(name="Calibri", bold=True, color="FFFFFF"),
        "header_fill": PatternFill("solid", fgColor="1F4E78"),
        "total_fill": PatternFill("solid", fgColor="DDEBF7"),
        "few_fill": PatternFill("solid", fgColor="FFF2CC"),
        "bad_font": Font(name="Calibri", bold=True, color="C00000"),
        "wrap": Alignment(wrap_text=True, vertical="top"),
        "center": Alignment(horizontal="center", vertical="center", wrap_text=True),
        "border": Border(left=thin, right=thin, top=thin, bottom=thin),
    }


def _fraction(pct: float | None):
    """A percentage already rounded to one decimal, as the fraction Excel formats with ``0.0%``."""
    return None if pct is None else round(pct / 100, 4)


class _Sheet:
    """Rows written top to bottom; column widths, wrapped rows and the print set-up done by :meth:`finish`."""

    def __init__(self, ws, styles):
        self.ws, self.s, self.row, self.widths = ws, styles, 1, {}
        self.header_rows: dict[int, dict[int, str]] = {}  # row -> {column: heading}, wrapped to the width
        self.texts: list[tuple[int, str, float]] = []  # (row, text, font size): merged across the sheet, wrapped

    def put(self, col: int, value, *, fmt: str | None = None, font=None, fill=None, border=False, align=None):
        cell = self.ws.cell(row=self.row, column=col)
        if isinstance(value, str):
            write_text(cell, value)  # a unit named "=…" is text, never a formula
        else:
            cell.value = value
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
        if value is not None and align is None:
            width = len(f"{value:.1%}") if fmt == PCT and isinstance(value, float) else len(str(value))
            self.widths[col] = max(self.widths.get(col, 0), width)
        return cell

    def line(self, *values, **style):
        for col, value in enumerate(values, 1):
            self.put(col, value, **style)
        self.row += 1

    def text(self, value: str, *, font=None) -> None:
        """A line of words across the whole sheet (merged, wrapped, as tall as it needs)."""
        self.put(1, value, font=font, align=self.s["wrap"])
        self.texts.append((self.row, value, (font.sz if font is not None and font.sz else 11)))
        self.row += 1

    def header(self, headers: list[str], *, first: int = 1) -> int:
        for col, text in enumerate(headers, first):
            self.put(col, text, font=self.s["header_font"], fill=self.s["header_fill"], border=True,
                     align=self.s["center"])
        self.header_rows[self.row] = dict(enumerate(headers, first))
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

    def finish(self, *, title_row: int | None, freeze_row: int | None = None, narrowest: int = 8,
               min_widths: dict[int, int] | None = None):
        """Size the columns and the wrapped rows, freeze the panes below ``freeze_row``, and set the page up
        to print on A4 one page wide, ``title_row`` repeated at the top of every page."""
        from openpyxl.utils import get_column_letter

        last = max(self.ws.max_column, 1)
        widths = {}
        for col in range(1, last + 1):
            need = self.widths.get(col, 0) + _PAD
            for headings in self.header_rows.values():
                if col in headings:  # a heading wraps, but never inside a word
                    words = headings[col].split()
                    need = max(need, min(len(headings[col]), _HEADING_WIDTH) + 2, *(len(w) + 2 for w in words))
            widths[col] = min(max(need, (min_widths or {}).get(col, narrowest)), _MAX_WIDTH)
            self.ws.column_dimensions[get_column_letter(col)].width = widths[col]
        for row, headings in self.header_rows.items():
            lines = max(_lines(text, widths[col]) for col, text in headings.items())
            self.ws.row_dimensions[row].height = lines * _LINE_PT + 4
        total_width = sum(widths.values())
        for row, text, size in self.texts:
            if last > 1:
                self.ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=last)
            # Vietnamese capitals carry marks above (Ể, Ấ): a line is 1.9 times the font's size, not 1.4.
            self.ws.row_dimensions[row].height = _lines(text, total_width * 11 / size) * size * 1.9 + 4
        if freeze_row:
            self.ws.freeze_panes = self.ws.cell(row=freeze_row + 1, column=1)
        _print_setup(self.ws, landscape=total_width > _PORTRAIT_WIDTH, title_row=title_row)


#: Column widths, in characters of the default font: a little room around values, headings wrapped at
#: about this width, and no column wider than this.
_PAD, _HEADING_WIDTH, _MAX_WIDTH = 3, 14, 60
#: A line of 11-point text, in points (rows are sized by hand: Excel does not fit merged or wrapped rows).
_LINE_PT = 15
#: Wider than this (characters) prints across A4 in landscape; one page wide either way.
_PORTRAIT_WIDTH = 100


def _lines(text: str, width: float) -> int:
    """How many lines ``text`` wraps to in a column ``width`` characters wide (a little pessimistic:
    LibreOffice may show a wider font than the workbook asks for)."""
    return max(len(textwrap.wrap(text, width=max(int(width * 0.85) - 1, 4))), 1)


def _print_setup(ws, *, landscape: bool, title_row: int | None) -> None:
    """A4, one page wide and as many tall as needed, the header row on every page, page numbers."""
    from openpyxl.worksheet.page import PageMargins

    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # 0: as many pages tall as the rows need
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins = PageMargins(left=0.5, right=0.5, top=0.6, bottom=0.7, header=0.3, footer=0.3)
    ws.print_options.horizontalCentered = True
    if title_row:
        ws.print_title_rows = f"{title_row}:{title_row}"
    ws.oddFooter.center.text = "&A – trang &P/&N"
    ws.oddFooter.center.size = 9


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

    from .counter_workbook import write_counter_sheets

    styles = _styles()
    wb = Workbook()
    taken: set[str] = set()

    sheet = _Sheet(wb.active, styles)
    sheet.ws.title = _sheet_title("Tổng hợp", taken)
    sheet.text("BÁO CÁO KẾT QUẢ ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG", font=styles["title"])
    sheet.row += 1
    sheet.line("Kỳ báo cáo:", report.period.label)
    sheet.line("Từ ngày – đến ngày:", f"{report.period.first_day:%d/%m/%Y} – {report.period.last_day:%d/%m/%Y}")
    sheet.line("Múi giờ:", report.period.tz.key)
    for name, value in report.filters.items():
        if value:
            sheet.line({"site": "Đơn vị:", "counter": "Quầy:", "terminal": "Thiết bị:"}[name], value)
    if report.node:
        sheet.line("Cấp tổ chức:", " › ".join(step["name"] for step in report.node["path"]))
    sheet.widths.pop(1, None)  # the labels above may run into column B; the ranks below need little room
    sheet.row += 1
    sheet.text(summary_vi(report))
    sheet.row += 1
    grouping = report.group_by or "site"
    groups = report.groups if report.group_by else [
        cell for cell in (_site_total(report, site) for site in report.sites)]
    if report.node is not None or grouping in ("province", "unit", "office"):  # by the tree: each line is a node
        heading = GROUPINGS_VI[grouping]
    else:
        heading = {"site": "Đơn vị", "counter": "Đơn vị – quầy", "terminal": "Thiết bị"}[grouping]
    header_row = sheet.cells_table(heading, groups, report, total=report.total)
    sheet.row += 1
    if report.previous_period is not None:
        _change_table(sheet, heading, groups, report)
    sheet.text(f"Xếp hạng theo tỷ lệ hài lòng điều chỉnh về mức chung ({report.prior_weight} lượt), để đơn vị ít "
               "lượt không bị xếp đầu hay cuối chỉ vì vài lượt đánh giá.")
    sheet.row += 1
    # Under the groups' names (column B, wide enough for a reason's name), not under the narrow ranks.
    sheet.header(["Lý do không hài lòng", "Số lượt", "Tỷ lệ trong số không hài lòng"], first=2)
    total = report.total
    for key in report.reasons:
        n = total.dissatisfied_reasons.get(key, 0)
        sheet.put(2, reason_label(key), border=True)
        sheet.put(3, n, fmt=COUNT, border=True)
        sheet.put(4, _fraction(one_decimal(n, total.dissatisfied)), fmt=PCT, border=True)
        sheet.row += 1
    sheet.row += 1
    sheet.text(reconcile_line(report), font=None if report.reconciles else styles["bad_font"])
    sheet.finish(title_row=header_row, freeze_row=header_row, min_widths={1: 22})

    trend = _Sheet(wb.create_sheet(_sheet_title("Theo thời gian", taken)), styles)
    unit = TREND_UNIT_LABELS_VI[report.trend_unit]
    header_row = trend.cells_table(unit, report.trend, report, ranked=False)
    trend.finish(title_row=header_row, freeze_row=header_row)

    hours = _Sheet(wb.create_sheet(_sheet_title("Giờ trong tuần", taken)), styles)
    hours.text("Số lượt được tính theo giờ (giờ địa phương) và thứ trong tuần", font=styles["bold"])
    header_row = hours.header(["Thứ", *[f"{h}h" for h in range(24)], "Cộng"])
    for day, name in enumerate(WEEKDAYS):
        hours.line(name, *report.heatmap[day], sum(report.heatmap[day]), fmt=COUNT, border=True)
    hours.finish(title_row=header_row, freeze_row=header_row, narrowest=6, min_widths={1: 12})
    write_counter_sheets(wb, report, styles, taken)  # by officer, dossiers, audit counts: when the report holds them

    for site, parts in report.sites.items():
        ws = _Sheet(wb.create_sheet(_sheet_title(site, taken)), styles)
        ws.text(site, font=styles["title"])
        ws.row += 1
        ws.line("Kỳ báo cáo:", report.period.label)
        ws.widths.pop(1, None)
        ws.row += 1
        header_row = ws.cells_table("Quầy", parts["counters"], report, total=_site_total(report, site),
                                    label=lambda cell: cell.counter or NO_COUNTER)
        ws.row += 1
        ws.cells_table("Thiết bị", parts["terminals"], report)
        ws.finish(title_row=header_row, freeze_row=header_row, min_widths={1: 12})
    wb.save(path if hasattr(path, "write") else Path(path))


def _change_table(sheet: _Sheet, heading: str, groups: list[Cell], report: Report) -> None:
    """Each group and the total against the previous period: n on both sides, the gap, its interval, the verdict."""
    sheet.text(f"So với kỳ trước ({report.previous_period.label}): “tăng” hay “giảm” chỉ khi khoảng tin cậy 95% "
               "của chênh lệch không chứa 0; dưới mức đó là “không đổi rõ rệt”.", font=sheet.s["bold"])
    sheet.header(["", heading, "Kỳ này: số lượt được tính", "Kỳ này: tỷ lệ hài lòng", *CHANGE_HEADERS])
    for cell in [*groups, report.total]:
        change = cell.change
        if change is None:
            continue
        is_total = cell is report.total
        values = [None, "Tổng cộng" if is_total else cell.label, cell.counted, _fraction(cell.satisfaction_rate),
                  change.previous_counted, _fraction(change.previous_rate), change.difference, change.low,
                  change.high, change.verdict_vi]
        formats = [None, None, COUNT, PCT, COUNT, PCT, POINTS, POINTS, POINTS, None]
        fill = sheet.s["total_fill"] if is_total else (sheet.s["few_fill"] if change.verdict == "too_few" else None)
        for col, (value, fmt) in enumerate(zip(values, formats), 1):
            sheet.put(col, value, fmt=fmt, fill=fill, border=col > 1,
                      font=sheet.s["bold"] if is_total else None)
        sheet.row += 1
    sheet.row += 1


def _site_total(report: Report, site: str) -> Cell:
    total = Cell(site, site=site, min_sample=report.min_sample)
    for cell in report.sites[site]["terminals"]:
        total.merge(cell)
    return total

"""The workbook's sheets as drawn: styles, number formats, one sheet's writer (:class:`Sheet`), print set-up.

Shared by the report's own sheets (:mod:`reports.workbook`) and the counter's (:mod:`reports.counter_workbook`),
so that neither imports the other.
"""

from __future__ import annotations

import re
import textwrap

from .figures import Cell, Report
from .labels import LEVEL_LABELS, LEVELS, reason_label
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

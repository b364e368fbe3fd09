"""The counter's sections in the Excel workbook: the sheets "Theo cán bộ", "Hồ sơ" and "Kiểm tra tại quầy",
printed like the others (A4, one page wide, the header row on every page). Called by
:func:`reports.workbook.write_xlsx` for the sections a report holds and uses."""

from __future__ import annotations

from .counter_render import (AUDIT_OFFICER_HEADERS, AUDIT_TERMINAL_HEADERS, AUDIT_TITLE, DOSSIER_HEADERS,
                             DOSSIERS_TITLE, OFFICERS_TITLE, audit_explanation, audit_officer_rows,
                             audit_terminal_rows, dossier_rows, dossier_sentence, officer_headers, officer_rows,
                             officers_sentence, shown_audit, shown_dossiers, shown_officers)
from .figures import Report


def write_counter_sheets(wb, report: Report, styles, taken: set[str]) -> None:
    """Add the sheets of the sections ``report`` shows to ``wb`` (openpyxl)."""
    from .workbook_sheet import _Sheet, _sheet_title

    def sheet(title: str, heading: str) -> "_Sheet":
        ws = _Sheet(wb.create_sheet(_sheet_title(title, taken)), styles)
        ws.text(heading, font=styles["title"])
        ws.row += 1
        ws.line("Kỳ báo cáo:", report.period.label)
        ws.widths.pop(1, None)
        ws.row += 1
        return ws

    if (officers := shown_officers(report)) is not None:
        ws = sheet("Theo cán bộ", OFFICERS_TITLE)
        ws.text(officers_sentence(report, officers))
        ws.row += 1
        header_row = _table(ws, officer_headers(report, officers), officer_rows(report, officers), totals=2)
        ws.row += 1
        ws.text(f"Xếp hạng theo tỷ lệ hài lòng điều chỉnh về mức chung ({officers.prior_weight} lượt), để cán bộ ít "
                f"lượt không bị xếp đầu hay cuối chỉ vì vài lượt đánh giá; dưới {officers.min_sample} lượt: ít mẫu, "
                "chưa đủ để so sánh.")
        ws.finish(title_row=header_row, freeze_row=header_row, min_widths={1: 10})
    if (dossiers := shown_dossiers(report)) is not None:
        ws = sheet("Hồ sơ", DOSSIERS_TITLE)
        ws.text(dossier_sentence(dossiers.total, repeats=dossiers.repeats))
        ws.row += 1
        # Each unit's "(cả đơn vị)" line sums its counters: bold on the total's fill, not one more line to add up.
        header_row = _table(ws, DOSSIER_HEADERS, dossier_rows(dossiers), totals=1 + len(dossiers.units))
        ws.finish(title_row=header_row, freeze_row=header_row, min_widths={1: 16})
    if (audit := shown_audit(report)) is not None:
        ws = sheet("Kiểm tra tại quầy", AUDIT_TITLE)
        ws.text(audit_explanation(audit))
        ws.row += 1
        header_row = _table(ws, AUDIT_OFFICER_HEADERS, audit_officer_rows(audit), totals=0)
        ws.row += 1
        _table(ws, AUDIT_TERMINAL_HEADERS, audit_terminal_rows(audit), totals=1)
        ws.finish(title_row=header_row, freeze_row=None, min_widths={1: 16})


def _table(ws, headers: list[str], rows: list[list], *, totals: int) -> int:
    """A bordered table; whole numbers as counts, the percentages (floats) as fractions formatted 0.0%; the last
    ``totals`` rows bold on the total's fill. Returns the header's row."""
    from .workbook_sheet import COUNT, PCT, _fraction

    header_row = ws.header(headers)
    for index, row in enumerate(rows):
        is_total = index >= len(rows) - totals
        for col, value in enumerate(row, 1):
            if isinstance(value, float):
                value, fmt = _fraction(value), PCT
            elif isinstance(value, int):
                fmt = COUNT
            else:
                value, fmt = (value if value != "" else None), None
            ws.put(col, value, fmt=fmt, border=True, fill=ws.s["total_fill"] if is_total else None,
                   font=ws.s["bold"] if is_total else None)
        ws.row += 1
    return header_row

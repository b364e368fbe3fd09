"""The report as an Excel workbook for officials (openpyxl).

Sheets: "Tổng hợp" (the figures, the paragraph, the ranked groups, the reasons,
the check), "Theo thời gian" (the trend), "Giờ trong tuần" (hours × weekdays),
then — when the report holds them and they are in use — "Theo cán bộ", "Hồ sơ" and "Kiểm tra tại quầy"
(:mod:`reports.counter_workbook`), then one sheet per site (its counters and terminals). Headings are Vietnamese,
percentages are real numbers formatted ``0.0%`` (the figures' own values, rounded
once by :func:`sync.vocabulary.one_decimal`), headers are frozen, columns sized to
their content. Every sheet prints on A4, one page wide and as many pages tall as
it needs, its header row repeated on each page (:func:`reports.workbook_sheet._print_setup`).
"""

from __future__ import annotations

from pathlib import Path

from .figures import Cell, Report
from .labels import CHANGE_HEADERS, GROUPINGS_VI, NO_COUNTER, TREND_UNIT_LABELS_VI, WEEKDAYS, one_decimal, reason_label
from .paragraph import reconcile_line, summary_vi
from .workbook_sheet import PCT, COUNT, POINTS, _styles, _fraction, _Sheet, _sheet_title

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

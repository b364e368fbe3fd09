"""The counter's sections in the official PDF (:mod:`reports.official_pdf`): by officer as a ranked table, the
dossiers and the audit counts as a sentence and a short table each. Only the sections a report holds and uses
are printed; the audit counts always with their neutral sentence."""

from __future__ import annotations

from .counter_render import (dossier_sentence, officers_sentence, audit_sentence, shown_audit, shown_dossiers,
                             shown_officers)
from .figures import Report
from .labels import LEVEL_LABELS, LEVELS, vi_int, vi_pct
from .pdf_parts import MM, _level_text, _p, _table

#: Beyond this many lines a table is left to the workbook (the PDF keeps the sentence and the totals).
MAX_PDF_LINES = 60

_GRID = (("GRID", (0, 0), (-1, -1), 0.5, "black"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
         ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
         ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3))


def _scaled(widths: list[float], text_width: float) -> list[float]:
    scale = text_width / (sum(widths) * MM)
    return [w * MM * scale for w in widths]


def counter_story(report: Report, styles, text_width: float, section: int) -> tuple[list, int]:
    """The flowables of the sections shown, numbered from ``section``; returns them and the next number."""
    from reportlab.platypus import Spacer

    story: list = []
    if (officers := shown_officers(report)) is not None:
        story.append(_p(f"{section}. Kết quả theo cán bộ tiếp nhận", styles["heading"]))
        story.append(_p(officers_sentence(report, officers), styles["body"]))
        if len(officers.lines) <= MAX_PDF_LINES:
            head = ["Hạng", "Cán bộ", "Số lượt được tính", *[LEVEL_LABELS[level] for level in LEVELS],
                    "Tỷ lệ hài lòng", "Tỷ lệ dùng xếp hạng"]
            rows = [[_p(h, styles["cell_head"]) for h in head]]
            for cell in [*officers.lines, officers.no_officer]:
                mark = " (*)" if cell.too_few else ""
                # Several units: each officer's unit under the name (the same staff code may be in two units).
                unit = f"\n{cell.site}" if officers.several_units and cell.rank and cell.site else ""
                rows.append([_p(str(cell.rank or ""), styles["cell_num"]), _p(cell.label + mark + unit, styles["cell"]),
                             _p(vi_int(cell.counted), styles["cell_num"]),
                             *[_p(_level_text(cell, level), styles["cell_num"]) for level in LEVELS],
                             _p(vi_pct(cell.satisfaction_rate), styles["cell_num"]),
                             _p(vi_pct(cell.shrunk_rate) if cell.rank else "", styles["cell_num"])])
            total, bold = report.total, styles["cell_total_num"]  # the lines add up to it, as on every other output
            rows.append([_p("", bold), _p("Tổng cộng", styles["cell_total"]), _p(vi_int(total.counted), bold),
                         *[_p(_level_text(total, level), bold) for level in LEVELS],
                         _p(vi_pct(total.satisfaction_rate), bold), _p("", bold)])
            story += [Spacer(1, 4), _table(rows, _scaled([11, 45, 17, 20, 20, 20, 16, 16], text_width), styles,
                                           *_GRID, repeat_rows=1)]
        story.append(_p(f"Xếp hạng theo tỷ lệ hài lòng đã điều chỉnh về mức chung {vi_pct(report.average_rate)} "
                        f"(tương đương {officers.prior_weight} lượt). (*) Dưới {officers.min_sample} lượt được "
                        "tính: chưa đủ để so sánh.", styles["note"]))
        section += 1
    if (dossiers := shown_dossiers(report)) is not None:
        story.append(_p(f"{section}. Hồ sơ được mời đánh giá", styles["heading"]))
        story.append(_p(dossier_sentence(dossiers.total, repeats=dossiers.repeats), styles["body"]))
        lines = dossiers.units or dossiers.counters
        if 1 < len(lines) <= MAX_PDF_LINES:
            head = ["Đơn vị" if dossiers.units else "Quầy", "Số lời mời", "Được đánh giá", "Không được trả lời",
                    "Bị thay thế", "Tỷ lệ được đánh giá"]
            rows = [[_p(h, styles["cell_head"]) for h in head]]
            for line in lines:
                rows.append([_p(line.label if dossiers.units else (line.counter or ""), styles["cell"]),
                             *[_p(vi_int(n), styles["cell_num"]) for n in (line.invitations, line.rated,
                                                                           line.unanswered, line.replaced)],
                             _p(vi_pct(line.share_rated), styles["cell_num"])])
            total, bold = dossiers.total, styles["cell_total_num"]
            rows.append([_p("Tổng cộng", styles["cell_total"]),
                         *[_p(vi_int(n), bold) for n in (total.invitations, total.rated, total.unanswered,
                                                         total.replaced)],
                         _p(vi_pct(total.share_rated), bold)])
            story += [Spacer(1, 4), _table(rows, _scaled([50, 20, 20, 20, 20, 20], text_width), styles, *_GRID,
                                           repeat_rows=1)]
        section += 1
    if (audit := shown_audit(report)) is not None:
        story.append(_p(f"{section}. Số liệu kiểm tra tại quầy", styles["heading"]))
        story.append(_p(audit_sentence(audit), styles["body"]))
        if len(audit.officers) <= MAX_PDF_LINES:
            head = ["Cán bộ", "Số lượt được tính", "Ngoài giờ làm việc", "Lượt đăng nhập",
                    f"Đăng nhập có từ {audit.run} lượt “rất hài lòng” liền nhau ngay sau"]
            rows = [[_p(h, styles["cell_head"]) for h in head]]
            several = len({line.unit for line in audit.officers if line.unit}) > 1
            for line in audit.officers:
                rows.append([_p(line.label + (f"\n{line.unit}" if several and line.unit else ""), styles["cell"]),
                             *[_p(vi_int(n), styles["cell_num"]) for n in (line.counted, line.outside_hours,
                                                                           line.sign_ins, line.bursts)]])
            story += [Spacer(1, 4), _table(rows, _scaled([55, 20, 20, 20, 30], text_width), styles, *_GRID,
                                           repeat_rows=1)]
        section += 1
    return story, section

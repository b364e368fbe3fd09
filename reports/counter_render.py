"""The counter's sections as people read them: their rows (CSV, the terminal table, the workbook and the PDF
share them), and their sentences in Vietnamese.

A section is shown when the report holds it and it is in use (an officer signed in, an invitation shown in the
period): a server whose terminals sign no one in prints its reports as before.

    >>> dossier_sentence(DossierLine("Tổng cộng", rated=30, unanswered=8, replaced=2), repeats=1)
    'Hồ sơ: 40 lời mời đánh giá hồ sơ, 30 được đánh giá (75,0%, n = 40), 8 không được trả lời, 2 bị thay thế bởi hồ sơ quét sau; 1 lượt đánh giá lại cùng một hồ sơ được lưu nhưng không tính.'
"""

from __future__ import annotations

from .counter_audit import AuditLine, AuditSection
from .dossiers import DossierLine, DossierSection
from .figures import Cell, Report
from .labels import LEVEL_LABELS, LEVELS, vi_int, vi_pct
from .officers import OfficerSection

OFFICERS_TITLE = "Kết quả theo cán bộ tiếp nhận"
DOSSIERS_TITLE = "Hồ sơ được mời đánh giá"
AUDIT_TITLE = "Số liệu kiểm tra tại quầy (không phải kết luận vi phạm)"


def shown_officers(report: Report) -> OfficerSection | None:
    return report.officers if report.officers is not None and report.officers.in_use else None


def shown_dossiers(report: Report) -> DossierSection | None:
    return report.dossiers if report.dossiers is not None and report.dossiers.in_use else None


def shown_audit(report: Report) -> AuditSection | None:
    return report.audit if report.audit is not None and report.audit.in_use else None


# -- rows ------------------------------------------------------------------------------------------------

def officer_headers(report: Report, section: OfficerSection) -> list[str]:
    return ["Xếp hạng", "Cán bộ", *(["Đơn vị"] if section.several_units else []), "Mã cán bộ", "Số lượt được tính",
            *[h for level in LEVELS for h in (LEVEL_LABELS[level], f"{LEVEL_LABELS[level]} (%)")],
            "Tỷ lệ hài lòng (%)", "Tỷ lệ dùng để xếp hạng (%)", "Lượt bấm bị lọc (không tính)",
            f"Ít mẫu (dưới {section.min_sample} lượt)"]


def officer_rows(report: Report, section: OfficerSection) -> list[list]:
    """A row per officer (ranked), the no-officer line, the report's total: numbers as numbers (percent)."""
    def row(cell: Cell, rank, label: str, code: str | None, shrunk=True):
        pct = cell.pct
        return [rank if rank is not None else "", label, *([cell.site or ""] if section.several_units else []),
                code or "", cell.counted, *[v for level in LEVELS for v in (getattr(cell, level), _num(pct[level]))],
                _num(cell.satisfaction_rate), _num(cell.shrunk_rate) if shrunk else "", cell.filtered,
                "có" if cell.too_few else "không"]

    rows = [row(cell, cell.rank, cell.officer_name or cell.label, cell.officer_code) for cell in section.lines]
    rows.append(row(section.no_officer, None, section.no_officer.label, None, shrunk=False))
    rows.append(row(report.total, None, "Tổng cộng", None, shrunk=False))
    return rows


DOSSIER_HEADERS = ["Đơn vị", "Quầy", "Số lời mời", "Được đánh giá", "Không được trả lời", "Bị thay thế",
                   "Khác", "Tỷ lệ được đánh giá (%)", "Ít mẫu"]


def dossier_rows(section: DossierSection) -> list[list]:
    def row(line: DossierLine, unit: str, counter: str):
        return [unit, counter, line.invitations, line.rated, line.unanswered, line.replaced, line.other,
                _num(line.share_rated), "có" if line.too_few else "không"]

    rows = [row(line, line.unit or "", line.counter or "") for line in section.counters]
    rows += [row(line, line.label, "(cả đơn vị)") for line in section.units]
    rows.append(row(section.total, "Tổng cộng", ""))
    return rows


AUDIT_TERMINAL_HEADERS = ["Đơn vị", "Thiết bị", "Quầy", "Số lượt được tính", "Không có cán bộ đăng nhập",
                          "Ngoài giờ làm việc", "Lượt đăng nhập", "Đăng nhập có chuỗi “rất hài lòng” ngay sau",
                          "Số lượt trong các chuỗi"]
AUDIT_OFFICER_HEADERS = ["Cán bộ", "Mã cán bộ", "Đơn vị", "Số lượt được tính", "Ngoài giờ làm việc",
                         "Lượt đăng nhập", "Đăng nhập có chuỗi “rất hài lòng” ngay sau", "Số lượt trong các chuỗi"]


def audit_terminal_rows(section: AuditSection) -> list[list]:
    def row(line: AuditLine, unit: str):
        return [unit, line.terminal or "", line.counter or "", line.counted, line.no_officer, line.outside_hours,
                line.sign_ins, line.bursts, line.burst_ratings]

    return [*(row(line, line.unit or "") for line in section.terminals), row(section.total, "Tổng cộng")]


def audit_officer_rows(section: AuditSection) -> list[list]:
    return [[line.officer_name or line.label, line.officer_code or "", line.unit or "", line.counted,
             line.outside_hours, line.sign_ins, line.bursts, line.burst_ratings] for line in section.officers]


def audit_explanation(section: AuditSection) -> str:
    return (f"Giờ làm việc: {section.hours}. Chuỗi: từ {section.run} lượt “rất hài lòng” được tính liền nhau trở "
            f"lên trong {section.window_s} giây sau khi cán bộ đăng nhập tại thiết bị. {section.note}")


def csv_section_rows(report: Report) -> list[list]:
    """The sections' rows for the CSV, each under its title and header (nothing when none is shown)."""
    rows: list[list] = []
    officers, dossiers, audit = shown_officers(report), shown_dossiers(report), shown_audit(report)
    if officers:
        rows += [[], [OFFICERS_TITLE], officer_headers(report, officers), *officer_rows(report, officers)]
    if dossiers:
        rows += [[], [DOSSIERS_TITLE], DOSSIER_HEADERS, *dossier_rows(dossiers),
                 ["Lượt đánh giá lại cùng một hồ sơ (lưu, không tính)", dossiers.repeats]]
    if audit:
        rows += [[], [AUDIT_TITLE], [audit_explanation(audit)], AUDIT_OFFICER_HEADERS, *audit_officer_rows(audit),
                 [], AUDIT_TERMINAL_HEADERS, *audit_terminal_rows(audit)]
    return rows


def _num(value):
    return "" if value is None else value


# -- sentences -------------------------------------------------------------------------------------------

def dossier_sentence(total: DossierLine, *, repeats: int = 0) -> str:
    text = (f"Hồ sơ: {vi_int(total.invitations)} lời mời đánh giá hồ sơ, {vi_int(total.rated)} được đánh giá "
            f"({vi_pct(total.share_rated)}, n = {vi_int(total.invitations)}), {vi_int(total.unanswered)} không được "
            f"trả lời, {vi_int(total.replaced)} bị thay thế bởi hồ sơ quét sau")
    if total.other:
        text += f", {vi_int(total.other)} đóng theo cách khác"
    if repeats:
        text += f"; {vi_int(repeats)} lượt đánh giá lại cùng một hồ sơ được lưu nhưng không tính"
    if total.too_few and total.invitations:
        text += f" (dưới {total.min_sample} lời mời: chưa đủ để so sánh)"
    return text + "."


def officers_sentence(report: Report, section: OfficerSection) -> str:
    signed = sum(line.counted for line in section.lines)
    return (f"Theo cán bộ: {vi_int(len(section.lines))} cán bộ đăng nhập có lượt đánh giá, cộng "
            f"{vi_int(signed)} lượt được tính; {vi_int(section.no_officer.counted)} lượt khi không có cán bộ đăng "
            f"nhập; cộng lại {vi_int(signed + section.no_officer.counted)} trên tổng {vi_int(report.total.counted)} "
            "lượt được tính.")


def audit_sentence(section: AuditSection) -> str:
    total = section.total
    return (f"Số liệu kiểm tra tại quầy: {vi_int(total.no_officer)} lượt được tính khi không có cán bộ đăng nhập; "
            f"{vi_int(total.outside_hours)} lượt ngoài giờ làm việc ({section.hours}); trên "
            f"{vi_int(total.sign_ins)} lần đăng nhập, {vi_int(total.bursts)} lần có từ {section.run} lượt “rất hài "
            f"lòng” liền nhau trở lên trong {section.window_s} giây ngay sau đó ({vi_int(total.burst_ratings)} "
            f"lượt). {section.note}")


def section_sentences(report: Report) -> list[str]:
    """The sentences of the sections shown, in the report's order."""
    out = []
    if (officers := shown_officers(report)) is not None:
        out.append(officers_sentence(report, officers))
    if (dossiers := shown_dossiers(report)) is not None:
        out.append(dossier_sentence(dossiers.total, repeats=dossiers.repeats))
    if (audit := shown_audit(report)) is not None:
        out.append(audit_sentence(audit))
    return out

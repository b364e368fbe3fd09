"""The official printed report: a PDF ready for signing, in the form of Decree 30/2020/NĐ-CP (Phụ lục I).

A4 portrait, margins 20/20/30/15 mm (top, bottom, left, right); the issuing body top left over the
number line, the national title and motto top right over the place-and-date line; "BÁO CÁO" and its
title; the body in Liberation Serif (metric-compatible with Times New Roman, Vietnamese letters,
embedded); "Nơi nhận:" bottom left and the signature block bottom right; page numbers centred at the
top from page 2. The body holds the groups' table (counted n, each level, satisfaction rate, ranking
rate, the small-sample mark), the Vietnamese paragraph, the counter's sections when the report holds them (by
officer, dossiers, the audit counts: :mod:`reports.counter_pdf`) and the reconciliation line.

The renderer takes any :class:`~reports.figures.Report` and an optional title, so a report of
other groups (units, offices) prints the same way.

For example::

    letterhead = Letterhead(parent_body="UBND TỈNH NINH BÌNH", issuing_body="UBND PHƯỜNG HOA LƯ",
                            issuer_code="UBND", place="Ninh Bình", signer_title=("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"),
                            recipients=("UBND tỉnh", "Lưu: VT"))
    pages = write_official_pdf(report, "bao-cao.pdf", letterhead=letterhead, issued_on=date(2026, 12, 2))
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sync.plain_text import without_bidi_controls

from .counter_pdf import counter_story
from .errors import ReportError
from .fonts import font_files
from .figures import Cell, Report
from .labels import LEVEL_LABELS, LEVELS, one_decimal, reason_label, vi_int, vi_pct
from .paragraph import reconcile_line, summary_vi
from .pdf_parts import MM, _level_text, _p, _table
from .periods import vi_date

__all__ = ["Letterhead", "LetterheadError", "write_official_pdf", "official_pdf_bytes", "find_serif_fonts",
           "date_line", "number_line", "default_title"]

#: Where distributions keep Liberation Serif (Debian: fonts-liberation2, or the older fonts-liberation; Fedora; Arch).
FONT_FOLDERS = ("/usr/share/fonts/truetype/liberation2", "/usr/share/fonts/truetype/liberation",
                "/usr/share/fonts/liberation-serif", "/usr/share/fonts/liberation", "/usr/share/fonts/TTF")
FONT_FILES = {"regular": "LiberationSerif-Regular.ttf", "bold": "LiberationSerif-Bold.ttf",
              "italic": "LiberationSerif-Italic.ttf", "bolditalic": "LiberationSerif-BoldItalic.ttf"}
FONT_PACKAGE = "fonts-liberation2"

#: Decree 30's margins, in millimetres.
MARGINS = {"top": 20, "bottom": 20, "left": 30, "right": 15}
#: reportlab's frames keep 6 points inside their edges.
FRAME_PADDING = 6
BODY_PT = 13
TABLE_PT = 10.5
#: The longest a letterhead field may be: a name, not a document.
MAX_FIELD = 200


class LetterheadError(ReportError, ValueError):
    """A letterhead field that cannot be printed (a control character, or far too long); ``field`` names it."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Letterhead:
    """Who issues the report and who signs it. Every field has a default a one-stop office can print.

    ``number`` empty leaves room to write it by hand ("Số:      /BC-BPMC"), as offices do when the
    clerk registers the document; ``signer_name`` empty leaves a blank line under the signature.
    ``signer_title`` and ``recipients`` are lines (e.g. ``("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH")``).
    """

    parent_body: str = ""
    issuing_body: str = "Bộ phận Một cửa"
    issuer_code: str = "BPMC"
    number: str = ""
    place: str = "Hà Nội"
    signer_title: tuple[str, ...] = ("Thủ trưởng đơn vị",)
    signer_name: str = ""
    recipients: tuple[str, ...] = ("Lãnh đạo đơn vị", "Lưu: VT")

    def __post_init__(self):
        for name in ("parent_body", "issuing_body", "issuer_code", "number", "place", "signer_name"):
            object.__setattr__(self, name, _checked(getattr(self, name), name))
        for name in ("signer_title", "recipients"):
            lines = getattr(self, name)
            lines = (lines,) if isinstance(lines, str) else tuple(lines)
            object.__setattr__(self, name, tuple(line for line in (_checked(x, name) for x in lines) if line))
        if not self.issuing_body:
            raise LetterheadError("issuing_body: the issuing body's name is needed at the top left", field="issuing_body")

    @classmethod
    def from_lines(cls, **fields) -> "Letterhead":
        """As the constructor, but ``signer_title`` and ``recipients`` may be one text with lines split by ";".

        >>> Letterhead.from_lines(signer_title="KT. CHỦ TỊCH; PHÓ CHỦ TỊCH").signer_title
        ('KT. CHỦ TỊCH', 'PHÓ CHỦ TỊCH')
        """
        for name in ("signer_title", "recipients"):
            if isinstance(fields.get(name), str):
                fields[name] = tuple(part.strip() for part in fields[name].split(";"))
        return cls(**{k: v for k, v in fields.items() if v is not None})


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _checked(value, name: str) -> str:
    text = unicodedata.normalize("NFC", without_bidi_controls(value)).strip()
    if _CONTROL.search(text):
        raise LetterheadError(f"{name}: holds a control character (a line break or tab); give plain text",
                              field=name)
    if len(text) > MAX_FIELD:
        raise LetterheadError(f"{name}: {len(text)} characters; at most {MAX_FIELD}", field=name)
    return text


# -- the lines of the form -------------------------------------------------------------------------

def number_line(letterhead: Letterhead) -> str:
    """``Số: 15/BC-UBND``, or ``Số:      /BC-UBND`` with room to write the number by hand."""
    symbol = "BC" + (f"-{letterhead.issuer_code}" if letterhead.issuer_code else "")
    number = letterhead.number or "\u00a0" * 10
    return f"Số: {number}/{symbol}"


def date_line(place: str, day: date) -> str:
    """``Hà Nội, ngày 02 tháng 12 năm 2026``: days below 10 and the months 1 and 2 with a leading zero."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"{place + ', ' if place else ''}ngày {day.day:02d} tháng {month} năm {day.year}"


def default_title(report: Report) -> str:
    """The title under "BÁO CÁO": what was rated, where, in which period."""
    where = ""
    filters = report.filters
    if filters.get("terminal"):
        where = f" tại thiết bị {filters['terminal']}"
    elif filters.get("site"):
        where = f" tại {filters['site']}" + (f", {filters['counter']}" if filters.get("counter") else "")
    return (f"Kết quả đánh giá mức độ hài lòng của người dân, tổ chức đối với việc giải quyết thủ tục hành "
            f"chính{where} {_in_words(report.period.label)}")


def _in_words(label: str) -> str:
    """A period's label inside a sentence: ``tháng 11/2026``, ``quý IV/2026``, ``năm 2026``."""
    return label[:1].lower() + label[1:]


# -- fonts -------------------------------------------------------------------------------------------

def find_serif_fonts(folders=FONT_FOLDERS) -> dict[str, str]:
    """Paths of Liberation Serif regular, bold, italic and bold italic; :class:`ReportError` says what to install."""
    found, missing = font_files(FONT_FILES, folders)
    if missing:
        raise ReportError(f"the official PDF needs the font {', '.join(missing)} (Times New Roman's metrics, with "
                          f"Vietnamese letters) and it is not installed; on Debian or Ubuntu: apt-get install "
                          f"{FONT_PACKAGE}")
    return found


def _register_fonts(fonts: dict[str, str]) -> str:
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    family = "LiberationSerif"
    names = {"regular": family, "bold": f"{family}-Bold", "italic": f"{family}-Italic",
             "bolditalic": f"{family}-BoldItalic"}
    for role, file in fonts.items():
        if names[role] not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(names[role], file))
    for bold, italic, role in ((0, 0, "regular"), (1, 0, "bold"), (0, 1, "italic"), (1, 1, "bolditalic")):
        addMapping(family, bold, italic, names[role])
    return family


# -- the document --------------------------------------------------------------------------------------

@dataclass
class _Styles:
    family: str
    sheet: dict = field(default_factory=dict)

    def __post_init__(self):
        from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
        from reportlab.lib.styles import ParagraphStyle

        f = self.family

        def style(name, size, *, bold=False, italic=False, align=TA_LEFT, leading=None, **kw):
            font = f + ("-Bold" if bold else "") + ("-Italic" if italic and not bold else "")
            font = f"{f}-BoldItalic" if bold and italic else font
            self.sheet[name] = ParagraphStyle(name, fontName=font, fontSize=size, leading=leading or size * 1.2,
                                              alignment=align, **kw)

        style("body_head", 12.5, align=TA_CENTER)
        style("issuer", 12.5, bold=True, align=TA_CENTER)
        style("national", 12, bold=True, align=TA_CENTER)
        style("motto", 13, bold=True, align=TA_CENTER)
        style("number", 13, align=TA_CENTER)
        style("dateline", 13, italic=True, align=TA_CENTER)
        style("kind", 14, bold=True, align=TA_CENTER, spaceBefore=18)
        style("title", 14, bold=True, align=TA_CENTER, leading=17)
        style("body", BODY_PT, align=TA_JUSTIFY, leading=BODY_PT * 1.3, firstLineIndent=10 * MM, spaceBefore=6)
        # A heading never ends a page alone: it goes over with what follows it.
        style("heading", BODY_PT, bold=True, align=TA_JUSTIFY, leading=BODY_PT * 1.3, firstLineIndent=10 * MM,
              spaceBefore=8, keepWithNext=1)
        style("note", 11, italic=True, align=TA_JUSTIFY, leading=13.5, spaceBefore=3)
        style("cell", TABLE_PT, leading=TABLE_PT * 1.2)
        style("cell_num", TABLE_PT, leading=TABLE_PT * 1.2, align=TA_CENTER)
        style("cell_head", TABLE_PT, bold=True, leading=TABLE_PT * 1.2, align=TA_CENTER)
        style("cell_total", TABLE_PT, bold=True, leading=TABLE_PT * 1.2)
        style("cell_total_num", TABLE_PT, bold=True, leading=TABLE_PT * 1.2, align=TA_CENTER)
        style("recipients_head", 12, bold=True, italic=True)
        style("recipients", 11, leading=13)
        style("signer", 13, bold=True, align=TA_CENTER, leading=16)
        style("page_number", 13)

    def __getitem__(self, name):
        return self.sheet[name]


def _rule(width: float):
    """A horizontal line of ``width`` points, centred, clear of the descenders above (under the issuer, the
    motto and the title)."""
    from reportlab.platypus import Spacer
    from reportlab.platypus.flowables import HRFlowable

    return [Spacer(1, 4), HRFlowable(width=width, thickness=0.6, color="black", hAlign="CENTER")]


def _header(letterhead: Letterhead, issued_on: date, styles: _Styles, text_width: float):
    from reportlab.pdfbase.pdfmetrics import stringWidth

    left_w = 70 * MM
    right_w = text_width - left_w
    left = []
    if letterhead.parent_body:
        left.append(_p(letterhead.parent_body.upper(), styles["body_head"]))
    left.append(_p(letterhead.issuing_body.upper(), styles["issuer"]))
    issuer_w = min(stringWidth(letterhead.issuing_body.upper(), styles["issuer"].fontName, 12.5), left_w - 6)
    left += _rule(max(issuer_w * 0.4, 15 * MM))
    motto = "Độc lập - Tự do - Hạnh phúc"
    right = [_p("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", styles["national"]), _p(motto, styles["motto"]),
             *_rule(stringWidth(motto, styles["motto"].fontName, 13))]
    return _table([[left, right], [_p(number_line(letterhead), styles["number"]),
                                   _p(date_line(letterhead.place, issued_on), styles["dateline"])]],
                  [left_w, right_w], styles, ("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                  ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                  ("TOPPADDING", (0, 1), (-1, 1), 6))


def _groups_table(report: Report, styles: _Styles, text_width: float):
    head = ["Hạng", report.grouping_label, "Số lượt được tính", *[LEVEL_LABELS[level] for level in LEVELS],
            "Tỷ lệ hài lòng", "Tỷ lệ dùng xếp hạng"]
    rows = [[_p(h, styles["cell_head"]) for h in head]]

    def row(cell: Cell, rank: str, label: str, total=False):
        num, text = styles["cell_total_num" if total else "cell_num"], styles["cell_total" if total else "cell"]
        mark = " (*)" if cell.too_few else ""
        return [_p(rank, num), _p(label + mark, text), _p(vi_int(cell.counted), num),
                *[_p(_level_text(cell, level), num) for level in LEVELS],
                _p(vi_pct(cell.satisfaction_rate), num), _p("" if total else vi_pct(cell.shrunk_rate), num)]

    rows += [row(cell, str(cell.rank or ""), cell.label) for cell in report.groups]
    rows.append(row(report.total, "", "Tổng cộng", total=True))
    widths = [11, 45, 17, 20, 20, 20, 16, 16]
    scale = text_width / (sum(widths) * MM)
    return _table(rows, [w * MM * scale for w in widths], styles, ("GRID", (0, 0), (-1, -1), 0.5, "black"),
                  ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (-1, -1), 3),
                  ("RIGHTPADDING", (0, 0), (-1, -1), 3), ("TOPPADDING", (0, 0), (-1, -1), 2),
                  ("BOTTOMPADDING", (0, 0), (-1, -1), 3), repeat_rows=1)


def _reasons_table(report: Report, styles: _Styles, text_width: float):
    total = report.total
    rows = [[_p("Lý do không hài lòng", styles["cell_head"]), _p("Số lượt", styles["cell_head"]),
             _p("Tỷ lệ", styles["cell_head"])]]
    for key in report.reasons:
        n = total.dissatisfied_reasons.get(key, 0)
        rows.append([_p(reason_label(key), styles["cell"]), _p(vi_int(n), styles["cell_num"]),
                     _p(vi_pct(one_decimal(n, total.dissatisfied)), styles["cell_num"])])
    rows.append([_p("Cộng", styles["cell_total"]), _p(vi_int(total.dissatisfied), styles["cell_total_num"]),
                 _p("100%" if total.dissatisfied else "–", styles["cell_total_num"])])
    return _table(rows, [text_width * 0.6, text_width * 0.2, text_width * 0.2], styles,
                  ("GRID", (0, 0), (-1, -1), 0.5, "black"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), repeat_rows=1)


def _closing(letterhead: Letterhead, styles: _Styles, text_width: float):
    from reportlab.platypus import Spacer

    recipients = [_p("Nơi nhận:", styles["recipients_head"])]
    for i, line in enumerate(letterhead.recipients):
        end = "." if i == len(letterhead.recipients) - 1 else ";"
        recipients.append(_p(f"- {line.rstrip(';.')}{end}", styles["recipients"]))
    signer = [_p(line.upper(), styles["signer"]) for line in letterhead.signer_title]
    signer.append(Spacer(1, 30 * MM))  # the signature and the seal
    signer.append(_p(letterhead.signer_name or "\u00a0", styles["signer"]))
    return _table([[recipients, signer]], [text_width * 0.45, text_width * 0.55], styles,
                  ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0),
                  ("TOPPADDING", (0, 0), (-1, -1), 10))


def _story(report: Report, letterhead: Letterhead, issued_on: date, title: str, styles: _Styles, text_width):
    from reportlab.platypus import KeepTogether, Spacer

    period = report.period
    story = [_header(letterhead, issued_on, styles, text_width), _p("BÁO CÁO", styles["kind"]),
             _p(title, styles["title"]), *_rule(45 * MM), Spacer(1, 6)]
    story.append(_p(f"{letterhead.issuing_body} báo cáo kết quả đánh giá mức độ hài lòng của "
                    f"người dân, tổ chức đối với việc giải quyết thủ tục hành chính {_in_words(period.label)} (từ "
                    f"ngày {vi_date(period.first_day)} đến ngày {vi_date(period.last_day)}, theo giờ "
                    f"{period.tz.key}), tổng hợp từ các thiết bị đánh giá tại quầy, như sau:", styles["body"]))
    story.append(_p("1. Kết quả chung", styles["heading"]))
    story.append(_p(summary_vi(report, with_check=False), styles["body"]))
    section = 2
    if report.groups:
        story.append(_p(f"{section}. Kết quả theo {report.grouping_label.lower()}", styles["heading"]))
        story += [Spacer(1, 4), _groups_table(report, styles, text_width)]
        story.append(_p(f"Xếp hạng theo tỷ lệ hài lòng đã điều chỉnh về mức chung "
                        f"{vi_pct(report.average_rate)} (tương đương {report.prior_weight} lượt), để nơi có ít "
                        f"lượt đánh giá không bị xếp đầu hoặc cuối chỉ vì một vài lượt."
                        + (f" (*) Dưới {report.min_sample} lượt được tính: chưa đủ để so sánh."
                           if any(c.too_few for c in (*report.groups, report.total)) else ""), styles["note"]))
        section += 1
    if report.total.dissatisfied:
        story.append(KeepTogether([_p(f"{section}. Lý do không hài lòng", styles["heading"]), Spacer(1, 4),
                                   _reasons_table(report, styles, text_width)]))
        section += 1
    counter, section = counter_story(report, styles, text_width, section)
    story += counter
    story.append(_p(f"{section}. Kiểm tra số liệu", styles["heading"]))
    story.append(_p(reconcile_line(report), styles["body"]))
    # The signature never stands on a page of its own: the closing sentence goes over with it.
    story.append(KeepTogether([_p(f"Trên đây là báo cáo kết quả đánh giá mức độ hài lòng {_in_words(period.label)}./.",
                                  styles["body"]), Spacer(1, 6), _closing(letterhead, styles, text_width)]))
    return story


def official_pdf_bytes(report: Report, *, letterhead: Letterhead | None = None, issued_on: date | None = None,
                       title: str | None = None, fonts: dict[str, str] | None = None) -> bytes:
    """The official report as PDF bytes; see :func:`write_official_pdf`."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    letterhead = letterhead or Letterhead()
    issued_on = issued_on or date.today()
    title = title or default_title(report)
    family = _register_fonts(fonts or find_serif_fonts())
    styles = _Styles(family)
    out = io.BytesIO()
    pad = FRAME_PADDING  # the frame's own padding: the text itself starts at the margins
    doc = SimpleDocTemplate(out, pagesize=A4, topMargin=MARGINS["top"] * MM - pad,
                            bottomMargin=MARGINS["bottom"] * MM - pad, leftMargin=MARGINS["left"] * MM - pad,
                            rightMargin=MARGINS["right"] * MM - pad,
                            title=f"Báo cáo: {title}", author=letterhead.issuing_body, subject=report.period.label,
                            creator="Hài Lòng", lang="vi", initialFontName=family, initialFontSize=BODY_PT)

    def page_number(canvas, document):  # from page 2, centred in the top margin
        canvas.saveState()
        canvas.setFont(family, 13)
        canvas.drawCentredString(document.leftMargin + document.width / 2, A4[1] - 12 * MM, str(document.page))
        canvas.restoreState()

    doc.build(_story(report, letterhead, issued_on, title, styles, doc.width - 2 * pad), onLaterPages=page_number)
    return out.getvalue()


def write_official_pdf(report: Report, path: str | os.PathLike, *, letterhead: Letterhead | None = None,
                       issued_on: date | None = None, title: str | None = None) -> int:
    """Write the official report of ``report`` to ``path``; returns the number of pages.

    ``issued_on`` is the date on the place-and-date line (default today); ``title`` the line under
    "BÁO CÁO" (default :func:`default_title`). The file appears whole or not at all.
    """
    content = official_pdf_bytes(report, letterhead=letterhead, issued_on=issued_on, title=title)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(content)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", content))

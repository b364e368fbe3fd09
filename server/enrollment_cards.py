"""Enrolment cards: a code and the server's address as a QR image, and a printable A4 sheet of them.

The district prints the sheet, cuts it along the dashed lines and hands one
card to each technician; on the terminal ``kiosk provision STRING`` (typed,
pasted, or scanned from the QR code by a USB scanner) does the rest.

For example::

    card = EnrollmentCard(site="UBND phường Phúc La", counter="Quầy 1",
                          string="hailong1:eyJ1Ijoi...", server_url="https://hailong.example.vn",
                          code="hl_enr_...", expires="2026-12-02 16:30 (Asia/Ho_Chi_Minh)")
    write_sheet_pdf([card], "sheet.pdf")

The QR code is made by segno, the sheet by reportlab, with DejaVu Sans
(Debian: fonts-dejavu-core) embedded so that Vietnamese letters print.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from reports.fonts import font_files
from sync.plain_text import without_bidi_controls

from .errors import ServerError

#: Where Linux distributions keep DejaVu Sans (Debian/Ubuntu: fonts-dejavu-core; Fedora; Arch).
FONT_FOLDERS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu-sans-fonts",
                "/usr/share/fonts/dejavu-sans-mono-fonts", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")
FONT_FILES = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf"}

CARDS_PER_PAGE = 5
MM = 72 / 25.4  # PDF points per millimetre


@dataclass(frozen=True)
class EnrollmentCard:
    """What one card says: where the terminal goes, the string that enrols it, until when."""

    site: str
    counter: str | None
    string: str
    server_url: str
    code: str
    expires: str


def qr_code(text: str):
    """The QR symbol for ``text`` (error correction M at least: a card may be creased or smudged)."""
    import segno

    return segno.make_qr(text, error="m")


def write_qr_png(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` as a QR code PNG (10 pixels a module, the standard 4-module quiet zone)."""
    _write_atomically(Path(path), lambda out: qr_code(text).save(out, kind="png", scale=10, border=4))


def find_fonts(folders=FONT_FOLDERS) -> dict[str, str]:
    """Paths of DejaVu Sans regular, bold and mono; raises :class:`ServerError` saying what to install."""
    found, missing = font_files(FONT_FILES, folders)
    if missing:
        raise ServerError(f"the PDF needs the font {', '.join(missing)} for Vietnamese letters and it is not "
                          "installed; on Debian or Ubuntu: apt-get install fonts-dejavu-core")
    return found


def write_sheet_pdf(cards: list[EnrollmentCard], path: str | os.PathLike, *, fonts: dict[str, str] | None = None) -> int:
    """Write ``cards`` on A4 pages, five a page, with cut lines; returns the number of pages."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    fonts = fonts or find_fonts()
    for role, file in fonts.items():
        pdfmetrics.registerFont(TTFont(f"HaiLong-{role}", file))
    pages = max(1, -(-len(cards) // CARDS_PER_PAGE))

    def draw(out) -> None:
        pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
        pdf.setTitle("Hài Lòng — mã đăng ký thiết bị / terminal enrolment codes")
        pdf.setAuthor("kiosk-server enroll-code")
        width, height = A4
        margin = 12 * MM
        card_w = width - 2 * margin
        card_h = (height - 2 * margin) / CARDS_PER_PAGE
        for index, card in enumerate(cards):
            if index and index % CARDS_PER_PAGE == 0:
                pdf.showPage()
            slot = index % CARDS_PER_PAGE
            _draw_card(pdf, card, margin, height - margin - (slot + 1) * card_h, card_w, card_h)
        pdf.showPage()
        pdf.save()

    _write_atomically(Path(path), draw)
    return pages


def _draw_card(pdf, card: EnrollmentCard, x: float, y: float, w: float, h: float) -> None:
    from reportlab.lib.utils import ImageReader

    pad = 4 * MM
    pdf.setDash(3, 3)
    pdf.setLineWidth(0.5)
    pdf.setStrokeGray(0.55)
    pdf.rect(x, y, w, h)  # cut here
    pdf.setDash()

    string_h = 5 * MM  # the string's own line along the card's foot
    qr_side = h - 2 * pad - string_h
    png = io.BytesIO()
    qr_code(card.string).save(png, kind="png", scale=8, border=4)
    png.seek(0)
    pdf.drawImage(ImageReader(png), x + pad, y + pad + string_h, qr_side, qr_side)

    left = x + 2 * pad + qr_side
    room = x + w - pad - left
    line_y = y + h - pad - 3.5 * MM
    pdf.setFillGray(0)

    def line(text: str, font: str, size: float, step: float) -> None:
        nonlocal line_y
        pdf.setFont(font, _fitted_size(text, font, size, room))
        pdf.drawString(left, line_y, text)
        line_y -= step * MM

    line("Hài Lòng — mã đăng ký thiết bị / terminal enrolment", "HaiLong-bold", 11, 6)
    # Printed as the dashboard shows names: without bidi controls, which a PDF would carry into copied text.
    line(f"Đơn vị / Site: {without_bidi_controls(card.site)}", "HaiLong-regular", 10, 5)
    if card.counter:
        line(f"Quầy / Counter: {without_bidi_controls(card.counter)}", "HaiLong-regular", 10, 5)
    line(f"Hết hạn / Expires: {card.expires}; dùng một lần / one use only", "HaiLong-regular", 9, 4.5)
    line(f"Máy chủ / Server: {card.server_url}", "HaiLong-regular", 9, 4.5)
    line(f"Mã / Code: {card.code}", "HaiLong-regular", 9, 5.5)
    line("Trên thiết bị / On the terminal:  sudo kiosk provision <chuỗi dưới đây / the string below>",
         "HaiLong-regular", 7.5, 3.4)
    line("hoặc quét mã QR / or scan the QR code; hoặc / or: --server <máy chủ / server> --code <mã / code>",
         "HaiLong-regular", 7.5, 3.4)

    # The string on one line across the whole card, so that it can be copied from the PDF whole.
    size = _fitted_size(card.string, "HaiLong-mono", 8, w - 2 * pad)
    pdf.setFont("HaiLong-mono", size)
    pdf.drawString(x + pad, y + pad + 1 * MM, card.string)


def _fitted_size(text: str, font: str, size: float, room: float) -> float:
    """``size``, or smaller so that ``text`` fits in ``room`` points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    width = stringWidth(text, font, size)
    return size if width <= room else size * room / width


def _write_atomically(path: Path, write) -> None:
    """Write through ``write(file)`` into a temporary file beside ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as out:
            write(out)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ServerError(f"cannot write {path} ({exc.strerror or exc})") from None

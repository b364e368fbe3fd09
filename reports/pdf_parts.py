"""The official PDF's smallest parts, shared by its pages (:mod:`reports.official_pdf`) and the counter's sections
(:mod:`reports.counter_pdf`), so that neither imports the other: a paragraph, a table, a level's count and share."""

from __future__ import annotations

import unicodedata
from xml.sax.saxutils import escape

from sync.plain_text import without_bidi_controls

from .figures import Cell
from .labels import vi_int, vi_pct

MM = 72 / 25.4  # PDF points per millimetre


def _p(text: str, style) -> "object":
    """A paragraph of plain ``text`` (escaped; a line break in it stays one)."""
    from reportlab.platypus import Paragraph

    plain = unicodedata.normalize("NFC", without_bidi_controls(text))
    return Paragraph("<br/>".join(escape(line) for line in plain.split("\n")), style)


def _table(rows, widths, styles, *commands, repeat_rows: int = 0):
    """A table in the serif font throughout (even an empty cell would otherwise name Helvetica)."""
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths, repeatRows=repeat_rows)
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), styles.family), *commands]))
    return table


def _level_text(cell: Cell, level: str) -> str:
    return f"{vi_int(getattr(cell, level))}\n({vi_pct(cell.pct[level])})"

"""Text that a spreadsheet shows exactly as typed and never evaluates (OWASP's "CSV injection" guidance).

Names typed by people (units, counters) and text a terminal sends itself (its
app version, its last error, its boot id) reach every CSV and workbook we
write. A text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is a formula, or the start of one, to Excel, LibreOffice and Google
Sheets: a unit named ``=HYPERLINK("http://…","Báo cáo")`` would become a live
link in an official report. So every writer passes its text through here:

- CSV: :func:`csv_field` puts a single quote in front (``'=1+1``), which
  spreadsheets take as "this is text";
- Excel: :func:`write_text` stores an explicit string cell with the quote
  prefix (what Excel itself does when one types ``'=1+1``), so the cell shows
  the text exactly as typed and stays text when edited.

Numbers are never touched: a negative clock offset written as a number stays a number.
"""

from __future__ import annotations

import re

#: How a text that a spreadsheet would read as a formula starts.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: Characters an Excel workbook cannot hold at all (openpyxl refuses them): left out of a text cell.
_NOT_IN_A_WORKBOOK = re.compile(r"[\000-\010\013\014\016-\037]")


def looks_like_formula(value) -> bool:
    """Whether ``value`` is a text that a spreadsheet would read as a formula.

    >>> [looks_like_formula(v) for v in ("=1+1", "+1", "-2+3", "@SUM(A1)", "\\t=1", "Quầy 1", -2.5, None)]
    [True, True, True, True, True, False, False, False]
    """
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_field(value):
    """``value`` as a CSV field a spreadsheet shows as text: a formula-like text gets a leading ``'``.

    >>> csv_field('=HYPERLINK("http://x","y")')
    '\\'=HYPERLINK("http://x","y")'
    >>> csv_field("UBND phường Phúc La"), csv_field(-1.5), csv_field("")
    ('UBND phường Phúc La', -1.5, '')
    """
    return "'" + value if looks_like_formula(value) else value


def csv_row(values) -> list:
    """A CSV row with every field through :func:`csv_field`.

    >>> csv_row(["-2+3", 4, None])
    ["'-2+3", 4, None]
    """
    return [csv_field(value) for value in values]


def write_text(cell, text: str):
    """Put ``text`` in the openpyxl ``cell`` (a sheet's cell or a ``WriteOnlyCell``) as text, never a formula.

    The cell is an explicit string cell (openpyxl would make ``"=…"`` a formula), quote-prefixed when it
    looks like a formula; characters a workbook cannot hold are left out. Returns the cell.

    >>> from openpyxl import Workbook
    >>> cell = write_text(Workbook().active["A1"], "=1+1")
    >>> cell.value, cell.data_type, cell.quotePrefix
    ('=1+1', 's', True)
    """
    cell.value = _NOT_IN_A_WORKBOOK.sub("", text)
    cell.data_type = "s"
    if looks_like_formula(text):
        cell.quotePrefix = True
    return cell

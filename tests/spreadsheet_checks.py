r"""Reading back what a spreadsheet would see: the fields of a CSV, and whether a text is a number.

>>> csv_fields('\ufeffa,"b\nc"\r\n1,=2\r\n')
['a', 'b\nc', '1', '=2']
>>> is_number("-3.5"), is_number("=1+1")
(True, False)
"""

from __future__ import annotations

import csv
import io


def is_number(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a number."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_fields(text: str) -> list[str]:
    """Every field of a CSV document (a leading byte-order mark dropped), row after row."""
    return [field for row in csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")) for field in row]

"""Site and counter names: what a name may be wherever it enters (enrolment codes, the terminal's config).

A name is shown on the terminal's home screen and in every report, so it is
bounded (:data:`NAME_MAX` characters) and holds no control characters (a tab,
a newline or a NUL would break a table row, and spreadsheets refuse them).

    >>> name_problem("UBND phường Phúc La") is None
    True
    >>> name_problem("x" * 121)
    'is 121 characters long; at most 120 are allowed'
    >>> name_problem("Quầy\\t1")
    'contains a control character (U+0009); remove it'
"""

from __future__ import annotations

import unicodedata

#: The longest site or counter name accepted, in characters.
NAME_MAX = 120
#: The longest terminal id the server accepts and stores, in characters.
TERMINAL_ID_MAX = 64


def control_character(text: str) -> str | None:
    """The first control character in ``text`` (C0, DEL or C1), or None.

        >>> control_character("a\\x01b"), control_character("Phúc La")
        ('\\x01', None)
    """
    return next((char for char in text if unicodedata.category(char) == "Cc"), None)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a site or counter name (a sentence without the field), or None when it can."""
    if len(name) > NAME_MAX:
        return f"is {len(name)} characters long; at most {NAME_MAX} are allowed"
    char = control_character(name)
    if char is not None:
        return f"contains a control character (U+{ord(char):04X}); remove it"
    return None


def terminal_id_problem(terminal_id: str) -> str | None:
    """Why ``terminal_id`` cannot be a terminal's id (a sentence without the field), or None when it can.

    The server takes 1 to :data:`TERMINAL_ID_MAX` characters; a longer id would have every batch refused.

        >>> terminal_id_problem("ubnd-phuong-phuc-la-quay-1-k3x9q2") is None
        True
        >>> terminal_id_problem("x" * 65)
        'is 65 characters long; at most 64 are allowed'
        >>> terminal_id_problem("")
        'is empty; set it with `kiosk provision`'
    """
    if not terminal_id:
        return "is empty; set it with `kiosk provision`"
    if len(terminal_id) > TERMINAL_ID_MAX:
        return f"is {len(terminal_id)} characters long; at most {TERMINAL_ID_MAX} are allowed"
    char = control_character(terminal_id)
    if char is not None:
        return f"contains a control character (U+{ord(char):04X}); remove it"
    return None

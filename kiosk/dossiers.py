"""Dossier codes at the counter: checking them, shortening them for the screen, and the open invitation.

A dossier code (Circular 01/2018/TT-VPCP: agency, date received, sequence) is printed on the receipt; the
officer or the citizen scans it, the terminal invites the citizen to rate, and the next counted rating
within ``[dossier] invitation_s`` is linked to it. An invitation nobody answers expires as ``unanswered``.

    >>> rules = DossierRules(r"^[A-Za-z0-9][A-Za-z0-9._/-]{5,47}$")
    >>> rules.is_valid("000.00.23.H26-261202-0007"), rules.is_valid("a b")
    (True, False)
    >>> shorten("000.00.23.H26-261202-0007", 16)
    '000.00.…202-0007'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The most characters of a dossier code the invitation shows; longer codes keep their start and end.
SCREEN_CHARS = 20
ELLIPSIS = "…"


class DossierRules:
    """Which scans are dossier codes on this terminal (``[dossier] pattern``, the whole scan)."""

    def __init__(self, pattern: str):
        self.pattern = re.compile(pattern)

    @classmethod
    def from_config(cls, config) -> "DossierRules":
        return cls(config.dossier.pattern)

    def is_valid(self, code: str) -> bool:
        return self.pattern.fullmatch(code) is not None


def shorten(code: str, width: int = SCREEN_CHARS) -> str:
    """``code`` in at most ``width`` characters: its start and its end (the sequence number, which tells
    two receipts of one day apart) with "…" in the middle; a code that fits is left whole.

        >>> shorten("HS-0007", 20), shorten("ABCDEFGHIJ", 5), shorten("ABCDEFGHIJ", 1)
        ('HS-0007', 'AB…IJ', '…')
    """
    if width < 1:
        raise ValueError("width is at least 1")
    if len(code) <= width:
        return code
    keep = width - len(ELLIPSIS)
    head = keep // 2
    tail = keep - head
    return code[:head] + ELLIPSIS + (code[-tail:] if tail else "")


@dataclass
class Invitation:
    """The open invitation: its row id, the dossier, the officer signed in when it opened, and when it
    expires (the flow's monotonic clock)."""

    id: str
    dossier: str
    officer: str | None
    expires_at: float

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def seconds_left(self, now: float) -> float:
        return max(0.0, self.expires_at - now)

    @property
    def on_screen(self) -> str:
        """The code as the invitation shows it (:func:`shorten`)."""
        return shorten(self.dossier)

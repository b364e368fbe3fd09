"""Telling a scanner from a person typing: a USB barcode/QR scanner is a keyboard to Linux.

Pure Python: the UI feeds every character with the monotonic time it arrived. A scanner types a whole code
in a burst, each character a few milliseconds after the last, and ends it with Enter; a person types slower.
So characters are held until it is clear which it was: a burst ended by Enter is a :class:`Scan`; a burst
that stops without its Enter is a :class:`PartialScan` (a badge pulled away mid-read: refused, never
guessed at); anything slower is a person typing, and those characters are given back (``when_typed``) for
the keyboard path, where ``1`` ``2`` ``3`` keep pressing the mock buttons in the demo. A scan's own
characters are never given back: the digits of a dossier code must not press rating buttons.

    >>> reader = ScanReader()
    >>> typed = []
    >>> reader.when_typed = typed.append
    >>> for i, char in enumerate("CB0042"):
    ...     assert reader.feed(char, 10.0 + i * 0.01) is None
    >>> reader.feed_enter(10.06)
    Scan(text='CB0042')

A person pressing ``2`` gets it back once the gap shows nobody is scanning:

    >>> reader.feed("2", 20.0) is None, reader.poll(20.2), typed
    (True, None, ['2'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

BADGE, DOSSIER, UNKNOWN = "badge", "dossier", "unknown"


@dataclass(frozen=True)
class Scan:
    """A whole code read by the scanner (its Enter seen)."""

    text: str


@dataclass(frozen=True)
class PartialScan:
    """A burst that stopped without its Enter: part of a code, never used."""

    text: str


class ScanReader:
    """Characters with their arrival times in; scans, partial scans and typed characters out.

    ``max_gap_s``: the longest pause between two characters of one burst (scanners type a character
    every 2-20 ms; a person's fastest key roll is ~50-80 ms). ``min_length``: a shorter burst is keys
    pressed together, not a code. A burst needs its Enter within ``4 × max_gap_s`` of its last
    character, else it is a :class:`PartialScan`. Call :meth:`poll` now and then (e.g. every 50 ms):
    time alone ends a burst and releases what a person typed.
    """

    def __init__(self, max_gap_s: float = 0.05, min_length: int = 4, *,
                 when_typed: Callable[[str], None] | None = None):
        self.max_gap_s = max_gap_s
        self.min_length = min_length
        #: Called with each character a person typed (not part of a burst), in order.
        self.when_typed = when_typed
        self._held: list[str] = []
        self._last_at: float | None = None

    # -- inputs ------------------------------------------------------------
    def feed(self, char: str, at: float) -> PartialScan | None:
        """One character arrived at ``at`` (monotonic seconds). Returns a :class:`PartialScan` when this
        character comes after a burst that was cut short; else None (held, or what was held before it given
        back as typed)."""
        if len(char) != 1:
            raise ValueError(f"feed() takes one character, got {char!r}")
        ended = None
        if self._held and at - self._last_at > self.max_gap_s:
            ended = self._flush()
        self._held.append(char)
        self._last_at = at
        return ended

    def feed_enter(self, at: float) -> Scan | PartialScan | None:
        """Enter arrived at ``at``: a :class:`Scan` when it ends a burst in time (within ``4 × max_gap_s``
        of its last character), a :class:`PartialScan` when it comes too late; else None (a person's Enter
        means nothing to the terminal; what they typed before it is given back)."""
        if not self._held:
            return None
        if len(self._held) < self.min_length:
            self._give_back()
            return None
        text = "".join(self._held)
        late = at - self._last_at > 4 * self.max_gap_s
        self._clear()
        return PartialScan(text) if late else Scan(text)

    def poll(self, at: float) -> PartialScan | None:
        """Time passed: a burst whose Enter is overdue becomes a :class:`PartialScan`; characters a person
        typed are given back once ``max_gap_s`` passed without another."""
        if not self._held:
            return None
        gap = at - self._last_at
        if gap <= self.max_gap_s or (len(self._held) >= self.min_length and gap <= 4 * self.max_gap_s):
            return None  # too early to tell: another character (or the Enter) may still come
        return self._flush()

    # -- state -------------------------------------------------------------
    def is_reading(self, at: float) -> bool:
        """True while a burst is coming in (two or more characters in quick succession, its Enter not
        overdue): a press now comes while a badge may be being read, and is not counted."""
        return len(self._held) >= 2 and at - self._last_at <= 4 * self.max_gap_s

    @property
    def held(self) -> str:
        """The characters held until it is clear whether a scanner or a person typed them."""
        return "".join(self._held)

    # -- inside ------------------------------------------------------------
    # What is held is always one run of characters, each within max_gap_s of the one before:
    # a longer gap ends the run (feed, poll) before anything else is added.
    def _flush(self) -> PartialScan | None:
        """End the run: a burst long enough to be a code is a partial scan; a short one was typed."""
        if len(self._held) >= self.min_length:
            text = "".join(self._held)
            self._clear()
            return PartialScan(text)
        self._give_back()
        return None

    def _give_back(self) -> None:
        held = self._held
        self._clear()
        if self.when_typed is not None:
            for char in held:
                self.when_typed(char)

    def _clear(self) -> None:
        self._held = []
        self._last_at = None


def classify(text: str, config) -> tuple[str, str]:
    """What a scan is: ``("badge", staff code)``, ``("dossier", code)`` or ``("unknown", text)``.

    The badge pattern is tried first (``[officers] badge_pattern``, its group ``code``), then the dossier
    pattern (``[dossier] pattern``); both must match the whole scan.

        >>> from kiosk.config import load_config
        >>> config = load_config(None)
        >>> classify("CB0042", config), classify("000.00.23.H26-261202-0007", config)
        (('badge', '0042'), ('dossier', '000.00.23.H26-261202-0007'))
        >>> classify("hồ sơ?", config)
        ('unknown', 'hồ sơ?')
    """
    return classify_with(text, config.officers.badge_pattern, config.dossier.pattern)


def classify_with(text: str, badge_pattern: str, dossier_pattern: str) -> tuple[str, str]:
    r""":func:`classify` with the two patterns given (``re`` caches their compiled form).

        >>> classify_with("CB", r"^CB(?P<code>\w*)$", r"^\w{4,}$")
        ('unknown', 'CB')
    """
    badge = re.fullmatch(badge_pattern, text)
    if badge is not None and badge.group("code"):
        return BADGE, badge.group("code")
    if re.fullmatch(dossier_pattern, text):
        return DOSSIER, text
    return UNKNOWN, text

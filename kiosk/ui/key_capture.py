"""The window's keys, read as a USB scanner's bursts or a person's typing (no Kivy here: key codes are ints).

A USB barcode scanner is a keyboard to Linux: a badge or a dossier code arrives as key presses a few
milliseconds apart, ended by Enter. :class:`KeyCapture` turns Kivy's key events into characters, feeds them to
:class:`kiosk.scanner.ScanReader` with the time each event reached the window, and hands on:

- a scan (``when_scan(Scan)``) or a burst cut short (``when_partial(PartialScan)``);
- keys a person typed, held back until the reader knows they were no burst, then replayed as key down / key up
  (``when_key_down(char)`` / ``when_key_up(char)``): in the demo ``1`` ``2`` ``3`` … still press the mock pins.

A key held down repeats (SDL sends its key-down again every 30 ms or so): only its first key-down counts, so
holding ``1`` is no burst.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Callable

from kiosk.scanner import PartialScan, Scan

log = logging.getLogger(__name__)

#: Kivy's key codes of Enter and the keypad's Enter.
ENTER_KEYS = frozenset({13, 271})
#: Kivy's key codes of the keypad's digits (256 + n) and its point, minus, slash.
KEYPAD = {**{256 + n: str(n) for n in range(10)}, 266: ".", 267: "/", 269: "-"}
#: What Shift makes of the unshifted symbols on a US layout (the layout scanners type in).
SHIFTED = {"-": "_", "/": "?", ".": ">", ",": "<", ";": ":", "'": '"', "=": "+", "`": "~",
           "1": "!", "2": "@", "3": "#", "4": "$", "5": "%", "6": "^", "7": "&", "8": "*", "9": "(", "0": ")"}


def key_char(key: int, codepoint: str | None = None, modifiers=()) -> str | None:
    """The character key ``key`` types (None: Enter, a modifier, an arrow…), Shift and Caps Lock applied.

        >>> key_char(ord("c"), "c", ["shift"]), key_char(ord("b"), "b", []), key_char(ord("-"), "-", ["shift"])
        ('C', 'b', '_')
        >>> key_char(ord("c"), "c", ["capslock"]), key_char(258, None, ["numlock"]), key_char(13, None, [])
        ('C', '2', None)
        >>> key_char(304, None, ["shift"]) is None  # the Shift key itself
        True
    """
    if key in KEYPAD:
        return KEYPAD[key]
    if 32 < key < 127:
        char = chr(key)
    elif codepoint and len(codepoint) == 1 and codepoint.isprintable() and not codepoint.isspace():
        char = codepoint
    else:
        return None
    modifiers = set(modifiers or ())
    if "ctrl" in modifiers or "alt" in modifiers or "meta" in modifiers:
        return None
    shift = "shift" in modifiers
    if char.isalpha():
        return char.upper() if shift != ("capslock" in modifiers) else char.lower()
    return SHIFTED.get(char, char) if shift else char


#: The demo officers' badges (``make demo`` puts these officers on its server; see deploy/demo.sh).
DEMO_BADGES = {"badge": "CBPL001", "badge_2": "CBPL002"}
#: Demo dossier codes, a new one each time (Circular 01/2018's shape: agency, date received, sequence).
_DEMO_SEQUENCE = itertools.count(int(time.time()) % 9000 + 1)


def demo_scan(kind: str) -> str:
    """What the demo's stand-in scanner types for ``kind`` (``badge``, ``badge_2`` or ``dossier``).

        >>> demo_scan("badge")
        'CBPL001'
        >>> import re; bool(re.fullmatch(r"000\\.00\\.31\\.H26-\\d{6}-\\d{4}", demo_scan("dossier")))
        True
    """
    if kind in DEMO_BADGES:
        return DEMO_BADGES[kind]
    return f"000.00.31.H26-{time.strftime('%y%m%d')}-{next(_DEMO_SEQUENCE):04d}"


class KeyCapture:
    """Feeds a :class:`kiosk.scanner.ScanReader` from window key events and hands on what it finds."""

    def __init__(self, reader, *, when_scan: Callable, when_partial: Callable,
                 when_key_down: Callable[[str], None] | None = None,
                 when_key_up: Callable[[str], None] | None = None):
        self.reader = reader
        self.when_scan = when_scan
        self.when_partial = when_partial
        self.when_key_down = when_key_down
        self.when_key_up = when_key_up
        self._down: set[int] = set()
        #: Keys held back while the reader cannot yet tell a burst from typing: [char, released?, key code] in
        #: order, the same characters the reader holds.
        self._held: list[list] = []
        reader.when_typed = self._typed

    def key_down(self, key: int, codepoint: str | None, modifiers, at: float) -> None:
        if key in self._down:
            return  # the key repeats while held
        self._down.add(key)
        if key in ENTER_KEYS:
            self._take(self.reader.feed_enter(at))
            return
        char = key_char(key, codepoint, modifiers)
        if char is None:
            return
        self._held.append([char, False, key])
        self._take(self.reader.feed(char, at))

    def key_up(self, key: int, at: float) -> None:
        self._down.discard(key)
        for held in self._held:  # the first held key-down of this key not yet released
            if held[2] == key and not held[1]:
                held[1] = True
                return
        char = key_char(key)
        if char is not None and self.when_key_up is not None:  # pressed as typing already: let go now
            self.when_key_up(char)

    def type_burst(self, text: str, at: float) -> None:
        """``text`` and Enter as one burst, as a scanner types it (the demo's stand-in scanner)."""
        for char in text:
            self._held.append([char, True, None])
            self._take(self.reader.feed(char, at))
        self._take(self.reader.feed_enter(at))

    def poll(self, at: float) -> None:
        """Let time pass: typing is given back, a burst without its Enter becomes a partial scan."""
        self._take(self.reader.poll(at))

    # -- what the reader found -----------------------------------------------------
    def _take(self, found) -> None:
        if isinstance(found, (Scan, PartialScan)):
            del self._held[:len(found.text)]  # the burst's keys (a key typed after it stays held)
            (self.when_scan(found) if isinstance(found, Scan) else self.when_partial(found))

    def _typed(self, char: str) -> None:
        """The reader gives back a key a person typed: press it now (and let go, when it was already)."""
        if not self._held:
            return
        held_char, released, _key = self._held.pop(0)
        if self.when_key_down is not None:
            self.when_key_down(held_char)
            if released and self.when_key_up is not None:
                self.when_key_up(held_char)

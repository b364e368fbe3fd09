"""Text from elsewhere on one line of a terminal or a log: nothing in it can start a line, colour or move the text.

A name, a terminal's last error or a server's answer reaches log lines,
``kiosk status`` and ``kiosk-server terminals``. Written raw, a newline in it
forges a second log line (``kiosk status`` would list it as an error), an ANSI
escape (``ESC [2J``) clears or recolours the technician's screen, and a
right-to-left override makes ``exe.txt`` read as ``txt.exe``. So every such
text goes through :func:`one_line`: control characters (C0, DEL, C1), line and
paragraph separators and bidirectional controls are written as visible escapes
(``\\n``, ``\\x1b``, ``\\u202e``); everything else, Vietnamese with its combining
marks included, is kept exactly.

    >>> one_line("sync failed\\n2026-11-25T09:30:12+0700 ERROR kiosk.store: forged")
    'sync failed\\\\n2026-11-25T09:30:12+0700 ERROR kiosk.store: forged'
    >>> one_line("\\x1b[31mok\\u202e") , one_line("Quầy 1 – phường Phúc La")
    ('\\\\x1b[31mok\\\\u202e', 'Quầy 1 – phường Phúc La')

Log handlers use :class:`OneLineFormatter`, which applies the same rule to
each message (a traceback of our own still spans its lines).
"""

from __future__ import annotations

import logging
import re

#: LRM, RLM, ALM, the embeddings and overrides (U+202A-U+202E), the isolates (U+2066-U+2069).
BIDI_CONTROLS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
#: What cannot stand on one line as it is: C0, DEL, C1, the line and paragraph separators, bidi controls.
_NOT_ON_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def one_line(text: object) -> str:
    """``text`` (anything: ``str()`` is taken, None is ``""``) with every character that could break, colour or
    reorder a line of a terminal or a log written as a visible escape.

        >>> one_line(None), one_line("a\\tb\\u2028c\\x85")
        ('', 'a\\\\tb\\\\u2028c\\\\x85')
    """
    return _NOT_ON_ONE_LINE.sub(_escape, "" if text is None else str(text))


def without_bidi_controls(value: object) -> str:
    """``value`` as text without bidirectional control characters.

        >>> without_bidi_controls("a\\u2066b\\u200fc")
        'abc'
    """
    return BIDI_CONTROLS.sub("", "" if value is None else str(value))


class OneLineFormatter(logging.Formatter):
    """A log formatter whose message is always one line (:func:`one_line`), whatever text it quotes.

        >>> record = logging.LogRecord("kiosk", logging.WARNING, __file__, 1, "sync failed: %s", ("a\\nb",), None)
        >>> OneLineFormatter("%(levelname)s %(message)s").format(record)
        'WARNING sync failed: a\\\\nb'
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        # format() has just set record.message from getMessage(); every handler sets it afresh.
        record.message = one_line(record.message)
        return super().formatMessage(record)

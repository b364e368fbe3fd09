"""The report filters (site, counter, terminal): text that a stored name could equal.

Names enter with no control characters (:mod:`sync.names`), so a filter holding
one can match nothing; it is refused with the filter named, rather than making a
report that spreadsheets cannot hold.

    >>> check_filters(site="UBND phường Phúc La", counter=None)
    >>> check_filters(counter="Quầy\\x0b1")
    Traceback (most recent call last):
    ...
    reports.errors.FilterError: counter: contains a control character (U+000B), which no name holds
"""

from __future__ import annotations

from sync.names import control_character

from .errors import FilterError


def check_filters(**filters: str | None) -> None:
    """Raise :class:`FilterError` naming the first filter that holds a control character."""
    for field, value in filters.items():
        char = control_character(value) if value else None
        if char is not None:
            raise FilterError(f"{field}: contains a control character (U+{ord(char):04X}), which no name holds",
                              field=field)

"""Opening hours of the counters: the parser lives in :mod:`sync.opening_hours`, which the terminal uses too
(its ``[hours] opening``); the server's modules keep importing it from here.

    >>> OpeningHours.parse("Sat 07:30-11:30").describe_vi()
    'Thứ Bảy 07:30–11:30'
"""

from sync.opening_hours import DAYS, DAYS_VI, OpeningHours

__all__ = ["DAYS", "DAYS_VI", "OpeningHours"]

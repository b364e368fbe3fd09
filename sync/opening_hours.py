"""Opening hours of the counters, and how much opening time has passed between two moments.

Shared by the server (alerts, reports) and the terminal (``[hours] opening``: outside them the home screen says
so discreetly). The empty text is "always open" on the terminal; :meth:`OpeningHours.parse` reads it as never
open, so the terminal checks for it first.

A terminal is expected to be heard from while its counter is open; at night
and on Sundays silence is normal. So "silent for 2 hours" counts only the
opening time in between: silent since Friday 16:30 reaches two hours on
Saturday at 09:00 (30 minutes on Friday, 90 on Saturday morning).

    >>> from zoneinfo import ZoneInfo
    >>> hours = OpeningHours.parse("Mon-Fri 07:30-17:00; Sat 07:30-11:30")
    >>> tz = ZoneInfo("Asia/Ho_Chi_Minh")
    >>> hours.is_open(datetime(2026, 11, 28, 9, 0, tzinfo=tz)), hours.is_open(datetime(2026, 11, 29, 9, 0, tzinfo=tz))
    (True, False)
    >>> hours.open_seconds(datetime(2026, 11, 27, 16, 30, tzinfo=tz), datetime(2026, 11, 28, 9, 0, tzinfo=tz)) / 3600
    2.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
DAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Beyond this many days of silence the exact amount no longer matters: it is "very long".
_MAX_DAYS = 366

_PART = re.compile(r"^\s*(?P<first>[a-z]{3})(?:\s*-\s*(?P<last>[a-z]{3}))?\s+(?P<spans>.+?)\s*$")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class OpeningHours:
    """Per weekday (Monday = 0), the local (open, close) spans."""

    spans: tuple[tuple[tuple[time, time], ...], ...]

    @classmethod
    def parse(cls, text: str) -> "OpeningHours":
        """``"Mon-Fri 07:30-17:00; Sat 07:30-11:30"``: day or day range, then spans separated by commas.

        Raises ValueError with a plain sentence for anything else.
        """
        days: list[list[tuple[time, time]]] = [[] for _ in DAYS]
        for part in filter(None, (p.strip() for p in text.split(";"))):
            match = _PART.match(part.lower())
            if not match or match["first"] not in DAYS or (match["last"] and match["last"] not in DAYS):
                raise ValueError(f"{part!r} is not like 'Mon-Fri 07:30-17:00' (days: {', '.join(d.title() for d in DAYS)})")
            first = DAYS.index(match["first"])
            last = DAYS.index(match["last"]) if match["last"] else first
            if last < first:
                raise ValueError(f"{part!r}: the day range runs backwards")
            for span in match["spans"].split(","):
                times = _SPAN.match(span.strip())
                if not times:
                    raise ValueError(f"{span.strip()!r} is not a span of hours such as 07:30-17:00")
                h1, m1, h2, m2 = map(int, times.groups())
                if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
                    raise ValueError(f"{span.strip()!r} is not a time of day")
                opens, closes = time(h1, m1), (time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2))
                if closes <= opens:
                    raise ValueError(f"{span.strip()!r}: closes before it opens")
                for day in range(first, last + 1):
                    days[day].append((opens, closes))
        return cls(tuple(tuple(sorted(d)) for d in days))

    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware) falls in opening hours, in the time zone it carries."""
        now = moment.timetz().replace(tzinfo=None)
        return any(opens <= now < closes for opens, closes in self.spans[moment.weekday()])

    def open_seconds(self, start: datetime, end: datetime, *, enough: float | None = None) -> float:
        """Seconds of opening time between ``start`` and ``end`` (aware; days are ``end``'s time zone's).

        Days are walked back from ``end``; with ``enough`` the walk stops once
        that much is found (a terminal silent for months costs a few days' work).
        """
        if end <= start:
            return 0.0
        tz = end.tzinfo
        start = start.astimezone(tz)
        day, first = end.date(), max(start.date(), end.date() - timedelta(days=_MAX_DAYS))
        total = 0.0
        while day >= first and (enough is None or total < enough):
            for opens, closes in self.spans[day.weekday()]:
                lo = max(start, datetime.combine(day, opens, tzinfo=tz))
                hi = min(end, datetime.combine(day, closes, tzinfo=tz))
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day -= timedelta(days=1)
        return total

    def open_since(self, end: datetime, seconds: float) -> datetime | None:
        """The latest moment ``start`` with ``open_seconds(start, end) >= seconds``: a terminal last heard from
        at or before it has been silent that long in opening hours, so a count of silent terminals is one
        comparison in SQL. None when not that much opening time lies within the days :meth:`open_seconds`
        walks back (then no terminal is that silent).

            >>> from zoneinfo import ZoneInfo
            >>> hours = OpeningHours.parse("Mon-Fri 07:30-17:00; Sat 07:30-11:30")
            >>> hours.open_since(datetime(2026, 11, 28, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")), 7200).isoformat()
            '2026-11-27T16:30:00+07:00'
        """
        tz = end.tzinfo
        day, first = end.date(), end.date() - timedelta(days=_MAX_DAYS)
        left = float(seconds)
        if left <= 0:
            return end
        while day >= first:
            for opens, closes in reversed(self.spans[day.weekday()]):
                lo = datetime.combine(day, opens, tzinfo=tz)
                hi = min(end, datetime.combine(day, closes, tzinfo=tz))
                if hi > lo:
                    here = (hi - lo).total_seconds()
                    if here >= left:
                        return hi - timedelta(seconds=left)
                    left -= here
            day -= timedelta(days=1)
        return None

    def describe_vi(self) -> str:
        """``Thứ Hai–Thứ Sáu 07:30–17:00; Thứ Bảy 07:30–11:30`` (for the dashboard)."""
        return self.describe("vi")

    def describe(self, language: str = "vi") -> str:
        """The hours in words of ``language`` (``vi`` or ``en``), for the dashboard and the terminal's home screen.

            >>> OpeningHours.parse("Mon-Fri 07:30-17:00; Sat 07:30-11:30").describe("en")
            'Mon–Fri 07:30–17:00; Sat 07:30–11:30'
        """
        names = DAYS_EN if language == "en" else DAYS_VI
        parts, day = [], 0
        while day < 7:
            last = day
            while last + 1 < 7 and self.spans[last + 1] == self.spans[day]:
                last += 1
            if self.spans[day]:
                days = names[day] if last == day else f"{names[day]}–{names[last]}"
                hours = ", ".join(f"{o:%H:%M}–{c:%H:%M}" for o, c in self.spans[day])
                parts.append(f"{days} {hours}")
            day = last + 1
        return "; ".join(parts) or ("closed" if language == "en" else "không mở cửa")

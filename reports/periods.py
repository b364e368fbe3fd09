"""Report periods in the sites' time zone: a day, week, month, quarter, six months, year, or from/to.

A period is a half-open range of local time ``[start, end)``; :meth:`Period.utc_bounds`
turns it into ISO UTC text that compares, as text, with the ratings' ``corrected_at``
("2026-11-25T09:30:12.345Z") on SQLite and PostgreSQL alike.

    >>> p = parse_period("quarter", on=date(2026, 11, 25))
    >>> p.label, p.utc_bounds()
    ('Quý IV/2026', ('2026-09-30T17:00:00.000Z', '2026-12-31T17:00:00.000Z'))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync.vocabulary import TREND_UNIT_LABELS_VI

from .errors import PeriodError

DEFAULT_TZ = "Asia/Ho_Chi_Minh"

#: Period kinds, in the order the CLI and the API list them.
PERIOD_KINDS = ("day", "week", "month", "quarter", "half", "year", "range")

#: How each kind is written in Vietnamese headings.
KIND_LABELS_VI = {**TREND_UNIT_LABELS_VI, "quarter": "Quý", "half": "6 tháng", "year": "Năm",
                  "range": "Khoảng thời gian"}

_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def vi_date(day: date) -> str:
    """``25/11/2026``: how Vietnamese documents write a date."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def iso_utc(moment: datetime) -> str:
    """``2026-11-25T02:30:12.345Z``: the protocol's ISO UTC text, comparable with ``corrected_at``."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def zone(name: str) -> ZoneInfo:
    """The time zone ``name`` (IANA, e.g. Asia/Ho_Chi_Minh), or :class:`PeriodError` naming ``tz``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise PeriodError(f"tz: {name!r} is not a time zone name such as {DEFAULT_TZ}", field="tz") from None


@dataclass(frozen=True)
class Period:
    """A half-open range of local time: ``start`` ≤ t < ``end`` (aware datetimes in ``tz``)."""

    kind: str
    start: datetime
    end: datetime
    label: str

    @property
    def tz(self) -> ZoneInfo:
        return self.start.tzinfo  # type: ignore[return-value]

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last local day inside the period (``end`` is exclusive)."""
        return (self.end - timedelta(microseconds=1)).date()

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def utc_bounds(self) -> tuple[str, str]:
        """``(start, end)`` as ISO UTC text: ``start <= corrected_at < end`` selects the period."""
        return iso_utc(self.start), iso_utc(self.end)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "label": self.label, "tz": self.tz.key,
                "first_day": self.first_day.isoformat(), "last_day": self.last_day.isoformat(),
                "start": self.start.isoformat(), "end": self.end.isoformat(),
                "start_utc": self.utc_bounds()[0], "end_utc": self.utc_bounds()[1]}

    @classmethod
    def from_dict(cls, data: dict) -> "Period":
        tz = zone(data["tz"])
        return cls(data["kind"], datetime.fromisoformat(data["start"]).astimezone(tz),
                   datetime.fromisoformat(data["end"]).astimezone(tz), data["label"])


#: The dates a report may be asked about: the product's range (ratings are stored from 2000 on, and
#: a period around a date near year 1 or 9999 cannot even be computed).
FIRST_DATE = date(2000, 1, 1)
LAST_DATE = date(2100, 12, 31)

#: An ISO date from :data:`FIRST_DATE` to :data:`LAST_DATE` and nothing else, as the API documents ``on``,
#: ``start`` and ``end`` (leap days included exactly: 2100 is not a leap year).
DATE_PATTERN = ("^(?:(?:20[0-9]{2}|2100)-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
                "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
                "|20(?:[02468][048]|[13579][26])-02-29)$")


def _as_date(value, field: str) -> date | None:
    """``value`` (a date or ISO text) as a date inside the product's range, or :class:`PeriodError`.

        >>> _as_date("0001-01-01", "on")
        Traceback (most recent call last):
        ...
        reports.errors.PeriodError: on: 0001-01-01 is outside the dates reports cover (2000-01-01 to 2100-12-31)
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise PeriodError(f"{field}: {value!r} is not a date such as 2026-11-25", field=field) from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise PeriodError(f"{field}: {day.isoformat()} is outside the dates reports cover "
                          f"({FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()})", field=field)
    return day


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def _days_bounds(kind: str, day: date) -> tuple[date, date, str]:
    """The first day, the day after the last, and the label of the ``kind`` period around ``day``."""
    if kind == "day":
        return day, day + timedelta(days=1), f"Ngày {vi_date(day)}"
    if kind == "week":  # ISO weeks: Monday to Sunday
        monday = day - timedelta(days=day.weekday())
        sunday = monday + timedelta(days=6)
        iso_year, iso_week, _ = day.isocalendar()
        return monday, sunday + timedelta(days=1), \
            f"Tuần {iso_week}/{iso_year} ({vi_date(monday)}–{vi_date(sunday)})"
    if kind == "month":
        first = day.replace(day=1)
        return first, _add_months(first, 1), f"Tháng {day.month}/{day.year}"
    if kind == "quarter":
        quarter = (day.month - 1) // 3 + 1
        first = date(day.year, 3 * quarter - 2, 1)
        return first, _add_months(first, 3), f"Quý {_ROMAN[quarter]}/{day.year}"
    if kind == "half":
        first = date(day.year, 1 if day.month <= 6 else 7, 1)
        which = "đầu" if day.month <= 6 else "cuối"
        return first, _add_months(first, 6), f"6 tháng {which} năm {day.year}"
    if kind == "year":
        return date(day.year, 1, 1), date(day.year + 1, 1, 1), f"Năm {day.year}"
    raise AssertionError(kind)


def _add_months(first: date, months: int) -> date:
    index = first.month - 1 + months
    return date(first.year + index // 12, index % 12 + 1, 1)


def parse_period(kind: str = "month", *, on=None, start=None, end=None, tz: str = DEFAULT_TZ) -> Period:
    """The period of ``kind`` around the local date ``on`` (default: today in ``tz``).

    ``kind`` is one of day, week, month, quarter, half (six months), year, or range;
    a range runs from the local day ``start`` to the local day ``end``, both inclusive.
    Dates may be :class:`datetime.date` or ISO text. Bad input raises
    :class:`~reports.errors.PeriodError` (a ``ValueError``) naming the field.

        >>> parse_period("range", start="2026-11-01", end="2026-11-15").label
        'Từ 01/11/2026 đến 15/11/2026'
    """
    tz_info = zone(tz)
    kind = (kind or "").strip().lower()
    if kind not in PERIOD_KINDS:
        raise PeriodError(f"period: {kind!r} is not one of {', '.join(PERIOD_KINDS)}", field="period")
    if kind == "range":
        first, last = _as_date(start, "start"), _as_date(end, "end")
        if first is None or last is None:
            missing = "start" if first is None else "end"
            raise PeriodError(f"{missing}: a range needs both a start and an end date", field=missing)
        if last < first:
            raise PeriodError(f"end: {last.isoformat()} is before the start {first.isoformat()}", field="end")
        return Period(kind, _local_midnight(first, tz_info), _local_midnight(last + timedelta(days=1), tz_info),
                      f"Từ {vi_date(first)} đến {vi_date(last)}")
    if start is not None or end is not None:
        field = "start" if start is not None else "end"
        raise PeriodError(f"{field}: start and end go with the period 'range', not {kind!r}", field=field)
    day = _as_date(on, "on") or datetime.now(tz_info).date()
    first, after, label = _days_bounds(kind, day)
    return Period(kind, _local_midnight(first, tz_info), _local_midnight(after, tz_info), label)


def previous_period(period: Period) -> Period:
    """The period of the same kind just before ``period``: the month before a month, the week before a week;
    for a range, the range of the same length that ends the day before it starts.

        >>> previous_period(parse_period("month", on="2026-01-15")).label
        'Tháng 12/2025'
        >>> previous_period(parse_period("range", start="2026-11-10", end="2026-11-16")).label
        'Từ 03/11/2026 đến 09/11/2026'
    """
    tz = period.tz
    if period.kind == "range":
        last = period.first_day - timedelta(days=1)
        first = last - timedelta(days=period.days - 1)
        return Period("range", _local_midnight(first, tz), _local_midnight(period.first_day, tz),
                      f"Từ {vi_date(first)} đến {vi_date(last)}")
    first, after, label = _days_bounds(period.kind, period.first_day - timedelta(days=1))
    return Period(period.kind, _local_midnight(first, tz), _local_midnight(after, tz), label)

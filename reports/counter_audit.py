"""The audit counts at the counter, per officer and per terminal: counted ratings given with no officer signed
in, counted ratings outside opening hours, and sign-ins followed at once by a run of very-satisfied presses.

They are counts to look into, never a finding: a rating outside opening hours may be overtime, a run of very
satisfied citizens may be just that. Every rendering prints :data:`NEUTRAL_NOTE` with them.

A "burst" is :data:`BURST_RUN` or more counted very-satisfied ratings in a row (no other counted level between
them) within :data:`BURST_WINDOW_S` seconds after an officer signed in at that terminal (and before they
signed out), by the terminal's own clock, which writes both times::

    >>> burst_size(["very_satisfied", "very_satisfied", "satisfied", "very_satisfied"])
    0
    >>> burst_size(["satisfied", "very_satisfied", "very_satisfied", "very_satisfied"])
    3
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .figures import Check
from .labels import NO_COUNTER
from .levels import NO_NODE
from .officers import NO_OFFICER, officer_label
from .periods import Period, iso_utc

#: Seconds after a sign-in in which a run of very-satisfied presses is counted.
BURST_WINDOW_S = 120
#: How many very-satisfied presses in a row make a run worth counting.
BURST_RUN = 3

NEUTRAL_NOTE = ("Đây là số đếm để xem xét, không phải kết luận vi phạm: lượt đánh giá ngoài giờ có thể do làm "
                "thêm giờ, nhiều lượt “rất hài lòng” liền nhau có thể là người dân thật sự hài lòng.")
NEUTRAL_NOTE_EN = ("Counts to look into, not a finding of misconduct: a rating outside opening hours may be overtime, "
                   "a run of very satisfied citizens may be just that.")


def burst_size(levels: list[str], *, run: int = BURST_RUN) -> int:
    """How many of ``levels`` (counted ratings in time order) are very satisfied in runs of ``run`` or more."""
    size = current = 0
    for level in [*levels, None]:
        if level == "very_satisfied":
            current += 1
            continue
        if current >= run:
            size += current
        current = 0
    return size


@dataclass
class AuditLine:
    """The counts of one terminal or one officer."""

    label: str
    unit: str | None = None
    counter: str | None = None
    terminal: str | None = None
    officer_code: str | None = None
    officer_name: str | None = None
    counted: int = 0
    no_officer: int = 0
    outside_hours: int = 0
    sign_ins: int = 0
    bursts: int = 0          # sign-ins followed by a burst
    burst_ratings: int = 0   # the very-satisfied ratings in those bursts

    def merge(self, other: "AuditLine") -> None:
        for name in ("counted", "no_officer", "outside_hours", "sign_ins", "bursts", "burst_ratings"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict) -> "AuditLine":
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__ if name in data})


@dataclass
class AuditSection:
    terminals: list[AuditLine]
    officers: list[AuditLine]
    total: AuditLine
    hours: str = ""
    window_s: int = BURST_WINDOW_S
    run: int = BURST_RUN
    note: str = NEUTRAL_NOTE
    checks: list[Check] = field(default_factory=list)

    @property
    def in_use(self) -> bool:
        """Whether any officer signed in or was signed in at a press in the period."""
        return bool(self.total.sign_ins or self.total.counted - self.total.no_officer)

    def to_dict(self) -> dict:
        return {"terminals": [x.to_dict() for x in self.terminals], "officers": [x.to_dict() for x in self.officers],
                "total": self.total.to_dict(), "hours": self.hours, "window_s": self.window_s, "run": self.run,
                "note": self.note, "note_en": NEUTRAL_NOTE_EN, "checks": [c.to_dict() for c in self.checks], "in_use": self.in_use}

    @classmethod
    def from_dict(cls, data: dict) -> "AuditSection":
        return cls([AuditLine.from_dict(x) for x in data["terminals"]],
                   [AuditLine.from_dict(x) for x in data["officers"]], AuditLine.from_dict(data["total"]),
                   data.get("hours", ""), data.get("window_s", BURST_WINDOW_S), data.get("run", BURST_RUN),
                   data.get("note", NEUTRAL_NOTE), [Check(c["what"], c["parts"], c["whole"]) for c in data.get("checks", [])])


def _utc(text: str) -> datetime:
    """A stored ISO UTC time, a UTC hour ("2026-11-25T09") or minute ("2026-11-25T09:30"), as an aware datetime."""
    if len(text) == 13:
        text += ":00"
    return datetime.fromisoformat(text.replace("Z", "")).replace(tzinfo=timezone.utc)


def _officer_key(unit_id: int, officer_id, code) -> tuple:
    if officer_id is None and not code:
        return ("nobody",)
    return ("id", int(officer_id)) if officer_id is not None else ("code", unit_id, code)


def audit_section(period: Period, opening_hours, counts, shifts, ratings, places: dict[str, tuple],
                  names: dict[int, str], officer_names: dict[int, tuple[str, str]], *, total_counted: int,
                  tz=None, window_s: int = BURST_WINDOW_S, run: int = BURST_RUN) -> AuditSection:
    """The section from the rows of :mod:`reports.counter_sources`: ``counts`` (terminal, unit, officer id,
    code, 'open'/'closed' or a UTC hour or minute, n) summed from :func:`counter_counts`, ``shifts`` of
    :func:`sign_ins`, ``ratings`` of
    :func:`ratings_after`; ``places``: terminal → (site, counter, unit_id, counter_id); ``names``: node id →
    name; ``officer_names``: officer id → (code, name). ``opening_hours`` has ``is_open(aware datetime)`` and
    ``describe_vi()`` (server/opening.py's OpeningHours), local to ``tz`` (default: the period's zone)."""
    terminals: dict[str, AuditLine] = {}
    officers: dict[tuple, AuditLine] = {}

    def terminal_line(terminal_id: str, unit_id: int) -> AuditLine:
        line = terminals.get(terminal_id)
        if line is None:
            site, counter, place_unit, counter_id = places.get(terminal_id, (None, None, unit_id, 0))
            unit = names.get(place_unit or unit_id) or site or NO_NODE["unit"]
            counter_name = names.get(counter_id) or counter or NO_COUNTER
            line = terminals[terminal_id] = AuditLine(f"{terminal_id} ({counter_name})", unit, counter_name,
                                                      terminal_id)
        return line

    def officer_line(unit_id: int, officer_id, code) -> AuditLine:
        key = _officer_key(unit_id, officer_id, code)
        line = officers.get(key)
        if line is None:
            if key == ("nobody",):
                line = AuditLine(NO_OFFICER)
            else:
                known_code, name = officer_names.get(int(officer_id), (code, None)) if officer_id is not None \
                    else (code, None)
                line = AuditLine(officer_label(name, known_code or code), names.get(unit_id) or NO_NODE["unit"],
                                 officer_code=known_code or code, officer_name=name)
            officers[key] = line
        return line

    tz = tz or period.tz
    is_open: dict[str, bool] = {}
    for terminal_id, unit_id, officer_id, code, when, n in counts:
        unit_id, n = int(unit_id or 0), int(n)
        if when not in is_open:  # 'open' / 'closed' as the database judged it, else a UTC hour or minute
            is_open[when] = when == "open" if when in ("open", "closed") else \
                opening_hours.is_open(_utc(when).astimezone(tz))
        outside = 0 if is_open[when] else n
        nobody = n if officer_id is None and not code else 0
        for line in (terminal_line(terminal_id, unit_id), officer_line(unit_id, officer_id, code)):
            line.counted += n
            line.outside_hours += outside
            line.no_officer += nobody

    by_terminal: dict[str, tuple[list[str], list[str]]] = {}
    for terminal_id, created_at, level in ratings:
        times, levels = by_terminal.setdefault(terminal_id, ([], []))
        times.append(created_at)
        levels.append(level)
    for terminal_id, unit_id, officer_id, code, signed_in_at, signed_out_at in shifts:
        unit_id = int(unit_id or 0)
        # Within window_s seconds of the sign-in (that instant included), and before the sign-out.
        until = iso_utc(_utc(signed_in_at) + timedelta(seconds=window_s))
        times, levels = by_terminal.get(terminal_id, ([], []))
        last = bisect_right(times, until)
        if signed_out_at and signed_out_at <= until:
            last = bisect_left(times, signed_out_at)
        size = burst_size(levels[bisect_left(times, signed_in_at):last], run=run)
        for line in (terminal_line(terminal_id, unit_id), officer_line(unit_id, officer_id, code)):
            line.sign_ins += 1
            line.bursts += 1 if size else 0
            line.burst_ratings += size

    terminal_lines = sorted(terminals.values(), key=lambda x: (x.unit or "", x.counter or "", x.terminal or ""))
    officer_lines = sorted(officers.values(), key=lambda x: (x.label == NO_OFFICER, x.unit or "", x.label))
    total = AuditLine("Tổng cộng")
    for line in terminal_lines:
        total.merge(line)
    checks = [Check("kiểm tra tại quầy: cộng các dòng theo thiết bị = tổng số lượt được tính", total.counted,
                    total_counted)]
    for name, words in (("counted", "số lượt được tính"), ("outside_hours", "lượt ngoài giờ"),
                        ("sign_ins", "lượt đăng nhập"), ("burst_ratings", "lượt trong các chuỗi")):
        checks.append(Check(f"kiểm tra tại quầy: theo cán bộ = theo thiết bị ({words})",
                            sum(getattr(x, name) for x in officer_lines), getattr(total, name)))
    return AuditSection(terminal_lines, officer_lines, total, opening_hours.describe_vi(), window_s, run,
                        NEUTRAL_NOTE, checks)

"""The report by officer: the counted ratings of each officer who was signed in at the counter, ranked like
the report's groups (the small-sample guard, the rate shrunk toward the overall average), the ratings given
with nobody signed in as their own line, and the check that the lines add up to the report's total.

An officer is the one the server knows (``ratings.officer_id``), shown by the current name and staff code; a
staff code the server did not know when the rating arrived is a line of its own, by that code, under its unit
(two units may use the same code). Ratings a terminal filtered, and a dossier's second rating, are counted as
filtered, as everywhere in the reports.

    >>> rows = [(4, 7, "CB01", "very_satisfied", None, 0, 20), (4, None, None, "satisfied", None, 0, 5)]
    >>> section = officer_section(rows, {7: ("CB01", "Nguyễn An")}, {4: "Phường Phúc La"}, total_counted=25)
    >>> [(line.label, line.counted) for line in section.lines], section.no_officer.counted
    ([('Nguyễn An (CB01)', 20)], 5)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .figures import MIN_SAMPLE, PRIOR_WEIGHT, Cell, Check, _rank
from .labels import LEVEL_LABELS, LEVELS
from .levels import NO_NODE

#: The line of ratings given with no officer signed in.
NO_OFFICER = "Không có cán bộ đăng nhập"
#: After a staff code the server's list of officers did not hold when the rating arrived.
UNKNOWN_OFFICER = "không có trong danh sách cán bộ"


@dataclass
class OfficerCell(Cell):
    """A :class:`~reports.figures.Cell` of one officer: the staff code and name beside the counts."""

    officer_id: int | None = None
    officer_code: str | None = None
    officer_name: str | None = None

    def to_dict(self) -> dict:
        return {**super().to_dict(), "officer_id": self.officer_id, "officer_code": self.officer_code,
                "officer_name": self.officer_name}

    @classmethod
    def from_dict(cls, data: dict, *, min_sample: int = MIN_SAMPLE) -> "OfficerCell":
        cell = Cell.from_dict(data, min_sample=min_sample)
        return cls(**{name: getattr(cell, name) for name in cell.__dataclass_fields__},
                   officer_id=data.get("officer_id"), officer_code=data.get("officer_code"),
                   officer_name=data.get("officer_name"))


@dataclass
class OfficerSection:
    """The officers' lines (ranked best first), the no-officer line, and their checks."""

    lines: list[OfficerCell]
    no_officer: OfficerCell
    checks: list[Check] = field(default_factory=list)
    min_sample: int = MIN_SAMPLE
    prior_weight: int = PRIOR_WEIGHT
    #: More than one unit's officers: the lines name their unit.
    several_units: bool = False

    @property
    def in_use(self) -> bool:
        """Whether any rating of the period had an officer signed in."""
        return any(line.counted or line.filtered for line in self.lines)

    def to_dict(self) -> dict:
        return {"lines": [line.to_dict() for line in self.lines], "no_officer": self.no_officer.to_dict(),
                "checks": [check.to_dict() for check in self.checks], "min_sample": self.min_sample,
                "prior_weight": self.prior_weight, "several_units": self.several_units, "in_use": self.in_use}

    @classmethod
    def from_dict(cls, data: dict) -> "OfficerSection":
        m = data.get("min_sample", MIN_SAMPLE)
        return cls(lines=[OfficerCell.from_dict(line, min_sample=m) for line in data["lines"]],
                   no_officer=OfficerCell.from_dict(data["no_officer"], min_sample=m),
                   checks=[Check(c["what"], c["parts"], c["whole"]) for c in data.get("checks", [])],
                   min_sample=m, prior_weight=data.get("prior_weight", PRIOR_WEIGHT),
                   several_units=bool(data.get("several_units")))


def officer_label(name: str | None, code: str | None) -> str:
    """``Nguyễn Văn An (CB001)``; a code the server does not know: ``CB009 (không có trong danh sách cán bộ)``."""
    if name:
        return f"{name} ({code})" if code else name
    return f"{code} ({UNKNOWN_OFFICER})"


def officer_section(rows, names: dict[int, tuple[str, str]], units: dict[int, str], *, total_counted: int,
                    total_filtered: int | None = None, total=None, min_sample: int = MIN_SAMPLE,
                    prior_weight: int = PRIOR_WEIGHT) -> OfficerSection:
    """The section from ``rows`` (unit_id, officer_id, officer_code, rating, reason, filtered, n) as
    :mod:`reports.counter` sums them from :func:`reports.counter_sources.counter_counts`; ``names``: officer
    id → (code, name);
    ``units``: unit id → name. ``total`` (a Cell, default: the rows' own sum) is what the ranking shrinks
    toward and what the lines must add up to: the report's total."""
    lines: dict[tuple, OfficerCell] = {}
    nobody = OfficerCell(NO_OFFICER, min_sample=min_sample)
    summed = Cell("", min_sample=min_sample)
    for unit_id, officer_id, code, rating, reason, filtered, n in rows:
        unit_id, n, filtered = int(unit_id or 0), int(n), int(filtered or 0)
        summed.add(rating, reason, filtered, n)
        if officer_id is None and not code:
            nobody.add(rating, reason, filtered, n)
            continue
        key = ("id", int(officer_id)) if officer_id is not None else ("code", unit_id, code)
        cell = lines.get(key)
        if cell is None:
            known_code, name = names.get(int(officer_id), (code, None)) if officer_id is not None else (code, None)
            unit = units.get(unit_id) if unit_id else NO_NODE["unit"]
            cell = lines[key] = OfficerCell(officer_label(name, known_code or code), site=unit,
                                            node_id=unit_id or None, min_sample=min_sample,
                                            officer_id=int(officer_id) if officer_id is not None else None,
                                            officer_code=known_code or code, officer_name=name)
        cell.add(rating, reason, filtered, n)
    reference = total if total is not None else summed
    ranked = _rank(list(lines.values()), reference, prior_weight)
    # The units of a province are named in its lines; one unit's report needs no such column.
    several = len({line.node_id for line in ranked}) > 1
    everyone = [*ranked, nobody]
    checks = [Check("cộng các dòng theo cán bộ và dòng không có cán bộ = tổng số lượt được tính",
                    sum(c.counted for c in everyone), total_counted)]
    if total_filtered is not None:
        checks.append(Check("cộng các dòng theo cán bộ và dòng không có cán bộ = tổng lượt bấm bị lọc",
                            sum(c.filtered for c in everyone), total_filtered))
    if total is not None:
        checks += [Check(f"theo cán bộ: cộng các dòng = tổng ({LEVEL_LABELS[level].lower()})",
                         sum(getattr(c, level) for c in everyone), getattr(total, level)) for level in LEVELS]
    return OfficerSection(ranked, nobody, checks, min_sample, prior_weight, several)

"""The dossiers of a report: how many invitations to rate a dossier the terminals showed, how many were
rated, how many nobody answered, how many were replaced by the next dossier scanned, and the share rated
with its n — per counter (and per unit when the report holds several), with the total and its checks.

The share rated is rated ÷ every invitation: a replaced invitation was not rated either (scanning the next
dossier before the citizen answers must not make the share look better). No dossier code is shown here.

    >>> section = dossier_section([(4, "t-1", "rated", 30), (4, "t-1", "unanswered", 8), (4, "t-1", "replaced", 2)],
    ...                           {"t-1": ("Phường Phúc La", "Quầy 1", 4, 9)}, {4: "Phường Phúc La", 9: "Quầy 1"})
    >>> section.total.invitations, section.total.share_rated, section.reconciles
    (40, 75.0, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .figures import MIN_SAMPLE, Check
from .labels import NO_COUNTER, one_decimal
from .levels import NO_NODE

OUTCOMES = ("rated", "unanswered", "replaced")


@dataclass
class DossierLine:
    """One counter's (or unit's, or the total's) invitations by outcome."""

    label: str
    unit: str | None = None
    counter: str | None = None
    rated: int = 0
    unanswered: int = 0
    replaced: int = 0
    #: Closed some other way (an outcome this server does not know): counted in the invitations, not rated.
    other: int = 0
    min_sample: int = MIN_SAMPLE

    @property
    def invitations(self) -> int:
        return self.rated + self.unanswered + self.replaced + self.other

    @property
    def share_rated(self) -> float | None:
        """Rated over every invitation, in percent to one decimal (None: no invitation)."""
        return one_decimal(self.rated, self.invitations)

    @property
    def too_few(self) -> bool:
        return self.invitations < self.min_sample

    def add(self, outcome: str | None, n: int) -> None:
        name = outcome if outcome in OUTCOMES else "other"
        setattr(self, name, getattr(self, name) + n)

    def merge(self, other: "DossierLine") -> None:
        for name in (*OUTCOMES, "other"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_dict(self) -> dict:
        return {"label": self.label, "unit": self.unit, "counter": self.counter, "invitations": self.invitations,
                "rated": self.rated, "unanswered": self.unanswered, "replaced": self.replaced, "other": self.other,
                "share_rated": self.share_rated, "too_few": self.too_few}

    @classmethod
    def from_dict(cls, data: dict, *, min_sample: int = MIN_SAMPLE) -> "DossierLine":
        return cls(data["label"], data.get("unit"), data.get("counter"), data["rated"], data["unanswered"],
                   data["replaced"], data.get("other", 0), min_sample)


@dataclass
class DossierSection:
    """Lines per counter, per unit (when several), the total, and the ratings kept as a dossier's second."""

    counters: list[DossierLine]
    units: list[DossierLine]
    total: DossierLine
    repeats: int = 0
    checks: list[Check] = field(default_factory=list)
    min_sample: int = MIN_SAMPLE

    @property
    def in_use(self) -> bool:
        return bool(self.total.invitations or self.repeats)

    @property
    def reconciles(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict:
        return {"counters": [line.to_dict() for line in self.counters], "units": [line.to_dict() for line in self.units],
                "total": self.total.to_dict(), "repeats": self.repeats, "min_sample": self.min_sample,
                "checks": [check.to_dict() for check in self.checks], "in_use": self.in_use}

    @classmethod
    def from_dict(cls, data: dict) -> "DossierSection":
        m = data.get("min_sample", MIN_SAMPLE)
        return cls([DossierLine.from_dict(x, min_sample=m) for x in data["counters"]],
                   [DossierLine.from_dict(x, min_sample=m) for x in data["units"]],
                   DossierLine.from_dict(data["total"], min_sample=m), data.get("repeats", 0),
                   [Check(c["what"], c["parts"], c["whole"]) for c in data.get("checks", [])], m)


def dossier_section(rows, places: dict[str, tuple], names: dict[int, str], *, repeats: int = 0,
                    counted: int | None = None, min_sample: int = MIN_SAMPLE) -> DossierSection:
    """The section from ``rows`` (unit_id, terminal_id, outcome, n) as
    :func:`reports.counter_sources.invitation_counts` gives them; ``places``: terminal id → (site, counter,
    unit_id, counter_id) where it stands; ``names``: node id → current name; ``counted``: the invitations
    counted again by another query (:func:`reports.counter_sources.invitation_total`), checked against the sum."""
    counters: dict[tuple, DossierLine] = {}
    units: dict[int, DossierLine] = {}
    total = DossierLine("Tổng cộng", min_sample=min_sample)
    for unit_id, terminal_id, outcome, n in rows:
        unit_id, n = int(unit_id or 0), int(n)
        site, counter_name, _unit, counter_id = places.get(terminal_id, (None, None, 0, 0))
        unit_name = names.get(unit_id) if unit_id else (site or NO_NODE["unit"])
        counter_label = names.get(counter_id) if counter_id else (counter_name or NO_COUNTER)
        key = (unit_id, counter_id or counter_label)
        line = counters.get(key)
        if line is None:
            line = counters[key] = DossierLine(f"{unit_name} – {counter_label}", unit_name, counter_label,
                                               min_sample=min_sample)
        line.add(outcome, n)
        unit = units.get(unit_id)
        if unit is None:
            unit = units[unit_id] = DossierLine(unit_name, unit_name, min_sample=min_sample)
        unit.add(outcome, n)
        total.add(outcome, n)
    ordered = sorted(counters.values(), key=lambda line: (line.unit or "", line.counter or ""))
    by_unit = sorted(units.values(), key=lambda line: line.label) if len(units) > 1 else []
    checks = [Check("hồ sơ: đã đánh giá + không được trả lời + bị thay thế (+ khác) = số lời mời đếm riêng",
                    total.invitations, counted)] if counted is not None else []
    checks += [Check("hồ sơ: cộng các dòng theo quầy = tổng số lời mời", sum(x.invitations for x in ordered),
                    total.invitations),
              Check("hồ sơ: cộng các dòng theo quầy = tổng số đã đánh giá", sum(x.rated for x in ordered), total.rated)]
    if by_unit:
        checks.append(Check("hồ sơ: cộng các dòng theo đơn vị = tổng số lời mời",
                            sum(x.invitations for x in by_unit), total.invitations))
    return DossierSection(ordered, by_unit, total, repeats, checks, min_sample)

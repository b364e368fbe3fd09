"""The report's figures: cells of counts and rates, ranked groups, trend, heat map, and the checks.

:func:`build_report` asks a source (:mod:`reports.sources`) for the
database's tallies of one period and folds them into a :class:`Report`:

- each :class:`Cell` counts the three levels among the *counted* ratings (filtered
  presses are kept apart and never counted), their percentages to one decimal,
  the satisfaction rate (very satisfied + satisfied over all counted), the
  dissatisfied by reason (``no_reason`` when none was given);
- a cell with fewer than 30 counted ratings is marked ``too_few`` to compare;
- groups (sites, counters or terminals by their stored names; or, on the server, the units, offices,
  counters or terminals under a node of the organisation tree, by the nodes' current names — see
  :mod:`reports.levels`) are ranked by a rate shrunk toward the
  overall average — ``(satisfied + m·p̄) / (counted + m)`` with a prior weight
  ``m`` of 30 ratings — so one dissatisfied rating out of one does not rank last;
- the total and each group are compared with the previous period of the same kind
  (:mod:`reports.comparison`: n on both sides, the gap in points, its 95 % interval,
  and "tăng"/"giảm" only when the interval excludes 0);
- every figure is added up again another way (``Report.checks``), and
  ``Report.reconciles`` says whether all the sums agree.

For example::

    report = build_report(sqlite_source("ratings.db"), parse_period("quarter"))
    report.total.counted, report.total.satisfaction_rate, report.reconciles
    # → (2939, 99.9, True)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Protocol

from sync.vocabulary import TREND_UNITS

from .labels import (GROUPINGS_VI, LEVEL_LABELS, LEVELS, NO_COUNTER, NO_REASON, NO_SITE, REASON_ORDER, one_decimal,
                     reason_label)
from .comparison import Change, compare
from .errors import FilterError
from .levels import LEVEL_WORDS, NO_NODE, TREE_LEVELS, group_label, levels_below, node_summary, place_key
from .periods import Period, previous_period, vi_date


class Section(Protocol):
    """One of the counter's sections of a report (reports.officers, reports.dossiers, reports.counter_audit:
    they import this module, never the other way round)."""

    def to_dict(self) -> dict: ...


#: Fewer counted ratings than this in a cell: too few to compare.
MIN_SAMPLE = 30
#: How many ratings' worth of the overall average a group's rate is shrunk with when ranking.
PRIOR_WEIGHT = 30

GROUPINGS = ("site", "counter", "terminal")
#: A report of the whole server lists each unit's counters and terminals only up to this many terminals.
DETAIL_TERMINALS = 300


@dataclass
class Cell:
    """The counts of one row of a report: a site, counter, terminal, trend bucket, or the total."""

    label: str
    very_satisfied: int = 0
    satisfied: int = 0
    dissatisfied: int = 0
    filtered: int = 0
    dissatisfied_reasons: dict[str, int] = field(default_factory=dict)
    site: str | None = None
    counter: str | None = None
    terminal: str | None = None
    #: Rows whose level is none of the three (not counted; a pulled file may hold anything).
    unrecognised: int = 0
    shrunk_rate: float | None = None
    rank: int | None = None
    min_sample: int = MIN_SAMPLE
    #: Against the previous period (None when the report was built without it).
    change: Change | None = None
    #: The node of the organisation tree this group is (a report by tree level; 0: no node).
    node_id: int | None = None

    @property
    def counted(self) -> int:
        """Ratings that count: every level, no filtered press."""
        return self.very_satisfied + self.satisfied + self.dissatisfied

    @property
    def content(self) -> int:
        """Very satisfied + satisfied."""
        return self.very_satisfied + self.satisfied

    @property
    def pct(self) -> dict[str, float | None]:
        """Each level's share of the counted ratings, in percent to one decimal."""
        return {level: one_decimal(getattr(self, level), self.counted) for level in LEVELS}

    @property
    def satisfaction_rate(self) -> float | None:
        """(Very satisfied + satisfied) / counted, in percent to one decimal; None if nothing was counted."""
        return one_decimal(self.content, self.counted)

    @property
    def too_few(self) -> bool:
        """Fewer than 30 counted ratings: too few to compare with other cells."""
        return self.counted < self.min_sample

    def add(self, rating: str, reason: str | None, filtered, n: int) -> None:
        if filtered:
            self.filtered += n
        elif rating in LEVELS:
            setattr(self, rating, getattr(self, rating) + n)
            if rating == "dissatisfied":
                key = reason or NO_REASON
                self.dissatisfied_reasons[key] = self.dissatisfied_reasons.get(key, 0) + n
        else:
            self.unrecognised += n

    def merge(self, other: "Cell") -> None:
        for name in (*LEVELS, "filtered", "unrecognised"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, n in other.dissatisfied_reasons.items():
            self.dissatisfied_reasons[key] = self.dissatisfied_reasons.get(key, 0) + n

    def to_dict(self) -> dict:
        return {"label": self.label, "site": self.site, "counter": self.counter, "terminal": self.terminal,
                "counted": self.counted, **{level: getattr(self, level) for level in LEVELS},
                "pct": self.pct, "satisfaction_rate": self.satisfaction_rate,
                "dissatisfied_reasons": dict(self.dissatisfied_reasons), "filtered": self.filtered,
                "unrecognised": self.unrecognised, "too_few": self.too_few, "shrunk_rate": self.shrunk_rate,
                "rank": self.rank, "change": self.change.to_dict() if self.change else None, "node_id": self.node_id}

    @classmethod
    def from_dict(cls, data: dict, *, min_sample: int = MIN_SAMPLE) -> "Cell":
        return cls(label=data["label"], **{level: data[level] for level in LEVELS}, filtered=data["filtered"],
                   dissatisfied_reasons=dict(data.get("dissatisfied_reasons") or {}), site=data.get("site"),
                   counter=data.get("counter"), terminal=data.get("terminal"),
                   unrecognised=data.get("unrecognised", 0), shrunk_rate=data.get("shrunk_rate"),
                   rank=data.get("rank"), min_sample=min_sample, node_id=data.get("node_id"),
                   change=Change.from_dict(data["change"], min_sample=min_sample) if data.get("change") else None)


@dataclass
class Check:
    """One sum done again another way: ``parts`` must equal ``whole``."""

    what: str
    parts: int
    whole: int

    @property
    def ok(self) -> bool:
        return self.parts == self.whole

    def to_dict(self) -> dict:
        return {"what": self.what, "parts": self.parts, "whole": self.whole, "ok": self.ok}


@dataclass
class Report:
    """A period's figures; see the module's docstring. ``to_dict()`` is what the API answers."""

    period: Period
    group_by: str | None
    total: Cell
    groups: list[Cell]
    trend_unit: str
    trend: list[Cell]
    heatmap: list[list[int]]                # [weekday Mon..Sun][local hour 0..23], counted ratings
    heatmap_dissatisfied: list[list[int]]
    reasons: list[str]                      # reason keys in display order, "no_reason" included
    sites: dict[str, dict[str, list[Cell]]]  # site -> {"counters": [...], "terminals": [...]}, ranked
    checks: list[Check]
    filters: dict[str, str | None] = field(default_factory=dict)
    average_rate: float | None = None       # the overall satisfaction rate the ranking shrinks toward
    min_sample: int = MIN_SAMPLE
    prior_weight: int = PRIOR_WEIGHT
    source: str = ""
    previous_period: Period | None = None   # what ``change`` compares with
    node: dict | None = None                # the tree node reported on: id, kind, name, path (None: all)
    # The counter's sections (reports.counter, on a server's database; None: not built, or not for this reader):
    officers: Section | None = None  # by officer (reports.officers.OfficerSection)
    dossiers: Section | None = None  # dossier invitations (reports.dossiers.DossierSection)
    audit: Section | None = None     # the audit counts (reports.counter_audit.AuditSection)

    @property
    def sections(self) -> list:
        """The counter's sections this report holds."""
        return [part for part in (self.officers, self.dossiers, self.audit) if part is not None]

    @property
    def all_checks(self) -> list[Check]:
        """The report's checks and its sections'."""
        return [*self.checks, *(check for part in self.sections for check in part.checks)]

    @property
    def reconciles(self) -> bool:
        """True when every check adds up (the sections' too)."""
        return all(check.ok for check in self.all_checks)

    @property
    def grouping_label(self) -> str:
        return GROUPINGS_VI[self.group_by]

    def to_dict(self) -> dict:
        return {"period": self.period.to_dict(), "group_by": self.group_by, "filters": dict(self.filters),
                "total": self.total.to_dict(), "groups": [c.to_dict() for c in self.groups],
                "trend_unit": self.trend_unit, "trend": [c.to_dict() for c in self.trend],
                "heatmap": self.heatmap, "heatmap_dissatisfied": self.heatmap_dissatisfied,
                "reasons": list(self.reasons),
                "sites": {site: {kind: [c.to_dict() for c in cells] for kind, cells in parts.items()}
                          for site, parts in self.sites.items()},
                "reconciles": self.reconciles, "checks": [c.to_dict() for c in self.checks],
                "average_rate": self.average_rate, "min_sample": self.min_sample,
                "prior_weight": self.prior_weight, "source": self.source,
                "previous_period": self.previous_period.to_dict() if self.previous_period else None,
                "node": self.node, **{name: part.to_dict() if part is not None else None
                                      for name, part in (("officers", self.officers), ("dossiers", self.dossiers),
                                                         ("audit", self.audit))}}

    @classmethod
    def from_dict(cls, data: dict, *, sections: dict | None = None) -> "Report":
        """The report a server answered (``GET /api/v1/reports/summary``), to render it here; ``sections``: the
        counter's sections already decoded (:func:`reports.counter.report_from_dict` decodes them, so that this
        module imports none of theirs)."""
        sections = sections or {}
        m = data.get("min_sample", MIN_SAMPLE)

        def cells(items):
            return [Cell.from_dict(item, min_sample=m) for item in items]

        return cls(period=Period.from_dict(data["period"]), group_by=data.get("group_by"),
                   total=Cell.from_dict(data["total"], min_sample=m), groups=cells(data["groups"]),
                   trend_unit=data["trend_unit"], trend=cells(data["trend"]), heatmap=data["heatmap"],
                   heatmap_dissatisfied=data.get("heatmap_dissatisfied") or [[0] * 24 for _ in range(7)],
                   reasons=list(data["reasons"]),
                   sites={site: {kind: cells(items) for kind, items in parts.items()}
                          for site, parts in (data.get("sites") or {}).items()},
                   checks=[Check(c["what"], c["parts"], c["whole"]) for c in data["checks"]],
                   filters=dict(data.get("filters") or {}), average_rate=data.get("average_rate"),
                   min_sample=m, prior_weight=data.get("prior_weight", PRIOR_WEIGHT),
                   source=data.get("source", ""),
                   previous_period=Period.from_dict(data["previous_period"]) if data.get("previous_period") else None,
                   node=data.get("node"), **sections)


# -- building -----------------------------------------------------------------------------------

def default_trend_unit(period: Period) -> str:
    """Days up to two months, weeks up to about four months (a quarter), months beyond."""
    if period.days <= 62:
        return "day"
    if period.days <= 126:
        return "week"
    return "month"


def _bucket_start(day: date, unit: str) -> date:
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_bucket(first: date, unit: str) -> date:
    if unit == "day":
        return first + timedelta(days=1)
    if unit == "week":
        return first + timedelta(days=7)
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _bucket_label(first: date, unit: str, period: Period) -> str:
    if unit == "day":
        return vi_date(first)
    if unit == "week":
        start, last = max(first, period.first_day), min(first + timedelta(days=6), period.last_day)
        return f"Tuần {first.isocalendar()[1]} ({start.day:02d}/{start.month:02d}–{last.day:02d}/{last.month:02d})"
    return f"Tháng {first.month}/{first.year}"


def _unit_key(grouping: str, site: str, counter: str | None, terminal: str) -> tuple:
    if grouping == "site":
        return (site,)
    if grouping == "counter":
        return (site, counter)
    return (site, counter, terminal)


def _unit_cell(grouping: str, key: tuple) -> Cell:
    if grouping == "site":
        return Cell(key[0] or NO_SITE, site=key[0])
    if grouping == "counter":
        return Cell(f"{key[0] or NO_SITE} – {key[1] or NO_COUNTER}", site=key[0], counter=key[1])
    return Cell(key[2] or "?", site=key[0], counter=key[1], terminal=key[2])


def _rank(cells: list[Cell], total: Cell, prior_weight: int) -> list[Cell]:
    """Best first by the shrunk rate; cells with nothing counted last."""
    exact = {}
    for cell in cells:
        if total.counted == 0 or cell.counted == 0:
            exact[id(cell)] = None
            cell.shrunk_rate = None
            continue
        # (content + m·C/N) / (counted + m) = (content·N + m·C) / ((counted + m)·N): whole numbers, so the
        # shown figure is rounded by the one rule from the exact value, not from a float.
        part = cell.content * total.counted + prior_weight * total.content
        whole = (cell.counted + prior_weight) * total.counted
        exact[id(cell)] = part / whole
        cell.shrunk_rate = one_decimal(part, whole)
    # Ties (two units of one name, say) in a fixed order, whatever order the database counted them in.
    ranked = sorted(cells, key=lambda c: (exact[id(c)] is None, -(exact[id(c)] or 0), -c.counted, c.label,
                                          c.node_id or 0, c.site or "", c.counter or "", c.terminal or ""))
    for position, cell in enumerate(ranked, 1):
        cell.rank = position
    return ranked


def _merge(units: dict[tuple, Cell], grouping: str, min_sample: int) -> dict[tuple, Cell]:
    """The terminals' cells added up into cells of ``grouping``, by the grouping's key."""
    folded: dict[tuple, Cell] = {}
    for (site, counter, terminal), cell in units.items():
        key = _unit_key(grouping, site, counter, terminal)
        target = folded.get(key)
        if target is None:
            target = folded[key] = _unit_cell(grouping, key)
            target.min_sample = min_sample
        target.merge(cell)
    return folded


def _fold(units: dict[tuple, Cell], grouping: str, total: Cell, prior_weight, min_sample) -> list[Cell]:
    return _rank(list(_merge(units, grouping, min_sample).values()), total, prior_weight)


def _merge_tree(placed: dict[tuple, Cell], level: str, tree: dict, min_sample: int) -> dict[tuple, Cell]:
    """The terminals' cells added up into the groups of a tree ``level``, keyed by :func:`levels.place_key`."""
    folded: dict[tuple, Cell] = {}
    for place, cell in placed.items():
        key = place_key(level, place)
        target = folded.get(key)
        if target is None:
            unit = tree.get(place[1]) if len(key) > 1 else None
            counter = tree.get(place[3]) if len(key) > 3 else None
            target = folded[key] = Cell(group_label(level, key, tree), site=unit.name if unit else None,
                                        counter=counter.name if counter else None,
                                        terminal=place[4] if level == "terminal" else None,
                                        node_id=None if level == "terminal" else key[-1], min_sample=min_sample)
        target.merge(cell)
    return folded


def _sites_by_tree(placed: dict[tuple, Cell], tree: dict, total: Cell, prior_weight: int,
                   min_sample: int) -> dict[str, dict[str, list[Cell]]]:
    """Per unit (by its current name): its counters and terminals, ranked — what ``sites`` holds by name."""
    sites = {}
    by_unit: dict[tuple, dict[tuple, Cell]] = {}  # one pass: each unit's own places
    for place, cell in placed.items():
        by_unit.setdefault(place_key("unit", place), {})[place] = cell
    units = _merge_tree(placed, "unit", tree, min_sample)
    names = Counter(unit.label for unit in units.values())
    for key, unit in sorted(units.items(), key=lambda item: (item[1].label, item[0])):
        # Two units of one name (a "Phường 1" in two provinces) are two entries: the second word is the province.
        label = unit.label
        if names[label] > 1:
            province = tree.get(key[0])
            label = f"{label} ({province.name if province else NO_NODE['province']})"
            if label in sites:
                label = f"{label} #{key[-1]}"
        sites[label] = {level + "s": _rank(list(_merge_tree(by_unit[key], level, tree, min_sample).values()), total,
                                           prior_weight) for level in ("counter", "terminal")}
    return sites


def _level_checks(placed: dict[tuple, Cell], levels: tuple[str, ...], total: Cell, tree: dict,
                  min_sample: int) -> list[Check]:
    """Every level adds up to the total, and every line of a level to the lines below it that it holds."""
    merged = {level: _merge_tree(placed, level, tree, min_sample) for level in levels}
    checks = [Check(f"cộng các dòng theo {LEVEL_WORDS[level].lower()} = tổng số lượt được tính",
                    sum(c.counted for c in merged[level].values()), total.counted) for level in levels]
    for upper, lower in zip(levels, levels[1:]):
        below: dict[tuple, int] = {}
        for key, cell in merged[lower].items():
            below[key[:-1]] = below.get(key[:-1], 0) + cell.counted
        agreeing = sum(1 for key, cell in merged[upper].items() if below.get(key, 0) == cell.counted)
        checks.append(Check(f"số dòng {LEVEL_WORDS[upper].lower()} bằng đúng tổng các dòng "
                            f"{LEVEL_WORDS[lower].lower()} của mình", agreeing, len(merged[upper])))
    return checks


def _reason_order(total: Cell) -> list[str]:
    present = [key for key, n in total.dissatisfied_reasons.items() if n]
    known = [key for key in REASON_ORDER if key in present and key != NO_REASON]
    others = sorted(key for key in present if key not in REASON_ORDER)
    return known + others + [NO_REASON]


def build_report(source, period: Period, *, group_by: str | None = "site", site: str | None = None,
                 counter: str | None = None, terminal: str | None = None, trend: str | None = None,
                 min_sample: int = MIN_SAMPLE, prior_weight: int = PRIOR_WEIGHT,
                 with_previous: bool = True, node: int | None = None) -> Report:
    """The report of ``period`` over the ratings of ``source``, optionally of one site/counter/terminal.

    ``group_by`` is site, counter, terminal or None (the total only); ``trend`` is
    day, week or month (None: chosen from the period's length). ``with_previous``
    compares the total and each group with the previous period (one more query).

    By the organisation tree (a server's database; :mod:`reports.levels`): ``node`` is the id of the
    node reported on (its subtree only; a caller's scope, say), and ``group_by`` unit, office, counter
    or terminal ranks the lines of that level under it ("children": the level just below the node).
    """
    by_tree = node is not None or group_by in ("province", "unit", "office", "children")
    if group_by not in (*GROUPINGS, "province", *TREE_LEVELS, "children", None):
        raise ValueError(f"group_by: {group_by!r} is not one of {', '.join(GROUPINGS + TREE_LEVELS[:2])}")
    if trend not in (*TREND_UNITS, None):
        raise ValueError(f"trend: {trend!r} is not one of {', '.join(TREND_UNITS)}")
    filters = {"site": site, "counter": counter, "terminal": terminal}
    tree, levels, node_info, where = {}, (), None, dict(filters)
    if by_tree:
        tree, place, levels = _tree_scope(source, node)
        node_info = node_summary(tree, node) if node is not None else None
        if group_by == "children":
            group_by = levels[0]
        if group_by is not None and group_by not in levels:
            raise FilterError(f"group_by: a report of {_node_words(node_info)} ranks its "
                              f"{', '.join(levels)} (or children: the level just below), not {group_by}", field="group_by")
        where["place"] = place
    if by_tree:
        # The whole server of more than DETAIL_TERMINALS terminals ranked by province or unit needs no finer
        # line: its lines are counted per unit (the rollups' unit_months at national scale), and it lists no
        # unit's counters and terminals (a national report would list 10,000).
        if node is None and group_by in ("province", "unit") and _terminals(source) > DETAIL_TERMINALS:
            levels = levels[:levels.index("unit") + 1]
            where["depth"] = "unit"
    tallies = source.tallies(period, **where)
    total, units, placed = _count_units(tallies.units, min_sample)
    # The overall average is the total's satisfaction rate: the same figure, rounded the same way.
    total.shrunk_rate = total.satisfaction_rate
    reasons = _reason_order(total)
    unit = trend or default_trend_unit(period)
    trend_cells, heatmap, heatmap_bad, hours_total = _fold_hours(tallies.hours, period, unit, min_sample)
    # Checked before every cell gets the report's reasons: a reason only the trend has must show as a drift.
    trend_reasons = _sum_reasons(trend_cells)
    checked_reasons = reasons + sorted(key for key in trend_reasons if key not in reasons)
    for cell in (total, *units.values(), *trend_cells):  # every reason in every cell, in the report's order
        cell.dissatisfied_reasons = {key: cell.dissatisfied_reasons.get(key, 0) for key in reasons}

    if by_tree:
        keyed = _merge_tree(placed, group_by, tree, min_sample) if group_by else {}
    else:
        keyed = _merge(units, group_by, min_sample) if group_by else {}
    groups = _rank(list(keyed.values()), total, prior_weight)
    sites = _sites_by_tree(placed, tree, total, prior_weight, min_sample) if by_tree and "terminal" in levels else {}
    by_site: dict[str, dict[tuple, Cell]] = {}  # one pass: each site's own terminals
    for key, cell in ({} if by_tree else units).items():
        by_site.setdefault(key[0], {})[key] = cell
    for site_cell in [] if by_tree else _fold(units, "site", total, prior_weight, min_sample):
        own = by_site.get(site_cell.site, {})
        sites[site_cell.label] = {"counters": _fold(own, "counter", total, prior_weight, min_sample),
                                 "terminals": _fold(own, "terminal", total, prior_weight, min_sample)}

    # The two queries count the same rows along different indexes: they must agree level by level.
    checks = [Check(f"đếm theo giờ = đếm theo thiết bị ({LEVEL_LABELS[level].lower()})",
                    getattr(hours_total, level), getattr(total, level)) for level in LEVELS]
    checks.append(Check("đếm theo giờ = đếm theo thiết bị (lượt bấm bị lọc)", hours_total.filtered, total.filtered))
    checks.append(Check("lý do không hài lòng cộng lại = số lượt không hài lòng",
                        sum(total.dissatisfied_reasons.values()), total.dissatisfied))
    if by_tree:
        checks += _level_checks(placed, levels, total, tree, min_sample)
    if group_by:
        checks.append(Check(f"cộng các dòng theo {GROUPINGS_VI[group_by].lower()} = tổng số lượt được tính",
                            sum(c.counted for c in groups), total.counted))
        checks.append(Check(f"cộng các dòng theo {GROUPINGS_VI[group_by].lower()} = tổng lượt bấm bị lọc",
                            sum(c.filtered for c in groups), total.filtered))
        checks.append(Check("lý do cộng lại = số lượt không hài lòng, ở mọi dòng",
                            sum(sum(c.dissatisfied_reasons.values()) for c in groups),
                            sum(c.dissatisfied for c in groups)))
    checks.append(Check("cộng theo thời gian = tổng số lượt được tính", sum(c.counted for c in trend_cells),
                        total.counted))
    checks += [Check(f"cộng theo thời gian = tổng ({LEVEL_LABELS[level].lower()})",
                     sum(getattr(c, level) for c in trend_cells), getattr(total, level)) for level in LEVELS]
    checks += [Check(f"cộng theo thời gian = tổng (không hài lòng, lý do: {reason_label(key).lower()})",
                     trend_reasons.get(key, 0), total.dissatisfied_reasons.get(key, 0)) for key in checked_reasons]
    checks.append(Check("bản đồ giờ × thứ cộng lại = tổng số lượt được tính", sum(map(sum, heatmap)),
                        total.counted))
    checks.append(Check("bản đồ giờ × thứ cộng lại = tổng (không hài lòng)", sum(map(sum, heatmap_bad)),
                        total.dissatisfied))
    previous = None
    if with_previous:
        previous = previous_period(period)
        before, before_units, before_placed = _count_units(
            source.tallies(previous, units_only=True, **where).units, min_sample)
        if not group_by:
            before_keyed = {}
        elif by_tree:
            before_keyed = _merge_tree(before_placed, group_by, tree, min_sample)
        else:
            before_keyed = _merge(before_units, group_by, min_sample)
        checks += _compare_previous(before, before_keyed, total, keyed, group_by, min_sample)

    return Report(period=period, group_by=group_by, total=total, groups=groups, trend_unit=unit,
                  trend=trend_cells, heatmap=heatmap, heatmap_dissatisfied=heatmap_bad, reasons=reasons,
                  sites=sites, checks=checks, filters=filters, average_rate=total.shrunk_rate, min_sample=min_sample,
                  prior_weight=prior_weight, source=getattr(source, "name", ""), previous_period=previous,
                  node=node_info)


def _terminals(source) -> int:
    """How many terminals the source's server has (0 when it cannot say: a pulled file)."""
    count = getattr(source, "terminal_count", None)
    return count() if count is not None else 0


def _tree_scope(source, node: int | None) -> tuple[dict, tuple[str, int] | None, tuple[str, ...]]:
    """The tree (id → :class:`levels.TreeNode`), the node filter (column, id) and the levels below ``node``."""
    tree = source.tree() if hasattr(source, "tree") else None
    if tree is None:
        raise FilterError("node: this source has no organisation tree (a pulled file keeps site and counter "
                          "names): group by site, counter or terminal", field="node")
    if node is None:
        return tree, None, levels_below(None)
    if node not in tree:
        raise FilterError(f"node: no node has the id {node} (see kiosk-server tree)", field="node")
    kind = tree[node].kind
    return tree, (f"{kind}_id", node), levels_below(kind)


def _node_words(node_info: dict | None) -> str:
    return "the whole server" if node_info is None else f"a {node_info['kind']} ({node_info['name']})"


def _count_units(rows, min_sample: int) -> tuple[Cell, dict[tuple, Cell], dict[tuple, Cell]]:
    """The total, a cell per (site, counter, terminal) of the units query's rows, and — when the rows carry
    the tree's ids (province, unit, office, counter) after the count — a cell per place in the tree."""
    total = Cell("Tổng cộng", min_sample=min_sample)
    units: dict[tuple, Cell] = {}
    placed: dict[tuple, Cell] = {}
    for row in rows:
        u_site, u_counter, u_terminal, rating, reason, filtered, n = row[:7]
        filtered, n = int(filtered or 0), int(n)
        key = (u_site, u_counter, u_terminal)
        cell = units.get(key)
        if cell is None:
            cell = units[key] = Cell(u_terminal, site=u_site, counter=u_counter, terminal=u_terminal)
        cell.add(rating, reason, filtered, n)
        total.add(rating, reason, filtered, n)
        if len(row) > 7:
            place = (*(int(part or 0) for part in row[7:11]), u_terminal)
            cell = placed.get(place)
            if cell is None:
                cell = placed[place] = Cell(u_terminal, terminal=u_terminal)
            cell.add(rating, reason, filtered, n)
    return total, units, placed


def _compare_previous(before: Cell, before_groups: dict[tuple, Cell], total: Cell, groups: dict[tuple, Cell],
                      group_by: str | None, min_sample: int) -> list[Check]:
    """Set ``change`` on the total and each group (matched by key) from the previous period's; its check."""
    total.change = compare(total.content, total.counted, before.content, before.counted, min_sample=min_sample)
    if not group_by:
        return []
    empty = Cell("")
    for key, cell in groups.items():
        old = before_groups.get(key, empty)
        cell.change = compare(cell.content, cell.counted, old.content, old.counted, min_sample=min_sample)
    return [Check(f"kỳ trước: cộng các dòng theo {GROUPINGS_VI[group_by].lower()} = tổng số lượt được tính",
                  sum(c.counted for c in before_groups.values()), before.counted)]


def _sum_reasons(cells: list[Cell]) -> dict[str, int]:
    """The dissatisfied of ``cells`` added up by reason."""
    summed: dict[str, int] = {}
    for cell in cells:
        for key, n in cell.dissatisfied_reasons.items():
            summed[key] = summed.get(key, 0) + n
    return summed


def _fold_hours(rows, period: Period, unit: str, min_sample: int):
    """Trend cells (every bucket of the period, empty ones too), the heat maps, and the hours' own total."""
    tz = period.tz
    buckets: dict[date, Cell] = {}
    first = _bucket_start(period.first_day, unit)
    while first <= period.last_day:
        buckets[first] = Cell(_bucket_label(first, unit, period), min_sample=min_sample)
        first = _next_bucket(first, unit)
    heatmap = [[0] * 24 for _ in range(7)]
    heatmap_bad = [[0] * 24 for _ in range(7)]
    hours_total = Cell("giờ")
    local_of: dict[str, datetime] = {}
    last_instant = period.end - timedelta(microseconds=1)
    for hour, rating, reason, filtered, n in rows:
        local = local_of.get(hour)
        if local is None:
            # The middle of the UTC hour, kept inside the period: exact for whole-hour offsets (Asia/Ho_Chi_Minh);
            # in a zone such as UTC+5:30 an hour's ratings go to the local hour its middle falls in.
            utc = datetime(int(hour[0:4]), int(hour[5:7]), int(hour[8:10]), int(hour[11:13]), 30,
                           tzinfo=timezone.utc)
            local = local_of[hour] = min(max(utc.astimezone(tz), period.start), last_instant)
        filtered, n = int(filtered or 0), int(n)
        hours_total.add(rating, reason, filtered, n)
        buckets[_bucket_start(local.date(), unit)].add(rating, reason, filtered, n)
        if not filtered and rating in LEVELS:
            heatmap[local.weekday()][local.hour] += n
            if rating == "dissatisfied":
                heatmap_bad[local.weekday()][local.hour] += n
    return list(buckets.values()), heatmap, heatmap_bad, hours_total

"""A national-size data set: the organisation tree of 34 provinces and a year of ratings at its terminals.

    tree = national_tree(provinces=34, units=100, terminals=10_000)
    plan = RatingPlan(tree, 20_000_000)          # how many ratings in each opening half-day of 2026
    for rows in plan.span_rows(range(len(plan.spans))): ...   # the rows, in cursor order

The tree: the 34 provinces and centrally-run cities of 1 July 2025 with their codes, ``units``
commune-level units each (xã, phường, and an đặc khu in a few coastal provinces) with 5-digit codes,
one one-stop office per unit (one in eight has two), two to four counters per office, and the
terminals spread over the counters in order (about one per counter at 10,000 terminals). Node ids
are assigned here (provinces first), so rows can be loaded with COPY as they are.

The ratings: the year 2026 in opening hours, local time Asia/Ho_Chi_Minh (Monday–Friday 7:30–11:30
and 13:30–17:00, Saturday 7:30–11:30), closed on public holidays (Tết 14–22 February, 30 April–1 May,
1–2 September, …); busier mornings and Mondays, a seasonal shape (a quiet Tết month, busy year-end);
busier units (a log-normal size each); three levels, each unit with its own satisfaction (1–10 %
dissatisfied), a reason for two in three dissatisfied, 2 % filtered presses. Each rating carries its
terminal's site/counter names and province/unit/office/counter ids, as ingest would have copied them.
Every half-day draws its rows from its own seeded generator, so any subset of half-days can be made
in any process and the same ``seed`` always gives the same data set; cursors increase with time.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

YEAR = 2026
UTC_OFFSET_H = 7  # Asia/Ho_Chi_Minh, no daylight saving
LOADED_AT = "2026-12-01T00:00:00.000Z"

#: The 34 provinces and centrally-run cities since 1 July 2025, with their codes.
PROVINCES = (
    ("01", "Thành phố Hà Nội"), ("04", "Tỉnh Cao Bằng"), ("08", "Tỉnh Tuyên Quang"), ("11", "Tỉnh Điện Biên"),
    ("12", "Tỉnh Lai Châu"), ("14", "Tỉnh Sơn La"), ("15", "Tỉnh Lào Cai"), ("19", "Tỉnh Thái Nguyên"),
    ("20", "Tỉnh Lạng Sơn"), ("22", "Tỉnh Quảng Ninh"), ("24", "Tỉnh Bắc Ninh"), ("25", "Tỉnh Phú Thọ"),
    ("31", "Thành phố Hải Phòng"), ("33", "Tỉnh Hưng Yên"), ("37", "Tỉnh Ninh Bình"), ("38", "Tỉnh Thanh Hóa"),
    ("40", "Tỉnh Nghệ An"), ("42", "Tỉnh Hà Tĩnh"), ("44", "Tỉnh Quảng Trị"), ("46", "Thành phố Huế"),
    ("48", "Thành phố Đà Nẵng"), ("51", "Tỉnh Quảng Ngãi"), ("52", "Tỉnh Gia Lai"), ("56", "Tỉnh Khánh Hòa"),
    ("66", "Tỉnh Đắk Lắk"), ("68", "Tỉnh Lâm Đồng"), ("75", "Tỉnh Đồng Nai"), ("79", "Thành phố Hồ Chí Minh"),
    ("80", "Tỉnh Tây Ninh"), ("82", "Tỉnh Đồng Tháp"), ("86", "Tỉnh Vĩnh Long"), ("91", "Tỉnh An Giang"),
    ("92", "Thành phố Cần Thơ"), ("96", "Tỉnh Cà Mau"),
)
#: Special zones (đặc khu), by the province that has them.
SPECIAL_ZONES = {"22": ("Vân Đồn", "Cô Tô"), "31": ("Cát Hải", "Bạch Long Vĩ"), "44": ("Cồn Cỏ",),
                 "51": ("Lý Sơn",), "56": ("Trường Sa",), "48": ("Hoàng Sa",), "68": ("Phú Quý",),
                 "91": ("Phú Quốc", "Kiên Hải", "Thổ Châu"), "79": ("Côn Đảo",)}
_FIRST = ("An", "Bình", "Tân", "Phú", "Hòa", "Long", "Thạnh", "Thuận", "Vĩnh", "Mỹ", "Đông", "Tây", "Nam",
          "Bắc", "Hưng", "Phước", "Quảng", "Hải", "Sơn", "Thanh", "Trung", "Đức", "Kim", "Ngọc", "Hồng", "Minh",
          "Quang", "Xuân", "Hương", "Lạc", "Yên", "Cẩm", "Gia", "Hiệp", "Khánh", "Lộc", "Nghĩa", "Phong",
          "Tiên", "Vân", "Hà", "Đại", "Thái", "Thịnh", "Cát", "Châu", "Diên", "Đồng", "Hoàng", "Kiến", "Lam",
          "Lương", "Mai", "Nhơn", "Phổ", "Quế", "Tam", "Thủy", "Triệu", "Vạn")
_SECOND = ("Bình", "Hòa", "Phú", "Lợi", "Thành", "Hưng", "Lộc", "Thịnh", "Phước", "Đông", "Tây", "Nam", "Bắc",
           "Sơn", "Hải", "Lâm", "Giang", "Điền", "Mỹ", "Tân", "Long", "An", "Khánh", "Trung", "Hiệp", "Thuận",
           "Quang", "Minh", "Xuân", "Hương", "Định", "Tiến", "Thắng", "Lạc", "Phong", "Nghĩa", "Thạnh", "Vinh",
           "Hà", "Lương", "Cường", "Dương", "Đức", "Hậu", "Lập", "Thái", "Tường", "Hội", "Châu", "Mai", "Hồng",
           "Yên", "Thọ", "Khê", "Xá", "Trạch", "Bảo", "Quý", "Chánh", "Kiệt")
REASONS = (("processing_time", 35), ("complex_procedure", 20), ("unclear_guidance", 15), ("repeat_visits", 12),
           ("staff_attitude", 10), ("facilities", 8))
#: Offices closed (2026): New Year, Tết (14–22 Feb), Hùng Kings (27 Apr, for the 26th), 30 Apr–1 May, 1–2 Sep.
HOLIDAYS = {date(YEAR, 1, 1), *(date(YEAR, 2, d) for d in range(14, 23)), date(YEAR, 4, 27), date(YEAR, 4, 30),
            date(YEAR, 5, 1), date(YEAR, 9, 1), date(YEAR, 9, 2)}
#: How busy each month is (paperwork piles up before Tết and at year-end; the Tết month is quiet).
MONTH_SHAPE = (1.15, 0.75, 1.0, 0.95, 0.95, 1.0, 1.05, 1.0, 0.95, 1.0, 1.05, 1.2)
WEEKDAY_SHAPE = (1.2, 1.05, 1.0, 1.0, 0.9, 0.55, 0.0)  # Monday … Sunday

RATING_COLUMNS = ("cursor", "id", "terminal_id", "rating", "reason", "reason_outcome", "source", "created_at",
                  "boot_id", "monotonic_ns", "clock_synced", "filtered", "site", "counter", "province_id",
                  "unit_id", "office_id", "counter_id", "received_at", "corrected_at", "time_quality")
NODE_COLUMNS = ("id", "kind", "code", "name", "parent_id", "created_at", "updated_at")
TERMINAL_COLUMNS = ("id", "site", "counter", "node_id", "province_id", "unit_id", "office_id", "counter_id",
                    "token_hash", "enrolled_at", "last_seen_at", "app_version", "pending", "clock_synced",
                    "clock_offset_s")


@dataclass(frozen=True)
class Terminal:
    id: str
    site: str           # the unit's name
    counter: str        # the counter's name
    node_id: int        # its counter
    province_id: int
    unit_id: int
    office_id: int
    weight: float       # its share of the ratings (relative)
    very: float         # its unit's share of very satisfied
    bad: float          # its unit's share of dissatisfied


@dataclass
class Tree:
    nodes: list[tuple] = field(default_factory=list)      # NODE_COLUMNS rows
    terminals: list[Terminal] = field(default_factory=list)

    def terminal_rows(self) -> list[tuple]:
        """TERMINAL_COLUMNS rows: each terminal recently seen, healthy."""
        rows = []
        for i, t in enumerate(self.terminals):
            rows.append((t.id, t.site, t.counter, t.node_id, t.province_id, t.unit_id, t.office_id, t.node_id,
                         hashlib.sha256(t.id.encode()).hexdigest(), f"{YEAR - 1}-12-01T00:00:00.000Z",
                         f"2026-12-01T0{i % 10}:{i % 60:02d}:00.000Z", "1.4.0", i % 3, True, (i % 7 - 3) / 10))
        return rows

    def ids_of(self, kind: str) -> list[int]:
        return [row[0] for row in self.nodes if row[1] == kind]


def unit_names(count: int, rng: random.Random) -> list[str]:
    """``count`` different xã/phường names (two syllables each), in a seeded order."""
    stems = [f"{a} {b}" for a in _FIRST for b in _SECOND if a != b]
    rng.shuffle(stems)
    if count > len(stems):
        stems += [f"{stem} {n}" for n in range(2, count // len(stems) + 2) for stem in list(stems)]
    return [("Phường " if rng.random() < 0.4 else "Xã ") + stem for stem in stems[:count]]


def national_tree(*, provinces: int = 34, units: int = 100, terminals: int = 10_000, seed: int = 1) -> Tree:
    """The provinces (the first ``provinces`` of :data:`PROVINCES`), ``units`` units in each, their
    offices and counters, and ``terminals`` terminals over the counters."""
    if not 1 <= provinces <= len(PROVINCES):
        raise ValueError(f"provinces: between 1 and {len(PROVINCES)}, not {provinces}")
    rng = random.Random(seed)
    names = iter(unit_names(provinces * units, rng))
    tree = Tree()
    next_id = iter(range(1, 10**9))
    counters = []  # (counter id, name, office id, unit id, province id, unit name, unit weight, very, bad)
    province_ids = []
    for code, name in PROVINCES[:provinces]:
        province_ids.append(next(next_id))
        tree.nodes.append((province_ids[-1], "province", code, name, None))
    for (code, _name), province_id in zip(PROVINCES[:provinces], province_ids):
        zones = SPECIAL_ZONES.get(code, ())
        for u in range(units):
            unit_code = f"{int(code) * 1000 + u + 1:05d}"
            unit_name = f"Đặc khu {zones[u]}" if u < len(zones) else next(names)
            unit_id = next(next_id)
            tree.nodes.append((unit_id, "unit", unit_code, unit_name, province_id))
            size = math.exp(rng.gauss(0, 0.6))  # some communes are far busier than others
            very, bad = 0.55 + 0.3 * rng.random(), 0.01 + 0.09 * rng.random() ** 2
            for o in range(1, (2 if rng.random() < 0.125 else 1) + 1):
                office_id = next(next_id)
                office_name = "Bộ phận Một cửa" if o == 1 else f"Bộ phận Một cửa (điểm {o})"
                tree.nodes.append((office_id, "office", f"{unit_code}-MC{o}", office_name, unit_id))
                for q in range(1, rng.choice((2, 3, 3, 3, 4)) + 1):
                    counter_id = next(next_id)
                    tree.nodes.append((counter_id, "counter", f"{unit_code}-MC{o}-Q{q}", f"Quầy {q}", office_id))
                    counters.append((counter_id, f"Quầy {q}", office_id, unit_id, province_id, unit_name,
                                     size, very, bad))
    tree.nodes = [(*row, LOADED_AT, LOADED_AT) for row in tree.nodes]
    ratio = terminals / len(counters)
    for c, (counter_id, counter_name, office_id, unit_id, province_id, unit_name, size, very, bad) \
            in enumerate(counters):
        here = math.floor((c + 1) * ratio) - math.floor(c * ratio)
        code = tree.nodes[counter_id - 1][2]
        for k in range(here):
            tree.terminals.append(Terminal(f"hl-{code.lower()}-{k + 1}", unit_name, counter_name, counter_id,
                                           province_id, unit_id, office_id, size, very, bad))
    return tree


@dataclass(frozen=True)
class Span:
    """One opening half-day: its start (UTC epoch ms), length (ms), and how many ratings it holds."""
    start_ms: int
    length_ms: int
    count: int
    first_cursor: int


def opening_spans(rng: random.Random) -> list[tuple[int, int, float]]:
    """(UTC start ms, length ms, relative weight) of every opening half-day of the year."""
    spans = []
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        busy = WEEKDAY_SHAPE[day.weekday()] * MONTH_SHAPE[day.month - 1] * rng.uniform(0.85, 1.15)
        midnight_ms = (int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())
                       - UTC_OFFSET_H * 3600) * 1000
        if busy and day not in HOLIDAYS:
            spans.append((midnight_ms + (7 * 3600 + 1800) * 1000, 4 * 3600 * 1000, busy * 4 * 1.0))
            if day.weekday() < 5:
                spans.append((midnight_ms + (13 * 3600 + 1800) * 1000, (3 * 3600 + 1800) * 1000, busy * 3.5 * 0.75))
        day += timedelta(days=1)
    return spans


_HMS = [f"{h:02d}:{m:02d}:{s:02d}." for h in range(24) for m in range(60) for s in range(60)]
_MS = [f"{ms:03d}Z" for ms in range(1000)]


def _clock(ms_of_day: int) -> str:
    """``09:30:12.345Z``: the time of day of an ISO timestamp (the offices close long before midnight UTC)."""
    second, ms = divmod(ms_of_day, 1000)
    return _HMS[second] + _MS[ms]


class RatingPlan:
    """How ``n`` ratings fall on the year's opening half-days, and the rows of any of them."""

    def __init__(self, tree: Tree, n: int, *, seed: int = 1):
        if not tree.terminals:
            raise ValueError("the tree has no terminals")
        self.tree, self.n, self.seed = tree, n, seed
        shape = opening_spans(random.Random(seed))
        total = sum(weight for *_, weight in shape)
        exact = [n * weight / total for *_, weight in shape]
        counts = [int(x) for x in exact]
        for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[:n - sum(counts)]:
            counts[i] += 1  # largest remainders: exactly n in all
        self.spans, cursor = [], 1
        for (start, length, _w), count in zip(shape, counts):
            self.spans.append(Span(start, length, count, cursor))
            cursor += count
        self.cum_weights = list(_accumulate(t.weight for t in tree.terminals))

    def rows(self, index: int):
        """The RATING_COLUMNS tuples of half-day ``index``, in time (and cursor) order."""
        span = self.spans[index]
        rng = random.Random(self.seed * 1_000_003 + index)
        offsets = sorted(rng.randrange(span.length_ms) for _ in range(span.count))
        picks = rng.choices(self.tree.terminals, cum_weights=self.cum_weights, k=span.count)
        reasons = [name for name, share in REASONS for _ in range(share)]
        day_ms = span.start_ms // 86_400_000 * 86_400_000
        day = datetime.fromtimestamp(day_ms / 1000, timezone.utc).strftime("%Y-%m-%dT")
        year_start_ms = int(datetime(YEAR, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
        random_, getrandbits = rng.random, rng.getrandbits
        for i, (offset, t) in enumerate(zip(offsets, picks)):
            epoch_ms = span.start_ms + offset
            at = f"{day}{_clock(epoch_ms - day_ms)}"
            received = f"{day}{_clock(epoch_ms - day_ms + 2000 + 997 * (i & 7))}"  # sent a few seconds later
            draw = random_()
            reason = outcome = None
            if draw < t.bad:
                rating = "dissatisfied"
                pick = random_()
                if pick < 2 / 3:
                    reason, outcome = reasons[int(pick * 1.5 * len(reasons))], "given"
                else:
                    outcome = "skipped" if pick < 5 / 6 else "timeout"
            elif draw < t.bad + t.very:
                rating = "very_satisfied"
            else:
                rating = "satisfied"
            u = f"{getrandbits(128):032x}"
            rating_id = f"{u[:8]}-{u[8:12]}-4{u[13:16]}-{'89ab'[int(u[16], 16) & 3]}{u[17:20]}-{u[20:]}"
            yield (span.first_cursor + i, rating_id, t.id, rating, reason, outcome, "button", at,
                   f"boot-{t.id}", (epoch_ms - year_start_ms) * 1_000_000, 1, 1 if random_() < 0.02 else 0,
                   t.site, t.counter, t.province_id, t.unit_id, t.office_id, t.node_id, received, at, "exact")


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total

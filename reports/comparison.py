"""Is a change from the previous period more than noise? Two satisfaction rates and the interval of their gap.

A rate of 85 % on 20 ratings and 88 % on 20 ratings the period before is "down 3
points", and means nothing: with so few ratings either figure could easily have
been the other. :func:`compare` says so. It gives the difference in points
(this period minus the previous one) and a 95 % interval for it — Newcombe's
hybrid score interval (his method 10), built from each side's Wilson interval,
which stays inside [-100, 100] and behaves at small n and at rates near 100 % —
and a verdict:

- ``up`` / ``down`` ("tăng" / "giảm") only when the interval excludes 0;
- ``no_clear_change`` ("không đổi rõ rệt") when it holds 0;
- ``too_few`` ("quá ít để so sánh") when either side has fewer counted ratings
  than the report's small-sample guard (``min_sample``).

Newcombe's own example (56/70 against 48/80, Statistics in Medicine 17, 1998, table II)::

    >>> change = compare(56, 70, 48, 80, min_sample=30)
    >>> change.difference, change.low, change.high, change.verdict
    (20.0, 5.2, 33.4, 'up')

Down 3 points on 20 ratings a side is no fall::

    >>> compare(17, 20, 352, 400, min_sample=10).verdict_vi
    'không đổi rõ rệt'
    >>> compare(17, 20, 352, 400, min_sample=30).verdict_vi
    'quá ít để so sánh'
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from math import sqrt
from statistics import NormalDist

from sync.vocabulary import one_decimal, round_half_up

#: The interval's confidence.
CONFIDENCE = 0.95
#: The normal quantile of a two-sided 95 % interval (1.959963…).
Z = NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2)

VERDICTS_VI = {"up": "tăng", "down": "giảm", "no_clear_change": "không đổi rõ rệt",
               "too_few": "quá ít để so sánh"}


def wilson(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of the proportion ``k``/``n`` (as fractions of 1).

        >>> [round(x, 4) for x in wilson(56, 70)]
        [0.6918, 0.877]
        >>> wilson(0, 0)
        (0.0, 1.0)
    """
    if n == 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k0: int, n0: int, z: float = Z) -> tuple[float, float]:
    """The hybrid score interval (fractions of 1) of ``k1/n1 − k0/n0``; both n must be positive.

        >>> [round(x, 4) for x in newcombe(56, 70, 48, 80)]
        [0.0524, 0.3339]
    """
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = wilson(k1, n1, z)
    l0, u0 = wilson(k0, n0, z)
    d = p1 - p0
    return d - sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


@dataclass(frozen=True)
class Change:
    """This period's rate against the previous period's: n on both sides, the gap, its interval, the verdict."""

    counted: int
    content: int
    previous_counted: int
    previous_content: int
    min_sample: int
    low: float | None = None     # the interval's ends, in points (one decimal); None under the guard
    high: float | None = None
    verdict: str = "too_few"

    @property
    def rate(self) -> float | None:
        return one_decimal(self.content, self.counted)

    @property
    def previous_rate(self) -> float | None:
        return one_decimal(self.previous_content, self.previous_counted)

    @property
    def difference(self) -> float | None:
        """This period's rate minus the previous one's, in points, from the exact counts (one decimal)."""
        if not self.counted or not self.previous_counted:
            return None
        exact = Decimal(100 * (self.content * self.previous_counted - self.previous_content * self.counted)) \
            / Decimal(self.counted * self.previous_counted)
        return round_half_up(exact)  # ties away from zero: a fall and a rise of one size show one figure

    @property
    def verdict_vi(self) -> str:
        return VERDICTS_VI[self.verdict]

    def to_dict(self) -> dict:
        return {"counted": self.counted, "content": self.content, "rate": self.rate,
                "previous_counted": self.previous_counted, "previous_content": self.previous_content,
                "previous_rate": self.previous_rate, "difference": self.difference, "low": self.low,
                "high": self.high, "confidence": CONFIDENCE, "verdict": self.verdict, "verdict_vi": self.verdict_vi}

    @classmethod
    def from_dict(cls, data: dict, *, min_sample: int) -> "Change":
        return cls(data["counted"], data["content"], data["previous_counted"], data["previous_content"],
                   min_sample, data.get("low"), data.get("high"), data["verdict"])


def _points(value: float) -> float:
    return round_half_up(Decimal(repr(value * 100)))


def compare(content: int, counted: int, previous_content: int, previous_counted: int, *,
            min_sample: int) -> Change:
    """This period's ``content``/``counted`` (satisfied/rated) against the previous period's.

        >>> compare(349, 400, 330, 400, min_sample=30).to_dict()["difference"]
        4.8
    """
    if counted < max(min_sample, 1) or previous_counted < max(min_sample, 1):
        return Change(counted, content, previous_counted, previous_content, min_sample)
    low, high = newcombe(content, counted, previous_content, previous_counted)
    verdict = "up" if low > 0 else "down" if high < 0 else "no_clear_change"
    return Change(counted, content, previous_counted, previous_content, min_sample, _points(low), _points(high),
                  verdict)

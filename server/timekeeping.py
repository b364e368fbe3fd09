"""Server-side time: the wire format, and the true time of a press.

A Raspberry Pi has no battery clock: after a power cut its wall clock can be
years off until the network sets it, and it may jump while ratings are being
taken. Its monotonic clock does not jump, so the server dates a press by the
monotonic distance to a moment it measured itself.

:func:`correct_time` decides, for one rating, which evidence to use:

``exact``
    The rating comes from the same boot as the batch:
    ``corrected = received_at − (batch.monotonic_ns − rating.monotonic_ns)``.
    Or it comes from an earlier boot whose *base* (wall time at monotonic
    zero, ``received_at − batch.monotonic_ns``) the server learned from an
    earlier batch of that boot: ``corrected = base + rating.monotonic_ns``.
    Both are measured by the server's clock, so both are "exact" (late by at
    most the network delay of the batch that measured them).
``device``
    No base is known for the rating's boot (the terminal was offline for the
    whole boot), but the terminal's clock was set by the network during that
    boot: a rating of that boot in the same batch with ``clock_synced = 1``
    gives the boot's base by the terminal's own clock (its ``created_at``
    minus its monotonic reading), and a rating of that boot pressed before
    the clock was set (``clock_synced = 0``) gets ``base + its monotonic_ns``.
    So a press made before the network set the clock is dated too, and a
    boot's presses keep their order whichever way the clock jumped. A rating
    pressed with ``clock_synced = 1`` keeps its own ``created_at``.
``estimated``
    No base is known and the terminal's clock was not synced: ``created_at``
    is kept as the best guess there is, and marked as such so reports can
    leave it out or flag it.

A computed time that is not plausible (before 2000, or after the batch
arrived) falls back to the device clock, so junk monotonic values can never
produce junk "exact" times.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Literal

TimeQuality = Literal["exact", "device", "estimated"]

NS_PER_S = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EARLIEST_PLAUSIBLE_NS = 946_684_800 * NS_PER_S  # 2000-01-01T00:00:00Z


def iso_from_ns(ns: int) -> str:
    """Nanoseconds since the epoch as the protocol's ISO 8601 UTC text (milliseconds, rounded down).

    >>> iso_from_ns(1_795_599_012_345_678_901)
    '2026-11-25T09:30:12.345Z'
    """
    # The date through datetime (cached: a batch's times fall on a day or two), the time of day
    # by integer arithmetic (UTC has no leap seconds in epoch time): same text, a fraction of the cost.
    seconds, rest = divmod(ns, NS_PER_S)
    days, second = divmod(seconds, 86_400)
    hour, second = divmod(second, 3_600)
    minute, second = divmod(second, 60)
    return f"{_iso_date(days)}{hour:02d}:{minute:02d}:{second:02d}.{rest // 1_000_000:03d}Z"


@lru_cache(maxsize=64)
def _iso_date(days: int) -> str:
    return datetime.fromtimestamp(days * 86_400, tz=timezone.utc).strftime("%Y-%m-%dT")


def ns_from_iso(text: str) -> int:
    """The protocol's ISO 8601 UTC text as nanoseconds since the epoch; ValueError if it is no date.

    >>> ns_from_iso("2026-11-25T09:30:12.345Z")
    1795599012345000000
    """
    if len(text) != 24 or text[10] != "T" or not text.endswith("Z"):
        raise ValueError(f"{text!r} is not YYYY-MM-DDTHH:MM:SS.mmmZ")
    delta = datetime.fromisoformat(text) - _EPOCH  # C-fast; the exact shape is checked above
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1_000


def correct_time(*, created_at: str, clock_synced: int, rating_boot: str, rating_monotonic_ns: int,
                 batch_boot: str, batch_monotonic_ns: int, received_ns: int,
                 known_base_ns: int | None, device_base_ns: int | None = None) -> tuple[str, TimeQuality]:
    """The corrected time of one rating and how it was obtained (see the module docstring).

    ``known_base_ns`` is the stored base of the rating's boot when it is an
    earlier boot, else None; ``device_base_ns`` the base of an earlier boot by
    the terminal's synced clock (:func:`device_bases`), else None.

    >>> correct_time(created_at="2019-01-01T00:00:00.000Z", clock_synced=0, rating_boot="b",
    ...              rating_monotonic_ns=6 * NS_PER_S, batch_boot="b", batch_monotonic_ns=9 * NS_PER_S,
    ...              received_ns=1_795_599_015_000_000_000, known_base_ns=None)
    ('2026-11-25T09:30:12.000Z', 'exact')

    An earlier boot known only by its synced presses (base 09:30:00): a press made before the network set
    the clock is re-dated from it; a synced press keeps its own time, even if the clock stepped again.

    >>> earlier = dict(rating_boot="a", rating_monotonic_ns=2 * NS_PER_S, batch_boot="b", batch_monotonic_ns=0,
    ...                received_ns=1_795_599_015_000_000_000, known_base_ns=None,
    ...                device_base_ns=ns_from_iso("2026-11-25T09:30:00.000Z"))
    >>> correct_time(created_at="2019-01-01T00:00:00.000Z", clock_synced=0, **earlier)
    ('2026-11-25T09:30:02.000Z', 'device')
    >>> correct_time(created_at="2026-11-25T09:40:00.000Z", clock_synced=1, **earlier)
    ('2026-11-25T09:40:00.000Z', 'device')
    """
    corrected_ns = None
    if rating_boot == batch_boot:
        corrected_ns = received_ns - (batch_monotonic_ns - rating_monotonic_ns)
    elif known_base_ns is not None:
        corrected_ns = known_base_ns + rating_monotonic_ns
    if corrected_ns is not None and _EARLIEST_PLAUSIBLE_NS <= corrected_ns <= received_ns:
        return iso_from_ns(corrected_ns), "exact"
    if device_base_ns is not None and rating_boot != batch_boot and not clock_synced:
        # Only a press made before the network set the clock is re-dated: a synced press's own time is the
        # better evidence (the clock may have been stepped again later in the boot).
        corrected_ns = device_base_ns + rating_monotonic_ns
        if _EARLIEST_PLAUSIBLE_NS <= corrected_ns <= received_ns:
            return iso_from_ns(corrected_ns), "device"
    return created_at, ("device" if clock_synced else "estimated")


def device_bases(ratings, boots: set[str]) -> dict[str, int]:
    """For each boot of ``boots``, its base (wall time at monotonic zero) by the terminal's own clock, from
    the earliest rating of that boot pressed with ``clock_synced = 1``; boots without one are left out.

    ``ratings`` are protocol ratings (``boot_id``, ``monotonic_ns``, ``clock_synced``, ``created_at``).
    The earliest synced press is taken, not any: the uploader sends in press order, so every batch of a
    boot that holds one picks the same press, and the boot's times stay in press order across batches.

    >>> from types import SimpleNamespace as Press
    >>> presses = [Press(boot_id="a", monotonic_ns=m * NS_PER_S, clock_synced=s, created_at=at) for m, s, at in [
    ...     (2, 0, "2019-01-01T00:00:00.000Z"),    # before the network set the clock
    ...     (9, 1, "2026-11-25T09:30:09.000Z"),    # the earliest synced press: base 09:30:00
    ...     (12, 1, "2026-11-25T09:30:11.000Z")]]  # (a later step of the clock is not taken)
    >>> device_bases(presses, {"a", "b"}) == {"a": ns_from_iso("2026-11-25T09:30:00.000Z")}
    True
    """
    earliest: dict[str, tuple[int, str]] = {}
    for rating in ratings:
        if rating.clock_synced and rating.boot_id in boots:
            seen = earliest.get(rating.boot_id)
            if seen is None or rating.monotonic_ns < seen[0]:
                earliest[rating.boot_id] = (rating.monotonic_ns, rating.created_at)
    bases = {}
    for boot, (monotonic_ns, created_at) in earliest.items():
        try:
            bases[boot] = ns_from_iso(created_at) - monotonic_ns
        except ValueError:  # not a date: no evidence from this press
            continue
    return bases

"""Slowing down guessed admin tokens: failed dashboard logins per client address, with a growing lock-out.

The first :data:`FREE_FAILURES` wrong tokens from an address cost nothing
(people mistype); each one after that locks the address out of the login
form for twice as long as the last, from 1 s up to :data:`MAX_LOCK_S`. A
successful login clears the address; failures are forgotten after
:data:`FORGET_AFTER_S` of quiet. Admin tokens hold 256 random bits, so this is
not what keeps them safe: it keeps a brute force slow, visible in the log,
and off the database. Kept in memory (one server process), on the app's clock
(nanoseconds), so tests drive it without waiting.

    >>> now = [0]
    >>> throttle = LoginThrottle(clock=lambda: now[0])
    >>> [throttle.failed("10.0.0.9") for _ in range(FREE_FAILURES + 2)]
    [0, 0, 0, 0, 0, 1, 2]
    >>> throttle.wait_s("10.0.0.9"), throttle.wait_s("10.0.0.10")
    (2, 0)
    >>> now[0] = 2 * 10**9; throttle.wait_s("10.0.0.9")
    0
    >>> throttle.succeeded("10.0.0.9"); throttle.failures("10.0.0.9")
    0
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

FREE_FAILURES = 5
MAX_LOCK_S = 15 * 60
FORGET_AFTER_S = 60 * 60
_NS_PER_S = 1_000_000_000
_MAX_ADDRESSES = 10_000  # beyond this, the quietest unlocked addresses are dropped


class LoginThrottle:
    """Failed logins per client address: ``wait_s`` before trying, ``failed``/``succeeded`` after."""

    def __init__(self, *, clock: Callable[[], int]):
        self._clock = clock
        self._lock = threading.Lock()
        self._addresses: dict[str, tuple[int, int, int]] = {}  # address -> (failures, locked until, last failure)

    def wait_s(self, address: str) -> int:
        """Whole seconds ``address`` must still wait before its next try (0: it may try now)."""
        with self._lock:
            now = self._clock()
            return max(0, math.ceil((self._current(address, now)[1] - now) / _NS_PER_S))

    def failures(self, address: str) -> int:
        """Wrong tokens from ``address`` in a row (forgotten after an hour of quiet)."""
        with self._lock:
            return self._current(address, self._clock())[0]

    def failed(self, address: str) -> int:
        """Count a wrong token from ``address``; returns the seconds it is now locked out for."""
        with self._lock:
            now = self._clock()
            failures = self._current(address, now)[0] + 1
            lock_s = 0 if failures <= FREE_FAILURES else min(MAX_LOCK_S, 2 ** (failures - FREE_FAILURES - 1))
            if len(self._addresses) >= _MAX_ADDRESSES and address not in self._addresses:
                self._forget_quiet(now)
            self._addresses[address] = (failures, now + lock_s * _NS_PER_S, now)
            return lock_s

    def succeeded(self, address: str) -> None:
        """A live token came from ``address``: its failures are forgiven."""
        with self._lock:
            self._addresses.pop(address, None)

    def _current(self, address: str, now: int) -> tuple[int, int, int]:
        found = self._addresses.get(address, (0, 0, now))
        if now - found[2] >= FORGET_AFTER_S * _NS_PER_S and found[1] <= now:
            self._addresses.pop(address, None)
            return 0, 0, now
        return found

    def _forget_quiet(self, now: int) -> None:
        oldest_first = sorted(self._addresses, key=lambda address: self._addresses[address][2])
        for address in oldest_first[: max(1, len(oldest_first) // 10)]:
            if self._addresses[address][1] <= now:  # never release a locked address early
                del self._addresses[address]

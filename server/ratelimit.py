"""Per-terminal rate limiting: a token bucket per key, in memory, in the app object.

Kept in the memory of one server process (``kiosk-server serve`` runs one
worker): nothing to share, nothing to clean up at restart, nothing on the
ingest path's database. Behind a load balancer in front of N processes each
keeps its own buckets, so one terminal's effective limit is up to N times the
settings (round robin spreads its batches over all of them); the limit is there
to stop a runaway terminal from starving the others, and N times it still does.
The dashboard's login throttle is in the database and holds across processes. The app hands
it its own clock (seconds); a clock set back refills nothing and takes nothing.

    >>> now = [0.0]
    >>> limiter = RateLimiter(rate_per_s=1.0, burst=2, clock=lambda: now[0])
    >>> limiter.take("t1"), limiter.take("t1"), limiter.take("t1")
    (None, None, 1.0)
    >>> now[0] = 1.0; limiter.take("t1")
    >>> now[0] = 0.5; limiter.take("t1")   # the clock was set back: no refill, no debt
    1.0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """``take(key)`` spends one token: None when allowed, else the seconds until one is available."""

    def __init__(self, *, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate_per_s

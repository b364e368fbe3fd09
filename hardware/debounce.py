"""Contact-bounce filtering with an injected clock.

gpiozero's MockPin does not bounce, so this is plain logic that tests drive
with a fake clock; on a Pi it sees the real edges.

    >>> t = [0.0]
    >>> d = Debouncer(0.05, clock=lambda: t[0])
    >>> d.accept("a"), d.accept("a")
    (True, False)
    >>> t[0] = 0.06; d.accept("a")
    True
"""

import threading
import time
from typing import Callable


class Debouncer:
    """Accepts a button's press unless it follows its last edge within ``bounce_s``.

    Every edge restarts the quiet period, so a burst of bounces yields one press.
    """

    def __init__(self, bounce_s: float, *, clock: Callable[[], float] = time.monotonic):
        self.bounce_s = bounce_s
        self.clock = clock
        self._last_edge: dict[str, float] = {}
        self._lock = threading.Lock()

    def accept(self, name: str) -> bool:
        with self._lock:
            now = self.clock()
            last = self._last_edge.get(name)
            self._last_edge[name] = now
            return last is None or now - last >= self.bounce_s

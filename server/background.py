"""Work that a server process does on its own every few seconds: the alert check, the rollups' refresher.

A round runs in a worker thread (its SQL never holds up the event loop that answers requests); a round that fails
is logged and the next one comes at its time, so one bad round never ends the loop.

    >>> import asyncio
    >>> rounds = []
    >>> async def main():
    ...     loop = Every("demo", lambda: rounds.append(len(rounds)), interval_s=0.01, failure="demo failed")
    ...     loop.start()
    ...     await asyncio.sleep(0.1)
    ...     await loop.stop()
    >>> asyncio.run(main())
    >>> len(rounds) >= 2
    True
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

log = logging.getLogger(__name__)


class Every:
    """``work()`` in a thread every ``interval_s`` seconds while the app runs: the first round at once
    (``wait_first=False``) or after one interval."""

    def __init__(self, name: str, work: Callable[[], object], *, interval_s: float, failure: str,
                 wait_first: bool = False):
        self.name = name
        self.work = work
        self.interval_s = interval_s
        self.failure = failure
        self.wait_first = wait_first
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        if self.wait_first:
            await asyncio.sleep(self.interval_s)
        while True:
            try:
                await asyncio.to_thread(self.work)
            except Exception:  # noqa: BLE001 - a bad round must not end the loop
                log.exception(self.failure)
            await asyncio.sleep(self.interval_s)

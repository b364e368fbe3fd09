"""Looking after the running terminal's database between presses, on a thread of its own (no Kivy).

- When no press came for ``idle_s`` seconds: fsync the high-water mark and
  checkpoint the WAL into the database file. That bounds what a damaged WAL
  can lose, and what a power cut can hide from the mark, to the presses of
  one busy spell.
- While the database refuses writes (a full disk): try one small write every
  ``probe_s`` seconds, so the terminal takes ratings again by itself once
  space returns.
- Once a database opened alone (the disk was full at the start) is shared
  again: call ``when_shared`` once, so the uploader can start then.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

#: Seconds without a press before the WAL is checkpointed.
IDLE_S = 20.0
#: Seconds between write attempts while the disk is full.
PROBE_S = 5.0


class StorageWatch:
    """Checkpoints ``store`` when idle and probes it while it refuses writes; :meth:`start`, :meth:`stop`."""

    def __init__(self, store, *, idle_s: float = IDLE_S, probe_s: float = PROBE_S,
                 clock=time.monotonic):
        self.store = store
        self.idle_s = idle_s
        self.probe_s = probe_s
        self.clock = clock
        self._last_press = clock()
        self._last_probe = float("-inf")
        self._settled = True  # nothing written since the last checkpoint
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Called once, from this thread, when the store is no longer open alone (see RatingStore.alone).
        self.when_shared = None

    def pressed(self, *_event) -> None:
        """A press or seal was written (a flow listener): the idle time starts again."""
        self._last_press = self.clock()
        self._settled = False

    def step(self) -> None:
        """One look: probe a refusing store, or checkpoint a store idle long enough; say when it is shared."""
        self._notice_shared()
        if self.store.refusing is not None:
            now = self.clock()
            if now - self._last_probe < self.probe_s:
                return
            self._last_probe = now
            if self.store.probe_write():
                log.info("ratings can be stored again")
                self._notice_shared()
            return
        if not self._settled and self.clock() - self._last_press >= self.idle_s:
            self.store.sync_mark()
            if self.store.checkpoint():
                self._settled = True
                log.debug("idle: WAL checkpointed")

    def _notice_shared(self) -> None:
        # A press on another thread may have shared the file too: whoever did, it is noticed here.
        if self.when_shared is not None and not self.store.alone:
            shared, self.when_shared = self.when_shared, None
            shared()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="storage-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        interval = min(self.probe_s, self.idle_s, 1.0)
        while not self._stop.wait(interval):
            try:
                self.step()
            except Exception:  # this thread must outlive any surprise, or the disk is never probed again
                log.exception("storage watch failed; trying again")

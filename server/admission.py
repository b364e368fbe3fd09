"""Admission control for ``POST /api/v1/batches``: answer "come back later" at once instead of queueing.

One :class:`IngestGate` per app (``app.state.ingest_gate``), in the memory of one server process. A batch is
admitted while fewer than the gate's *limit* are in flight; beyond, it is refused at once (429) before its body
is read, with a ``Retry-After`` from a *reservation clock*: each refused batch reserves the next free slot, one
batch's worth of the server's measured capacity after the previous one, so retries come back at the rate the
server stores them, in the order they were refused. A terminal coming back at or after its slot is admitted
before newcomers (up to twice the limit), so nobody starves while newcomers keep arriving.

A burst a moment too big for the limit need not be refused: with ``max_queue_s`` set (``ingest_queue_ms``), a batch
arriving at a full gate waits for a free place in a short queue, in order, when the waits of those ahead predict
it gets one within ``max_queue_s`` (the queue's length times one batch's time over the limit); else it is refused
at once. A queued batch that has not got its place after four times the bound is refused too (:meth:`enter`).

The limit adapts to the database: when admitted batches wait longer than ``max_wait_s`` for the write lock
(SQLite's, or PostgreSQL's ratings-cursor lock, which other processes share) it drops by one (at most once a
second, down to 1), and it grows back by one after ``limit`` batches in a row waited less than half of it.

Heartbeats (batches with no ratings) pass the same gate: the gate decides before the body is read, so it cannot
tell them apart, and a 429 is as good a proof of a working network as a receipt.

    >>> now = [0.0]
    >>> gate = IngestGate(concurrency=1, max_wait_s=0.2, clock=lambda: now[0])
    >>> gate.try_enter("t1")          # admitted: None
    >>> gate.try_enter("t2"), gate.try_enter("t3")   # full: come back in 1 s (whole seconds, at least 1)
    (1, 1)
    >>> now[0] = 1.0; gate.leave(lock_wait_s=0.0)
    >>> gate.try_enter("t2")          # back after its slot: admitted
    >>> gate.try_enter("t4")          # a newcomer: the limit (1) is full
    1
    >>> gate.try_enter("t3")          # back after its slot: admitted before newcomers, up to twice the limit
    >>> gate.figures()["admitted"], gate.figures()["refused"], gate.figures()["in_flight"]
    (3, 3, 2)
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable

#: Throughput and the terminals heard from are measured over this window (seconds).
WINDOW_S = 10.0
#: The server counts as busy (receipts carry a pace) this long after it refused a batch.
BUSY_AFTER_SHED_S = 5.0
#: A reservation not used this long after its slot is forgotten (the terminal went elsewhere, or gave up).
RESERVATION_KEPT_S = 60.0
#: Retry-After and the pace's pause never exceed this (the protocol's Pace.pause_s allows up to 300).
MAX_WAIT_S = 300
#: Until a batch has been measured, one is assumed to take this long.
FIRST_GUESS_SERVICE_S = 0.05


class IngestGate:
    """Counts the batches in flight, refuses the ones past the limit, and says when each may come back.

    ``concurrency``: the most batches stored at once (the limit's ceiling; returning terminals may use up to
    twice it). ``max_wait_s``: lock wait past this lowers the limit. ``clock``: monotonic seconds (injected in
    tests). Thread-safe: the route calls it from the event loop, and ``leave`` runs wherever the batch ended.
    """

    def __init__(self, *, concurrency: int, max_wait_s: float, max_queue_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic):
        if concurrency < 1:
            raise ValueError("concurrency: must be at least 1")
        self.concurrency = concurrency
        self.max_wait_s = max_wait_s
        self.max_queue_s = max_queue_s
        self.queued = 0  # batches that waited in the queue and were admitted
        self._waiters: deque[asyncio.Future] = deque()  # the queue, first come first served
        self._clock = clock
        self._lock = threading.Lock()
        self.limit = concurrency
        self.in_flight = 0
        self.admitted = 0
        self.refused = 0
        # Start times of the batches in flight, oldest first; each end is paired with the oldest start, which keeps
        # the mean time per batch right (all the capacity estimate needs) without a ticket per batch.
        self._entered: deque[float] = deque()
        self._done: deque[float] = deque()  # end times of the batches of the last WINDOW_S
        self._service_s = FIRST_GUESS_SERVICE_S  # moving average of one batch's time in the gate
        self._lock_wait_s = 0.0  # moving average of the lock wait
        self._short_waits = 0  # batches in a row whose lock wait was short
        self._lowered_at = -math.inf
        self._next_slot = -math.inf  # the last slot reserved
        self._reservations: dict[str, float] = {}  # terminal -> its slot
        self._slots: deque[tuple[float, str]] = deque()  # the same, in slot order (slots only increase)
        self._heard: dict[str, float] = {}  # terminal -> when it last knocked (for the pace)
        self._heard_pruned_at = -math.inf
        self._shed: deque[float] = deque()  # refusal times of the last 60 s (for the log line)
        self._logged_at = -math.inf

    # -- the route's calls --------------------------------------------------------------------------------------

    def try_enter(self, key: str) -> int | None:
        """Admit a batch of terminal ``key`` (None: admitted, call :meth:`leave` when it ends) or refuse it:
        the whole seconds (at least 1) until its reserved slot, for ``Retry-After``."""
        with self._lock:
            return self._try_enter(key)

    def _try_enter(self, key: str) -> int | None:
        now = self._clock()
        self._forget_old(now)
        self._note_heard(key, now)
        slot = self._reservations.get(key)
        due = slot is not None and now >= slot
        # A newcomer does not pass the queue (first come, first served); one back at its turn may, up to the cap.
        if self.in_flight < (2 * self.limit if due else self.limit) and (due or not self._waiters):
            if slot is not None and due:
                del self._reservations[key]
            self.in_flight += 1
            self.admitted += 1
            self._entered.append(now)
            return None
        self.refused += 1
        self._shed.append(now)
        if slot is None or due:  # a newcomer, or back at its slot but even the cap is full: the next slot
            slot = self._reserve(key, now)
        return max(1, math.ceil(slot - now))

    async def enter(self, key: str) -> int | None:
        """Like :meth:`try_enter`, with the short queue: a batch that would be refused waits for a place when the
        queue ahead of it predicts one within ``max_queue_s``. Call it (and :meth:`leave`) on the event loop."""
        with self._lock:
            wait_s = self._try_enter(key)
            if wait_s is None or not self._queue_fits():
                return wait_s
            # Not refused after all: it waits in the queue. Undo the refusal's count and reservation.
            self.refused -= 1
            self._shed.pop()
            self._unreserve(key)
            place: asyncio.Future = asyncio.get_running_loop().create_future()
            self._waiters.append(place)
        try:
            await asyncio.wait_for(asyncio.shield(place), timeout=4 * self.max_queue_s)
            return None  # leave() handed it the place of a batch that ended, in_flight unchanged
        except asyncio.CancelledError:  # the client went away while it waited: give back what it holds
            with self._lock:
                handed = place.done()
                if not handed:
                    self._waiters.remove(place)
            if handed:
                self.leave()
            raise
        except asyncio.TimeoutError:
            with self._lock:
                if place.done():  # handed over as the time ran out: it is in
                    return None
                self._waiters.remove(place)
                self.refused += 1
                now = self._clock()
                self._shed.append(now)
                return max(1, math.ceil(self._reserve(key, now) - now))

    def leave(self, *, lock_wait_s: float | None = None) -> None:
        """An admitted batch ended (stored or not). ``lock_wait_s``: how long it waited for the database's write
        lock, if it took it (None: not measured, e.g. a heartbeat on PostgreSQL). Its place goes to the first
        batch of the queue, if any (then on the event loop, as :meth:`enter`)."""
        with self._lock:
            now = self._clock()
            started = self._entered.popleft() if self._entered else now
            self._service_s += 0.2 * (max(0.0, now - started) - self._service_s)
            self._done.append(now)
            if lock_wait_s is not None:
                self._adapt(lock_wait_s, now)
            # The queue goes first: its place is handed on even when terminals back at their turn hold more than
            # the limit (else they would keep it from the queue, which would wait out its time and be refused late).
            while self._waiters and self.in_flight <= 2 * self.limit:
                place = self._waiters.popleft()
                if not place.done():
                    place.set_result(None)  # its batch takes this one's place: in_flight unchanged
                    self.admitted += 1
                    self.queued += 1
                    self._entered.append(now)
                    return
            self.in_flight -= 1

    def _queue_fits(self) -> bool:
        # The queue ahead, plus this batch, goes through the limit at one batch's time each.
        if self.max_queue_s <= 0:
            return False
        return (len(self._waiters) + 1) * self._service_s / max(self.in_flight, self.limit, 1) <= self.max_queue_s

    def _unreserve(self, key: str) -> None:
        slot = self._reservations.pop(key, None)
        if slot is not None and slot >= self._next_slot:
            self._next_slot -= 1.0 / self._capacity_per_s()

    def is_busy(self) -> bool:
        """It shed a batch in the last few seconds, or every slot is taken."""
        with self._lock:
            now = self._clock()
            return bool(self._shed and now - self._shed[-1] < BUSY_AFTER_SHED_S) or self.in_flight >= self.limit

    def pace_pause_s(self) -> float:
        """The pause between batches that shares the measured capacity among the terminals heard from lately:
        each of N terminals sends once every N / capacity seconds, less the time its batch takes.

        >>> gate = IngestGate(concurrency=2, max_wait_s=0.2, clock=lambda: 0.0)
        >>> for n in range(100): _ = gate.try_enter(f"t{n}")
        >>> gate.pace_pause_s()          # 100 terminals, 2 at a time at 0.05 s each: 40 per second
        2.45
        """
        with self._lock:
            now = self._clock()
            heard = sum(1 for at in self._heard.values() if now - at <= WINDOW_S)
            return round(min(float(MAX_WAIT_S), max(0.0, heard / self._capacity_per_s() - self._service_s)), 2)

    def shed_report(self) -> str | None:
        """The log line, at most once a minute while shedding: what was shed in the last 60 s and why."""
        with self._lock:
            now = self._clock()
            while self._shed and now - self._shed[0] > 60:
                self._shed.popleft()
            if not self._shed or now - self._logged_at < 60:
                return None
            self._logged_at = now
            return (f"ingest gate: shed {len(self._shed)} batches in the last 60 s, limit {self.limit} of "
                    f"{self.concurrency}, {self._throughput(now):.1f} batches/s stored, lock wait "
                    f"{self._lock_wait_s * 1000:.0f} ms, next slot in {max(0.0, self._next_slot - now):.0f} s")

    def figures(self) -> dict:
        """The counters for ``GET /healthz`` (``ingest``) and the operator (see README, "When the server is busy")."""
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            return {"in_flight": self.in_flight, "limit": self.limit, "concurrency": self.concurrency,
                    "admitted": self.admitted, "refused": self.refused, "queued": self.queued,
                    "throughput_per_s": round(self._throughput(now), 2),
                    "lock_wait_ms": round(self._lock_wait_s * 1000, 1),
                    "reserved": len(self._reservations),
                    "retry_after_s": max(0, math.ceil(self._next_slot - now)) if self._reservations else 0}

    # -- inside the lock --------------------------------------------------------------------------------------

    def _capacity_per_s(self) -> float:
        # What the server stores per second at this limit: the limit over one batch's time. Under saturation it is
        # the throughput; below it, the throughput understates what could be stored.
        return self.limit / max(self._service_s, 1e-3)

    def _throughput(self, now: float) -> float:
        while self._done and now - self._done[0] > WINDOW_S:
            self._done.popleft()
        return len(self._done) / WINDOW_S

    def _reserve(self, key: str, now: float) -> float:
        slot = min(max(now, self._next_slot) + 1.0 / self._capacity_per_s(), now + MAX_WAIT_S)
        self._next_slot = max(self._next_slot, slot)
        self._reservations[key] = slot
        self._slots.append((slot, key))
        return slot

    def _adapt(self, lock_wait_s: float, now: float) -> None:
        self._lock_wait_s += 0.2 * (lock_wait_s - self._lock_wait_s)
        if lock_wait_s > self.max_wait_s:
            self._short_waits = 0
            if now - self._lowered_at >= 1.0 and self.limit > 1:
                self.limit -= 1
                self._lowered_at = now
        elif lock_wait_s < self.max_wait_s / 2:
            self._short_waits += 1
            if self._short_waits >= self.limit and self.limit < self.concurrency:
                self.limit += 1
                self._short_waits = 0

    def _forget_old(self, now: float) -> None:
        while self._slots and now - self._slots[0][0] > RESERVATION_KEPT_S:
            slot, key = self._slots.popleft()
            if self._reservations.get(key) == slot:
                del self._reservations[key]
        if now - self._heard_pruned_at > WINDOW_S:
            self._heard = {key: at for key, at in self._heard.items() if now - at <= WINDOW_S}
            self._heard_pruned_at = now

    def _note_heard(self, key: str, now: float) -> None:
        self._heard[key] = now

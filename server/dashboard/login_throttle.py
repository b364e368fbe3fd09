"""Slowing down guessed passwords: failed dashboard logins per key, with a growing lock-out.

A key is a client address, or ``account:<id>`` for the lock-out of one account
(:mod:`server.logins`, with its own, longer, locks).

Per address: the first :data:`FREE_FAILURES` wrong logins from an address cost nothing
(people mistype); each one after that locks the address out of the login
form for twice as long as the last, from 1 s up to :data:`MAX_LOCK_S`. A
successful login clears the address; failures are forgotten after
:data:`FORGET_AFTER_S` of quiet. It keeps a brute force slow and
visible in the log.
Kept in the database (table ``login_failures``), so restarting the server or
running a second worker forgives nobody; on the app's clock (nanoseconds), so
tests drive it without waiting.

    >>> import tempfile
    >>> from server.db import open_engine
    >>> from server.settings import Settings
    >>> engine = open_engine(Settings(db_url=f"sqlite:///{tempfile.mkdtemp()}/throttle.db"))
    >>> now = [0]
    >>> throttle = LoginThrottle(engine, clock=lambda: now[0])
    >>> [throttle.failed("10.0.0.9") for _ in range(FREE_FAILURES + 2)]
    [0, 0, 0, 0, 0, 1, 2]
    >>> LoginThrottle(engine, clock=lambda: now[0]).wait_s("10.0.0.9"), throttle.wait_s("10.0.0.10")
    (2, 0)
    >>> now[0] = 2 * 10**9; throttle.wait_s("10.0.0.9")
    0
    >>> throttle.succeeded("10.0.0.9"); throttle.failures("10.0.0.9")
    0
    >>> engine.dispose()
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..db import write_transaction
from ..schema import login_failures

FREE_FAILURES = 5
MAX_LOCK_S = 15 * 60
FORGET_AFTER_S = 60 * 60
_NS_PER_S = 1_000_000_000


class LoginThrottle:
    """Failed logins per client address: ``wait_s`` before trying, ``failed``/``succeeded`` after.

    Each method opens its own connection: call them from a worker thread, not the event loop.
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], int], free_failures: int = FREE_FAILURES,
                 first_lock_s: int = 1, max_lock_s: int = MAX_LOCK_S):
        self._engine = engine
        self._clock = clock
        self._free = free_failures
        self._first_lock_s = first_lock_s
        self._max_lock_s = max_lock_s

    def wait_s(self, address: str) -> int:
        """Whole seconds ``address`` must still wait before its next try (0: it may try now)."""
        now = self._clock()
        with self._engine.connect() as conn:
            locked_until = self._current(conn, address, now)[1]
        return max(0, math.ceil((locked_until - now) / _NS_PER_S))

    def failures(self, address: str) -> int:
        """Wrong tokens from ``address`` in a row (forgotten after an hour of quiet)."""
        with self._engine.connect() as conn:
            return self._current(conn, address, self._clock())[0]

    def failed(self, address: str) -> int:
        """Count a wrong token from ``address``; returns the seconds it is now locked out for."""
        for attempt in range(3):
            now = self._clock()
            try:
                with self._engine.connect() as conn, write_transaction(conn):
                    return self._count_failure(conn, address, now)
            except IntegrityError:  # another worker counted this address's first failure at the same moment
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def succeeded(self, address: str) -> None:
        """A live token came from ``address``: its failures are forgiven."""
        with self._engine.connect() as conn, write_transaction(conn):
            conn.execute(delete(login_failures).where(login_failures.c.address == address))

    def _count_failure(self, conn: Connection, address: str, now: int) -> int:
        # Addresses quiet for an hour (and not locked) are dropped, so the table stays small.
        conn.execute(delete(login_failures).where(login_failures.c.last_failure_ns <= now - FORGET_AFTER_S * _NS_PER_S,
                                                  login_failures.c.locked_until_ns <= now))
        row = conn.execute(select(login_failures.c.failures).where(login_failures.c.address == address)
                           .with_for_update()).first()  # PostgreSQL: two workers never count the same failure
        failures = (row.failures if row else 0) + 1
        lock_s = 0 if failures <= self._free else min(self._max_lock_s,
                                                      self._first_lock_s * 2 ** (failures - self._free - 1))
        values = {"failures": failures, "locked_until_ns": now + lock_s * _NS_PER_S, "last_failure_ns": now}
        if row is None:
            conn.execute(insert(login_failures).values(address=address, **values))
        else:
            conn.execute(update(login_failures).where(login_failures.c.address == address).values(**values))
        return lock_s

    @staticmethod
    def _current(conn: Connection, address: str, now: int) -> tuple[int, int]:
        """(failures, locked until) of ``address``; (0, 0) once it has been quiet for an hour and is unlocked."""
        row = conn.execute(select(login_failures.c.failures, login_failures.c.locked_until_ns,
                                  login_failures.c.last_failure_ns)
                           .where(login_failures.c.address == address)).first()
        if row is None or (now - row.last_failure_ns >= FORGET_AFTER_S * _NS_PER_S and row.locked_until_ns <= now):
            return 0, 0
        return row.failures, row.locked_until_ns

"""The officers of this terminal's unit, as the server sent them, and the PIN pad's rules.

The list lives in the terminal's file (table ``officers``, migration m006); the uploader replaces it whole
when the server's version differs (``sync.local.LocalRatings.replace_officers``). It is read afresh at each
sign-in, so a list that arrived a minute ago counts. PINs are checked against the hash the server made
(:mod:`kiosk.service_pin`'s scheme); the PIN itself is never stored or sent.

    >>> from sqlite_utils import Database
    >>> from kiosk.service_pin import hash_pin
    >>> from kiosk.store import RatingStore
    >>> store = RatingStore(Database(memory=True), terminal_id="t1")
    >>> store.db["officers"].insert({"code": "0042", "name": "Nguyễn Thị Lan", "pin_hash": hash_pin("2468", rounds=1000),
    ...                              "counters": '["Quầy 2"]', "photo": None, "version": "v1"})  # doctest: +ELLIPSIS
    <Table officers ...>
    >>> officers = OfficerDirectory(store.db, counter="Quầy 1")
    >>> officers.find("0042")
    (None, 'officer_not_here')
    >>> OfficerDirectory(store.db, counter="quầy 2").find("0042")[0].name
    'Nguyễn Thị Lan'
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Callable

from .service_pin import check_pin

log = logging.getLogger(__name__)

#: Why a sign-in was refused (``FlowEvent.message``): the screens word them.
OFFICER_UNKNOWN, OFFICER_NOT_HERE = "officer_unknown", "officer_not_here"
PIN_WRONG, PIN_LOCKED = "pin_wrong", "pin_locked"


@dataclass(frozen=True)
class Officer:
    """One officer of the unit, as the server sent them."""

    code: str
    name: str
    pin_hash: str | None
    #: Counters (names, or node ids as text) the officer may serve at; empty: every counter of the unit.
    counters: tuple[str, ...]
    photo: bytes | None = None

    def may_serve(self, counter: str) -> bool:
        """True when the officer may sign in at ``counter`` (compared without case or surrounding spaces).

            >>> Officer("1", "A", None, ()).may_serve("Quầy 3"), Officer("1", "A", None, ("Quầy 1",)).may_serve("Quầy 3")
            (True, False)
        """
        if not self.counters:
            return True
        here = _fold(counter)
        return any(_fold(c) == here for c in self.counters)


def _fold(name: str) -> str:
    return " ".join(str(name).split()).casefold()


class OfficerDirectory:
    """The officers cached in the terminal's file; ``counter`` is this terminal's (``[terminal] counter``).

    ``db`` is the store's :class:`sqlite_utils.Database`; ``lock`` the store's, when it has one (one
    connection serves several threads).
    """

    def __init__(self, db, *, counter: str, node_ids: tuple[str, ...] = (), lock=None):
        self.db = db
        self.counter = counter
        #: The organisation-tree ids of this terminal's counter, when known (matched like names).
        self.node_ids = tuple(str(n) for n in node_ids)
        self._lock = lock or threading.RLock()

    def get(self, code: str) -> Officer | None:
        """The officer with staff code ``code`` (exact), or None."""
        with self._lock:
            rows = list(self.db.query("SELECT code, name, pin_hash, counters, photo FROM officers WHERE code = ?",
                                      [code]))
        return _officer(rows[0]) if rows else None

    def find(self, code: str) -> tuple[Officer | None, str | None]:
        """``(officer, None)`` when ``code`` may sign in here, else ``(None, why)`` (:data:`OFFICER_UNKNOWN`,
        :data:`OFFICER_NOT_HERE`)."""
        officer = self.get(code)
        if officer is None:
            return None, OFFICER_UNKNOWN
        if not (officer.may_serve(self.counter) or any(officer.may_serve(n) for n in self.node_ids)):
            return None, OFFICER_NOT_HERE
        return officer, None

    def count(self) -> int:
        with self._lock:
            return self.db.execute("SELECT count(*) FROM officers").fetchone()[0]

    def version(self) -> str:
        """The version of the list held (``kiosk_meta`` ``officers_version``; empty: none received yet)."""
        with self._lock:
            row = self.db.execute("SELECT value FROM kiosk_meta WHERE key = 'officers_version'").fetchone()
        return row[0] if row and row[0] else ""


def _officer(row: dict) -> Officer:
    try:
        counters = tuple(str(c) for c in json.loads(row["counters"] or "[]"))
    except (ValueError, TypeError):  # the uploader wrote it from a checked payload; never trust a file blindly
        log.warning("officer %s: unreadable counters list; taken as every counter", row["code"])
        counters = ()
    return Officer(row["code"], row["name"], row["pin_hash"] or None, counters, row["photo"])


class PinPad:
    """The sign-in screen's PIN rules: ``attempts`` wrong PINs in a row lock it for ``lock_s`` seconds.

    Wrong PINs are counted for the screen, not per officer (a guesser would try every code), and an unknown
    staff code counts as a wrong attempt too. ``clock`` is monotonic seconds.

        >>> now = [0.0]
        >>> pad = PinPad(attempts=2, lock_s=60, clock=lambda: now[0])
        >>> pad.wrong(), pad.wrong(), pad.locked
        (False, True, True)
        >>> now[0] = 61.0
        >>> pad.locked
        False
    """

    def __init__(self, *, attempts: int = 5, lock_s: float = 60.0, clock: Callable[[], float]):
        self.attempts = attempts
        self.lock_s = lock_s
        self.clock = clock
        self.failures = 0
        self._locked_until: float | None = None

    @property
    def locked(self) -> bool:
        if self._locked_until is None:
            return False
        if self.clock() >= self._locked_until:
            self._locked_until = None
            self.failures = 0
            return False
        return True

    @property
    def seconds_locked(self) -> float:
        """Seconds until the pad takes PINs again (0 when it does)."""
        return max(0.0, self._locked_until - self.clock()) if self.locked else 0.0

    def check(self, officer: Officer | None, pin: str) -> bool:
        """True when ``pin`` is ``officer``'s (then the count of wrong PINs starts again); a wrong one is
        counted. An officer without a PIN (badge only) never matches. Call only when not :attr:`locked`."""
        if self.matches(officer, pin):
            self.succeeded()
            return True
        self.wrong()
        return False

    @staticmethod
    def matches(officer: Officer | None, pin: str) -> bool:
        """True when ``pin`` is ``officer``'s; counts nothing (the hash takes a while: callers may run it
        outside their lock, then call :meth:`succeeded` or :meth:`wrong`)."""
        return officer is not None and bool(officer.pin_hash) and check_pin(pin, officer.pin_hash)

    def succeeded(self) -> None:
        """A right PIN: the count of wrong ones starts again."""
        self.failures = 0

    def wrong(self) -> bool:
        """Count one wrong attempt; True when it locked the pad."""
        self.failures += 1
        if self.failures >= self.attempts:
            self._locked_until = self.clock() + self.lock_s
            log.warning("sign-in screen locked for %g s after %d wrong PINs", self.lock_s, self.failures)
            return True
        return False

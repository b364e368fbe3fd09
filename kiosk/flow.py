"""The rating flow: what one press means, as a small state machine.

Pure Python, no Kivy and no gpiozero: hardware callbacks and touch handlers
both call :meth:`RatingFlow.press`; the UI and the LEDs observe the events.
Time comes from an injected ``clock`` (seconds, monotonic), so tests drive it.

    >>> from sqlite_utils import Database
    >>> from kiosk.store import RatingStore
    >>> now = [100.0]
    >>> flow = RatingFlow(RatingStore(Database(memory=True), terminal_id="t"), clock=lambda: now[0])
    >>> flow.press("dissatisfied", source="button").screen
    'reason'
    >>> flow.choose_reason("staff_attitude").screen
    'thanks'
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from .ratings import DISSATISFIED, GIVEN, REASONS, SKIPPED, TIMEOUT
from .store import BUSY, REPEAT, SERVICE

log = logging.getLogger(__name__)

HOME, REASON, THANKS = "home", "reason", "thanks"


@dataclass(frozen=True)
class FlowEvent:
    """What happened, handed to every listener.

    ``kind`` is ``rated`` (a counted press), ``filtered`` (a press stored but
    not counted; ``filter_cause`` says why), ``sealed`` (the reason question
    ended) or ``screen`` (the screen changed without a press, e.g. after the
    thank-you).
    """

    kind: str
    screen: str
    rating_id: str | None = None
    rating: str | None = None
    source: str | None = None
    reason: str | None = None
    outcome: str | None = None
    filter_cause: str | None = None


class RatingFlow:
    """Home → (reason →) thanks → home, storing every press as it comes.

    Thread-safe: gpiozero calls :meth:`press` from its own threads, touch
    from Kivy's. Listeners run under the flow's lock and must only hand the
    event on (schedule a redraw, blink an LED).
    """

    def __init__(self, store, *, reasons=REASONS, ask_reason: bool = True,
                 reason_timeout_s: float = 20.0, thanks_s: float = 3.0,
                 repeat_interval_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.reasons = tuple(reasons)
        self.ask_reason = ask_reason and bool(self.reasons)
        self.reason_timeout_s = reason_timeout_s
        self.thanks_s = thanks_s
        self.repeat_interval_s = repeat_interval_s
        self.clock = clock
        self.screen = HOME
        self.open_rating_id: str | None = None
        self.last_rating: str | None = None
        self.deadline: float | None = None
        self._last_counted_at: float | None = None
        #: True while a technician has the service screen (PIN pad, status, button test) up.
        self.in_service = False
        self._listeners: list[Callable[[FlowEvent], None]] = []
        self._lock = threading.RLock()

    @classmethod
    def from_config(cls, store, config, *, clock: Callable[[], float] = time.monotonic) -> "RatingFlow":
        fb = config.feedback
        return cls(store, reasons=fb.reasons, ask_reason=config.asks_reason,
                   reason_timeout_s=fb.reason_timeout_s, thanks_s=fb.thanks_s,
                   repeat_interval_s=fb.repeat_interval_s, clock=clock)

    def add_listener(self, listener: Callable[[FlowEvent], None]) -> None:
        self._listeners.append(listener)

    # -- inputs ---------------------------------------------------------
    def press(self, rating: str, *, source: str = "button") -> FlowEvent:
        """A rating button was pressed or touched: store it, then move on.

        A press is counted only on home, outside the repeat interval and
        outside service mode; otherwise it is stored filtered, with its cause.
        """
        with self._lock:
            now = self.clock()
            self._expire(now)
            cause = self._filter_cause(now)
            counted = cause is None
            ask = counted and self.ask_reason and rating == DISSATISFIED
            row = self.store.record_press(rating, source=source, filtered=not counted, filter_cause=cause,
                                          ask_reason=ask)
            if not counted:
                return self._emit(FlowEvent("filtered", self.screen, row["id"], rating, source,
                                            filter_cause=cause))
            self._last_counted_at = now
            self.last_rating = rating
            if ask:
                self.open_rating_id = row["id"]
                self._enter(REASON, now + self.reason_timeout_s)
            else:
                self._enter(THANKS, now + self.thanks_s)
            return self._emit(FlowEvent("rated", self.screen, row["id"], rating, source))

    def choose_reason(self, reason: str, *, source: str = "touch") -> FlowEvent | None:
        """The citizen picked a reason; ignored unless the reason screen is up."""
        if reason not in self.reasons:
            raise ValueError(f"reason {reason!r} is not offered on this terminal")
        return self._close_question(GIVEN, reason, source)

    def choose_reason_number(self, number: int, *, source: str = "button") -> FlowEvent | None:
        """Reason button ``number`` (1-based, in the configured order) was pressed."""
        if not 1 <= number <= len(self.reasons):
            return None
        return self.choose_reason(self.reasons[number - 1], source=source)

    def skip_reason(self, *, source: str = "touch") -> FlowEvent | None:
        """The citizen chose "skip" on the reason screen."""
        return self._close_question(SKIPPED, None, source)

    def begin_service(self) -> None:
        """A technician opened the service screen: presses are stored as filtered (``service``) until
        :meth:`end_service`, and never move the flow."""
        with self._lock:
            self.in_service = True

    def end_service(self) -> None:
        """The service screen closed: the flow starts again from home (see :meth:`reset`)."""
        with self._lock:
            self.in_service = False
            self.reset()

    def tick(self) -> FlowEvent | None:
        """Let time pass: end the reason question or the thank-you when due."""
        with self._lock:
            return self._expire(self.clock())

    def reset(self) -> FlowEvent | None:
        """Back to home now (service screen closed); an open question times out."""
        with self._lock:
            event = None
            if self.screen == REASON:
                event = self._close_question(TIMEOUT, None, None, screen=HOME)
            elif self.screen != HOME:
                self._enter(HOME, None)
                event = self._emit(FlowEvent("screen", HOME))
            return event

    @property
    def seconds_left(self) -> float | None:
        """Seconds until the current screen gives up, or None on home."""
        with self._lock:
            return None if self.deadline is None else max(0.0, self.deadline - self.clock())

    # -- inside ---------------------------------------------------------
    def _filter_cause(self, now: float) -> str | None:
        """Why a press now would not count (None: it counts). Service first, then the screen, then the
        repeat interval: a press during the thank-you is ``busy`` even inside the repeat interval."""
        if self.in_service:
            return SERVICE
        if self.screen != HOME:
            return BUSY
        if self._last_counted_at is not None and now - self._last_counted_at < self.repeat_interval_s:
            return REPEAT
        return None

    def _expire(self, now: float) -> FlowEvent | None:
        if self.deadline is None or now < self.deadline:
            return None
        if self.screen == REASON:
            # The citizen walked away: keep the rating, go straight home.
            return self._close_question(TIMEOUT, None, None, screen=HOME)
        self._enter(HOME, None)
        return self._emit(FlowEvent("screen", HOME))

    def _close_question(self, outcome: str, reason: str | None, source: str | None,
                        *, screen: str = THANKS) -> FlowEvent | None:
        with self._lock:
            now = self.clock()
            if self.screen == REASON and outcome != TIMEOUT and now >= self.deadline:
                self._expire(now)
            if self.screen != REASON:
                log.debug("reason %s ignored: no question open", outcome)
                return None
            rating_id = self.open_rating_id
            self.store.seal(rating_id, outcome, reason)
            self.open_rating_id = None
            self._enter(screen, now + self.thanks_s if screen == THANKS else None)
            return self._emit(FlowEvent("sealed", self.screen, rating_id, DISSATISFIED, source, reason, outcome))

    def _enter(self, screen: str, deadline: float | None) -> None:
        self.screen = screen
        self.deadline = deadline

    def _emit(self, event: FlowEvent) -> FlowEvent:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not lose the next press
                log.exception("flow listener %r failed", listener)
        return event

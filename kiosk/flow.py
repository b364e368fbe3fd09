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

At the counter (issue 12): an officer signs in (badge scan or staff code + PIN) and every press stores who
was signed in; a scanned dossier opens an invitation, and the next counted press is linked to it (once per
dossier on this terminal). Presses while a scan is read or the PIN pad is up are never counted.

Scans while the citizen is still answering (the reason question or the thank-you is up): a dossier scan
is *deferred* (the latest one is kept) and opens its invitation as soon as the screen is back home, so the
citizen answering is never cut short and the officer need not scan again; a badge scan is applied at once
(it changes only the banner; the press being answered already stored its officer).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from .dossiers import DossierRules, Invitation
from .errors import StoreError
from .officers import (OFFICER_NOT_HERE, OFFICER_UNKNOWN, PIN_LOCKED, PIN_WRONG, Officer,  # noqa: F401
                       OfficerDirectory, PinPad)
from .ratings import DISSATISFIED, GIVEN, REASONS, SKIPPED, TIMEOUT
from .scanner import BADGE, DOSSIER, PartialScan, Scan, classify_with
from .store import BUSY, DOSSIER_REPEAT, REPEAT, REPLACED, SERVICE, UNANSWERED
from .store import SIGNIN as SIGNIN_CAUSE

log = logging.getLogger(__name__)

HOME, REASON, THANKS = "home", "reason", "thanks"
#: The officer's PIN pad is up; the dossier invitation is up (the citizen can press a rating right there).
SIGNIN, INVITATION = "signin", "invitation"

#: How a sign-in or sign-out came about (``shifts.sign_in_how``, ``shifts.sign_out_how``).
BY_BADGE, BY_PIN, BY_SCREEN, BY_HOURS, BY_SERVICE = "badge", "pin", "screen", "hours", "service"

#: ``FlowEvent.message`` of a refused scan: part of a code (the scanner stopped before its Enter), or a
#: code that is neither a badge nor a dossier of this terminal's patterns.
SCAN_PARTIAL, SCAN_UNKNOWN = "scan_partial", "scan_unknown"

#: The PIN pad gives up (back home) after this long without a PIN tried, so presses count again.
SIGNIN_IDLE_S = 60.0
#: The default of ``[feedback] reason_warning_s`` (another helper's key) when the config has none.
REASON_WARNING_S = 5.0


@dataclass(frozen=True)
class FlowEvent:
    """What happened, handed to every listener.

    ``kind`` is ``rated`` (a counted press), ``filtered`` (a press stored but
    not counted; ``filter_cause`` says why), ``sealed`` (the reason question
    ended), ``screen`` (the screen changed without a press, e.g. after the
    thank-you), ``signed_in`` / ``signed_out`` (``officer``), ``refused``
    (``message``), ``invited`` (``dossier``) or ``warning`` (the reason
    question times out in ``reason_warning_s``; once per question).
    """

    kind: str
    screen: str
    rating_id: str | None = None
    rating: str | None = None
    source: str | None = None
    reason: str | None = None
    outcome: str | None = None
    filter_cause: str | None = None
    #: The staff code concerned (``signed_in``, ``signed_out``, ``refused``), or signed in at the press.
    officer: str | None = None
    #: The dossier invited (``invited``), or linked to the press.
    dossier: str | None = None
    #: ``outcome`` above is also how a ``signed_in`` / ``signed_out`` came about (``badge``, ``pin``, ``screen``,
    #: ``hours``, ``service``).
    #: Why something was refused (``officer_unknown``, ``officer_not_here``, ``pin_wrong``, ``pin_locked``,
    #: ``scan_partial``, ``scan_unknown``); the screens word it.
    message: str | None = None


class RatingFlow:
    """Home → (reason →) thanks → home, storing every press as it comes.

    Thread-safe: gpiozero calls :meth:`press` from its own threads, touch
    from Kivy's. Listeners run under the flow's lock and must only hand the
    event on (schedule a redraw, blink an LED).

    ``officers``: the unit's officers (:class:`kiosk.officers.OfficerDirectory`), None when sign-in is off;
    ``dossiers``: which scans are dossier codes (:class:`kiosk.dossiers.DossierRules`), None when dossier
    invitations are off. ``wall_clock`` gives the local time (aware) for ``sign_out_at`` ("HH:MM", "" never).
    ``scanner``: the UI's :class:`kiosk.scanner.ScanReader` when it has one, fed on the same monotonic clock
    as ``clock`` (a press while it reads a burst is not counted).
    """

    def __init__(self, store, *, reasons=REASONS, ask_reason: bool = True,
                 reason_timeout_s: float = 20.0, thanks_s: float = 3.0,
                 repeat_interval_s: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 officers: OfficerDirectory | None = None, pin_attempts: int = 5, pin_lock_s: float = 60.0,
                 sign_out_at: str = "", wall_clock: Callable[[], datetime] | None = None,
                 badge_pattern: str = r"^CB(?P<code>[A-Za-z0-9._-]{2,32})$",
                 dossiers: DossierRules | None = None, invitation_s: float = 120.0,
                 reason_warning_s: float = REASON_WARNING_S, scanner=None):
        self.store = store
        self.reasons = tuple(reasons)
        self.ask_reason = ask_reason and bool(self.reasons)
        self.reason_timeout_s = reason_timeout_s
        self.thanks_s = thanks_s
        self.repeat_interval_s = repeat_interval_s
        self.reason_warning_s = reason_warning_s
        self.clock = clock
        self.wall_clock = wall_clock or (lambda: datetime.now().astimezone())
        self.screen = HOME
        self.open_rating_id: str | None = None
        self.last_rating: str | None = None
        self.deadline: float | None = None
        self._last_counted_at: float | None = None
        #: True while a technician has the service screen (PIN pad, status, button test) up.
        self.in_service = False
        self._listeners: list[Callable[[FlowEvent], None]] = []
        self._lock = threading.RLock()
        # The counter (issue 12).
        self.officers = officers
        self.pin_pad = PinPad(attempts=pin_attempts, lock_s=pin_lock_s, clock=clock)
        self.sign_out_at = sign_out_at
        self.badge_pattern = badge_pattern
        self.dossiers = dossiers
        self.invitation_s = invitation_s
        self.scanner = scanner
        self._shift_id: str | None = None
        self._officer: str | None = None
        self._sign_out_due: datetime | None = None
        self._invitation: Invitation | None = None
        self._warned = False
        #: A dossier scanned while the citizen was answering: invited once the screen is back home.
        self.deferred_dossier: str | None = None
        self._resume_shift()

    @classmethod
    def from_config(cls, store, config, *, clock: Callable[[], float] = time.monotonic,
                    wall_clock: Callable[[], datetime] | None = None) -> "RatingFlow":
        fb = config.feedback
        officers = None
        if config.officers.enabled:
            officers = OfficerDirectory(store.db, counter=config.terminal.counter, lock=store._lock)
        dossiers = DossierRules.from_config(config) if config.dossier.enabled else None
        return cls(store, reasons=fb.reasons, ask_reason=config.asks_reason,
                   reason_timeout_s=fb.reason_timeout_s, thanks_s=fb.thanks_s,
                   repeat_interval_s=fb.repeat_interval_s, clock=clock,
                   officers=officers, pin_attempts=config.officers.pin_attempts,
                   pin_lock_s=config.officers.pin_lock_s, sign_out_at=config.officers.sign_out_at,
                   wall_clock=wall_clock, badge_pattern=config.officers.badge_pattern, dossiers=dossiers,
                   invitation_s=config.dossier.invitation_s,
                   # [feedback] reason_warning_s is the access helper's key: its default until it is there.
                   reason_warning_s=getattr(fb, "reason_warning_s", REASON_WARNING_S))

    def follow_config(self, config) -> None:
        """Take the rating settings of ``config`` (remote settings applied in place, issue 13): the reasons and
        the times. Call it through :meth:`when_quiet`: a rating being answered keeps what it started with."""
        fb = config.feedback
        with self._lock:
            self.reasons = tuple(fb.reasons)
            self.ask_reason = config.asks_reason and bool(self.reasons)
            self.reason_timeout_s = fb.reason_timeout_s
            self.thanks_s = fb.thanks_s
            self.repeat_interval_s = fb.repeat_interval_s
            self.reason_warning_s = fb.reason_warning_s

    def when_quiet(self, action: Callable[[], Any]) -> bool:
        """Run ``action`` now if nobody is in the middle of something: home, no invitation open or waiting,
        no scan being read, no service or sign-in; under the flow's lock, so no press can come in between.
        True when it ran."""
        with self._lock:
            quiet = (self.screen == HOME and not self.in_service and self._invitation is None
                     and self.deferred_dossier is None and self.open_rating_id is None
                     and not (self.scanner is not None and self.scanner.is_reading(self.clock())))
            if quiet:
                action()
            return quiet

    def add_listener(self, listener: Callable[[FlowEvent], None]) -> None:
        self._listeners.append(listener)

    # -- what the screens show ----------------------------------------------
    @property
    def officer(self) -> str | None:
        """The staff code of the officer signed in, or None."""
        return self._officer

    @property
    def invitation(self) -> str | None:
        """The dossier of the open invitation, or None."""
        return self._invitation.dossier if self._invitation is not None else None

    def officer_details(self) -> Officer | None:
        """The officer signed in as the unit's list has them (name, photo), or None."""
        code = self._officer
        if code is None or self.officers is None:
            return None
        return self.officers.get(code)

    @property
    def invitation_details(self) -> Invitation | None:
        """The open invitation (its dossier shortened for the screen: ``.on_screen``), or None."""
        return self._invitation

    # -- inputs ---------------------------------------------------------
    def press(self, rating: str, *, source: str = "button") -> FlowEvent:
        """A rating button was pressed or touched: store it, then move on.

        A press is counted only on home or the invitation, outside the repeat interval, outside service
        mode, sign-in and scans; otherwise it is stored filtered, with its cause. With an invitation open,
        the counted press is linked to its dossier (a dossier already linked to a counted rating on this
        terminal: stored filtered, ``dossier_repeat``, with the same thank-you).
        """
        with self._lock:
            now = self.clock()
            self._expire(now)
            cause = self._filter_cause(now)
            invitation = self._invitation if cause is None else None
            dossier = invitation.dossier if invitation is not None else None
            if dossier is not None and self.store.dossier_counted(dossier):
                cause = DOSSIER_REPEAT
            counted = cause is None
            ask = counted and self.ask_reason and rating == DISSATISFIED
            row = self.store.record_press(rating, source=source, filtered=not counted, filter_cause=cause,
                                          ask_reason=ask, officer=self._officer, dossier=dossier,
                                          invitation_id=invitation.id if invitation is not None else None)
            if invitation is not None:
                self._invitation = None  # closed "rated" with the press, in the same transaction
            if not counted:
                if cause == DOSSIER_REPEAT:
                    # The citizen sees the same thank-you whatever became of the press (the screens show the
                    # last rating's thank-you: this one's).
                    self.last_rating = rating
                    self._enter(THANKS, now + self.thanks_s)
                return self._emit(FlowEvent("filtered", self.screen, row["id"], rating, source,
                                            filter_cause=cause, officer=self._officer, dossier=dossier))
            self._last_counted_at = now
            self.last_rating = rating
            if ask:
                self.open_rating_id = row["id"]
                self._enter(REASON, now + self.reason_timeout_s)
            else:
                self._enter(THANKS, now + self.thanks_s)
            return self._emit(FlowEvent("rated", self.screen, row["id"], rating, source, officer=self._officer,
                                        dossier=dossier))

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
        :meth:`end_service`, and never move the flow. A dossier waiting to be invited is dropped."""
        with self._lock:
            self.in_service = True
            self.deferred_dossier = None

    def end_service(self) -> None:
        """The service screen closed: the flow starts again from home (see :meth:`reset`)."""
        with self._lock:
            self.in_service = False
            self.reset()

    # -- the officer ------------------------------------------------------
    def sign_in(self, code: str, how: str) -> FlowEvent | None:
        """Sign in the officer with staff code ``code`` (``how``: ``badge`` or ``pin``).

        ``signed_in``, or ``refused`` (``officer_unknown``, ``officer_not_here``). A badge of the officer
        already signed in signs them out (``signed_out``); another officer's badge hands the counter over
        (the first signed out, then the second in). None when sign-in is off at this terminal.
        """
        if how not in (BY_BADGE, BY_PIN):
            raise ValueError(f"sign-in by {how!r}: expected badge or pin")
        with self._lock:
            if self.officers is None:
                log.info("a sign-in (%s) ignored: officer sign-in is off at this terminal", how)
                return None
            if code == self._officer:
                if how == BY_BADGE:
                    return self.sign_out(BY_BADGE)
                if self.screen == SIGNIN:
                    self._leave_signin()
                return self._emit(FlowEvent("signed_in", self.screen, officer=code, outcome=how))
            officer, why = self.officers.find(code)
            if why is not None:
                log.info("sign-in of %s refused: %s", code, why)
                return self._emit(FlowEvent("refused", self.screen, officer=code, message=why))
            return self._sign_in(officer.code, how)

    def sign_out(self, how: str) -> FlowEvent | None:
        """Sign out the officer signed in (``how``: ``badge``, ``screen``, ``hours``, ``service``);
        ``signed_out``, or None when nobody is signed in."""
        if how not in (BY_BADGE, BY_SCREEN, BY_HOURS, BY_SERVICE):
            raise ValueError(f"sign-out by {how!r}: expected badge, screen, hours or service")
        with self._lock:
            if self._officer is None:
                return None
            code, shift_id = self._officer, self._shift_id
            self.store.close_shift(shift_id, how)
            self._officer = self._shift_id = self._sign_out_due = None
            return self._emit(FlowEvent("signed_out", self.screen, officer=code, outcome=how))

    def begin_signin(self) -> FlowEvent | None:
        """The PIN pad is up (from home or an invitation): presses are stored filtered (``signin``) until
        :meth:`end_signin`, a sign-in, or :data:`SIGNIN_IDLE_S` without a PIN tried. None when sign-in is off
        or the citizen is answering (reason, thank-you)."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if self.officers is None or self.in_service or self.screen not in (HOME, INVITATION, SIGNIN):
                return None
            self._enter(SIGNIN, now + SIGNIN_IDLE_S)
            return self._emit(FlowEvent("screen", SIGNIN))

    def end_signin(self) -> FlowEvent | None:
        """The PIN pad closed: back to the invitation if one is still open, else home."""
        with self._lock:
            if self.screen != SIGNIN:
                return None
            return self._leave_signin()

    def check_pin(self, code: str, pin: str) -> FlowEvent | None:
        """A staff code and PIN typed on the pad: signs in (``signed_in``, the pad closes) or ``refused``
        (``officer_unknown``, ``officer_not_here``, ``pin_wrong``, ``pin_locked``). Each wrong PIN or unknown
        code counts towards ``pin_attempts``; then the pad refuses everything for ``pin_lock_s``."""
        with self._lock:
            if self.officers is None:
                return None
            if self.screen == SIGNIN:
                self.deadline = self.clock() + SIGNIN_IDLE_S
            if self.pin_pad.locked:
                return self._emit(FlowEvent("refused", self.screen, officer=code, message=PIN_LOCKED))
            officer, why = self.officers.find(code)
            if why == OFFICER_NOT_HERE:
                return self._emit(FlowEvent("refused", self.screen, officer=code, message=why))
        # The hash takes a while (PBKDF2): out of the lock, so a press meanwhile is stored without waiting.
        matches = officer is not None and self.pin_pad.matches(officer, pin)
        with self._lock:
            if self.pin_pad.locked:  # locked by another attempt meanwhile
                return self._emit(FlowEvent("refused", self.screen, officer=code, message=PIN_LOCKED))
            if not matches:
                locked_now = self.pin_pad.wrong()
                message = PIN_LOCKED if locked_now else (OFFICER_UNKNOWN if officer is None else PIN_WRONG)
                log.info("PIN sign-in of %s refused: %s", code, message)
                return self._emit(FlowEvent("refused", self.screen, officer=code, message=message))
            self.pin_pad.succeeded()
            return self.sign_in(officer.code, BY_PIN)

    # -- the dossier ------------------------------------------------------
    def invite(self, dossier: str) -> FlowEvent | None:
        """Invite the citizen to rate the handling of ``dossier``: ``invited`` (screen ``invitation``).

        A second invitation replaces the first (closed ``replaced``). While the citizen is still answering
        (reason, thank-you) the dossier is kept and invited once the screen is back home (None now). A code
        that does not match ``[dossier] pattern``: ``refused`` (``scan_unknown``). None when dossier
        invitations are off or the service screen is up.
        """
        with self._lock:
            now = self.clock()
            self._expire(now)
            if self.dossiers is None or self.in_service:
                log.info("a dossier scan ignored: dossier invitations are %s", "off" if self.dossiers is None
                         else "paused by the service screen")
                return None
            if not self.dossiers.is_valid(dossier):
                return self._emit(FlowEvent("refused", self.screen, message=SCAN_UNKNOWN))
            if self.screen in (REASON, THANKS):
                self.deferred_dossier = dossier
                log.info("a dossier scan waits until the citizen has finished answering")
                return None
            if self._invitation is not None:
                self.store.close_invitation(self._invitation.id, REPLACED)
            row = self.store.open_invitation(dossier, self._officer)
            self._invitation = Invitation(row["id"], dossier, self._officer, now + self.invitation_s)
            self._enter(INVITATION, self._invitation.expires_at)
            return self._emit(FlowEvent("invited", INVITATION, officer=self._officer, dossier=dossier))

    # -- scans --------------------------------------------------------------
    def scan(self, scanned) -> FlowEvent | None:
        """What the UI's scanner read (a :class:`kiosk.scanner.Scan`, a :class:`kiosk.scanner.PartialScan`,
        or the text of a scan): a badge signs in or out (or hands over), a dossier is invited; a partial
        scan or a code of neither pattern is ``refused`` (``scan_partial``, ``scan_unknown``) and does
        nothing else. Scans are ignored while the service screen is up."""
        if isinstance(scanned, PartialScan):
            with self._lock:
                return self._emit(FlowEvent("refused", self.screen, message=SCAN_PARTIAL))
        text = scanned.text if isinstance(scanned, Scan) else str(scanned)
        dossier_pattern = self.dossiers.pattern.pattern if self.dossiers is not None else r"(?!)"
        kind, code = classify_with(text, self.badge_pattern, dossier_pattern)
        if self.in_service:
            log.info("a scan ignored: the service screen is up")
            return None
        if kind == BADGE and self.officers is not None:
            return self.sign_in(code, BY_BADGE)
        if kind == DOSSIER:
            return self.invite(code)
        with self._lock:
            return self._emit(FlowEvent("refused", self.screen, message=SCAN_UNKNOWN))

    # -- time ---------------------------------------------------------------
    def tick(self) -> FlowEvent | None:
        """Let time pass: end the reason question, the thank-you, the PIN pad or the invitation when due;
        warn once before the reason question times out; sign out at ``sign_out_at``."""
        with self._lock:
            now = self.clock()
            event = self._expire(now)
            if self.screen == REASON and not self._warned and self.reason_warning_s > 0 \
                    and self.deadline is not None and self.deadline - now <= self.reason_warning_s:
                self._warned = True
                event = self._emit(FlowEvent("warning", REASON, self.open_rating_id, DISSATISFIED))
            if self._sign_out_due is not None and self.wall_clock() >= self._sign_out_due:
                event = self.sign_out(BY_HOURS) or event
            return event

    def reset(self) -> FlowEvent | None:
        """Back to home now (service screen closed); an open question times out, an open invitation is
        closed unanswered, the PIN pad closes."""
        with self._lock:
            event = None
            self._close_invitation(UNANSWERED)
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
        """Why a press now would not count (None: it counts). Service first, then sign-in (the PIN pad, or a
        scan being read), then the screen, then the repeat interval: a press during the thank-you is
        ``busy`` even inside the repeat interval."""
        if self.in_service:
            return SERVICE
        if self.screen == SIGNIN or (self.scanner is not None and self.scanner.is_reading(now)):
            return SIGNIN_CAUSE
        if self.screen not in (HOME, INVITATION):
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
        if self.screen == SIGNIN:
            return self._leave_signin(now)
        if self.screen == INVITATION:
            self._close_invitation(UNANSWERED)
        return self._go_home()

    def _go_home(self) -> FlowEvent:
        self._enter(HOME, None)
        event = self._emit(FlowEvent("screen", HOME))
        if self.deferred_dossier is not None:
            dossier, self.deferred_dossier = self.deferred_dossier, None
            event = self.invite(dossier) or event
        return event

    def _leave_signin(self, now: float | None = None) -> FlowEvent:
        now = self.clock() if now is None else now
        invitation = self._invitation
        if invitation is not None and invitation.expired(now):
            self._close_invitation(UNANSWERED)
            invitation = None
        if invitation is not None:
            self._enter(INVITATION, invitation.expires_at)
            return self._emit(FlowEvent("screen", INVITATION, officer=self._officer, dossier=invitation.dossier))
        return self._go_home()

    def _close_invitation(self, outcome: str) -> None:
        if self._invitation is not None:
            self.store.close_invitation(self._invitation.id, outcome)
            self._invitation = None

    def _sign_in(self, code: str, how: str) -> FlowEvent:
        if self._officer is not None:  # hand-over: the first officer's shift ends as the second's begins
            self.sign_out(BY_BADGE if how == BY_BADGE else BY_SCREEN)
        row = self.store.open_shift(code, how)
        self._officer, self._shift_id = code, row["id"]
        self._sign_out_due = self._next_sign_out(self.wall_clock())
        if self.screen == SIGNIN:
            self._leave_signin()
        return self._emit(FlowEvent("signed_in", self.screen, officer=code, outcome=how))

    def _resume_shift(self) -> None:
        """A shift still open in the file (the terminal restarted): the officer stays signed in; a shift left
        open while sign-in is now off is closed (``service``)."""
        try:
            shift = self.store.current_shift()
            if shift is not None and self.officers is None:
                self.store.close_shift(shift["id"], BY_SERVICE)
                return
        except StoreError as exc:  # a full disk at the start: the terminal still starts (nobody signed in)
            log.warning("cannot resume or close the last shift: %s", exc)
            return
        if shift is None:
            return
        self._officer, self._shift_id = shift["officer"], shift["id"]
        try:
            since = datetime.fromisoformat(shift["signed_in_at"].replace("Z", "+00:00")).astimezone(
                self.wall_clock().tzinfo)
        except ValueError:
            since = self.wall_clock()
        self._sign_out_due = self._next_sign_out(since)
        log.info("officer %s is still signed in (since %s)", self._officer, shift["signed_in_at"])

    def _next_sign_out(self, after: datetime) -> datetime | None:
        """The first ``sign_out_at`` after ``after`` (local time), or None when it is "" (never)."""
        if not self.sign_out_at:
            return None
        hour, minute = (int(part) for part in self.sign_out_at.split(":"))
        due = after.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return due if due > after else due + timedelta(days=1)

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
            event = self._emit(FlowEvent("sealed", self.screen, rating_id, DISSATISFIED, source, reason, outcome))
            if screen == HOME and self.deferred_dossier is not None:
                dossier, self.deferred_dossier = self.deferred_dossier, None
                self.invite(dossier)
            return event

    def _enter(self, screen: str, deadline: float | None) -> None:
        if screen == REASON:
            self._warned = False
        self.screen = screen
        self.deadline = deadline

    def _emit(self, event: FlowEvent) -> FlowEvent:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not lose the next press
                log.exception("flow listener %r failed", listener)
        return event

"""The officer's side of the screens: who is signed in (home's banner), the sign-in screen, scans, invitations.

The flow decides (``kiosk.flow``: sign-in, PIN check, invitations, what a press counts as); this object turns
what the officer does at the terminal into flow calls, and the flow's state into what the screens show:

- a badge scan signs in, signs out (the same badge again) or hands over (another officer's);
- a dossier scan invites the citizen to rate; while a citizen is still answering (reason question, thank-you)
  the invitation waits until home is back, so nobody's answer is cut short;
- a scan that is not whole, or neither a badge nor a dossier, is one short plain sentence on the screen.

Everything here runs on Kivy's thread: key events, touches and the app's tick.
"""

from __future__ import annotations

import io
import logging
import time

from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty

from ..flow import HOME, INVITATION, REASON, SIGNIN, THANKS
from ..texts import short_dossier
from .counter_widgets import CounterNotice

log = logging.getLogger(__name__)


def photo_texture(data: bytes | None):
    """A Kivy texture of an officer's photo (JPEG or PNG bytes), or None when there is none or it is unreadable."""
    if not data:
        return None
    ext = "png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "jpg"
    try:
        return CoreImage(io.BytesIO(data), ext=ext).texture
    except Exception as exc:  # a damaged photo: the name alone
        log.warning("an officer's photo cannot be shown (%s)", exc)
        return None


class OfficerDesk(EventDispatcher):
    """The officer's side of ``app`` (a :class:`kiosk.ui.app.KioskApp`)."""

    officers_enabled = BooleanProperty(False)
    dossier_enabled = BooleanProperty(False)
    #: The officer signed in (code, name, photo texture or None); "" when nobody is.
    officer_code = StringProperty("")
    officer_name = StringProperty("")
    officer_photo = ObjectProperty(None, allownone=True)
    #: The open invitation's dossier code, and as the screen shows it.
    dossier = StringProperty("")
    dossier_short = StringProperty("")
    #: How long the banner area is held to open the sign-in screen.
    signin_hold_s = NumericProperty(2.0)
    #: The sign-in screen closes by itself after this long without a touch (a citizen who opened it by chance).
    signin_idle_s = NumericProperty(45.0)
    #: How long a notice stays on the screen.
    notice_s = NumericProperty(4.0)

    def __init__(self, app, terminal, **kwargs):
        super().__init__(**kwargs)
        self.app = app
        self.terminal = terminal
        self.flow = terminal.flow
        config = terminal.config
        self.officers_enabled = bool(config.officers.enabled)
        self.dossier_enabled = bool(config.dossier.enabled)
        self.pin_lock_s = int(config.officers.pin_lock_s)
        self.notice = CounterNotice()
        self._hide_notice = Clock.create_trigger(lambda _dt: setattr(self.notice, "shown", False), self.notice_s)
        self._photos: dict[str, object] = {}
        #: A dossier scanned while a citizen was still answering: invited once home is back.
        self.pending_dossier: str | None = None
        self.signin_touched_at = time.monotonic()

    # -- following the flow (Kivy's thread, from the app's follow) ---------------------
    def refresh(self) -> None:
        """Show the flow's officer and invitation; send a waiting invitation once home is back."""
        code = self.flow.officer or ""
        if code != self.officer_code:
            self.officer_name = self._officer_name(code) if code else ""
            self.officer_photo = self._photo(code) if code else None
            self.officer_code = code
        dossier = self.flow.invitation or ""
        if dossier != self.dossier:
            self.dossier = dossier
            self.dossier_short = short_dossier(dossier) if dossier else ""
        if self.pending_dossier is not None and self.flow.screen == HOME and not self.app.servicing:
            dossier, self.pending_dossier = self.pending_dossier, None
            self._invite(dossier)

    def _officer(self, code: str):
        try:
            return self.terminal.officers.get(code)
        except Exception:  # the cache unreadable: the code stands in for the name
            log.exception("officer %s cannot be read from the cache", code)
            return None

    def _officer_name(self, code: str) -> str:
        officer = self._officer(code)
        return officer.name if officer is not None and officer.name else code

    def _photo(self, code: str):
        if code not in self._photos:
            officer = self._officer(code)
            self._photos[code] = photo_texture(officer.photo if officer is not None else None)
        return self._photos[code]

    # -- the sign-in screen ----------------------------------------------------------
    def open_signin(self) -> None:
        """The banner area was held: the officers' sign-in screen (presses meanwhile are stored as ``signin``)."""
        if not self.officers_enabled or self.app.servicing or self.app.out_of_service:
            return
        if self.flow.screen not in (HOME, INVITATION):
            return
        log.info("officer sign-in screen opened")
        self.signin_touched_at = time.monotonic()
        self.flow.begin_signin()

    def close_signin(self) -> None:
        if self.flow.screen == SIGNIN:
            log.info("officer sign-in screen closed")
            self.flow.end_signin()

    def sign_in_with_pin(self, code: str, pin: str) -> None:
        """The sign-in screen's "Sign in": the flow checks the PIN; a refusal is said on the screen."""
        event = self.flow.check_pin(code, pin)
        if event.kind == "signed_in":
            self.close_signin()
            self._notice_officer("signed_in", event.officer)
            return
        message = event.message or "officer_unknown"
        self.app.root.get_screen(SIGNIN).show(message, seconds=self.pin_lock_s)

    def sign_out_by_screen(self) -> None:
        code = self.flow.officer
        if code:
            self.flow.sign_out("screen")
            self._notice_officer("signed_out", code)
        self.close_signin()

    def sign_out_by_service(self) -> None:
        """The service screen's "sign the officer out" (a technician at the end of a day nobody closed)."""
        if self.flow.officer:
            self.flow.sign_out("service")
            self.refresh()

    def tick(self, now: float) -> None:
        if self.flow.screen == SIGNIN and now - self.signin_touched_at >= self.signin_idle_s:
            log.info("officer sign-in screen left alone for %.0f s: closed", self.signin_idle_s)
            self.close_signin()

    # -- scans ---------------------------------------------------------------------
    def scanned(self, text: str) -> None:
        """A whole scan (a burst ended by Enter)."""
        from kiosk.scanner import classify

        if self.app.servicing:
            log.info("scan ignored: the service screen is up")
            return
        kind, value = classify(text, self.terminal.config)
        log.info("scan: %s", kind)
        if kind == "badge":
            self._badge(value)
        elif kind == "dossier":
            self._dossier(value)
        else:
            self.show_notice("scan_unknown")

    def partial_scan(self) -> None:
        log.info("scan cut short: ignored")
        if not self.app.servicing:
            self.show_notice("scan_partial")

    def _badge(self, code: str) -> None:
        if not self.officers_enabled:
            self.show_notice("scan_badge_off")
            return
        before = self.flow.officer
        event = self.flow.sign_in(code, "badge")
        if event.kind == "refused":
            self.show_notice(event.message or "officer_unknown")
            return
        self.close_signin()
        if event.kind == "signed_out":
            self._notice_officer("signed_out", before or code)
        else:
            self._notice_officer("signed_in", event.officer or code)

    def _dossier(self, dossier: str) -> None:
        if not self.dossier_enabled:
            self.show_notice("scan_dossier_off")
            return
        self.close_signin()
        if self.flow.screen in (REASON, THANKS):
            # A citizen is still answering (or being thanked): theirs first, the invitation after.
            self.pending_dossier = dossier
            self.show_notice("scan_later")
            return
        self._invite(dossier)

    def _invite(self, dossier: str) -> None:
        self.flow.invite(dossier)
        self.refresh()

    # -- notices -------------------------------------------------------------------
    def _notice_officer(self, key: str, code: str | None) -> None:
        self.refresh()
        self.show_notice(key, name=self._officer_name(code) if code else "")

    def show_notice(self, key: str, **values) -> None:
        """One short sentence (a key of kiosk.texts) over the bottom of the screen for ``notice_s``."""
        values.setdefault("seconds", self.pin_lock_s)
        self.notice.text = self.app.texts[key].format(**values)
        self.notice.shown = True
        self._hide_notice.timeout = self.notice_s
        self._hide_notice.cancel()
        self._hide_notice()

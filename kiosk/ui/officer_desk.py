"""The officer's side of the screens: who is signed in (home's banner), the sign-in screen, scans, invitations.

The flow decides (``kiosk.flow``: sign-in, PIN check, scans, invitations, what a press counts as); this object
turns what the officer does at the terminal into flow calls, and the flow's state and answers into what the
screens show:

- a badge scan signs in, signs out (the same badge again) or hands over (another officer's);
- a dossier scan invites the citizen to rate; while a citizen is still answering (reason question, thank-you)
  the flow keeps it and opens the invitation once home is back, and the officer reads that it will;
- a scan that is not whole, or neither a badge nor a dossier, is one short plain sentence on the screen.

Everything here runs on Kivy's thread: key events, touches and the app's tick.
"""

from __future__ import annotations

import io
import logging
import math

from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty

from ..flow import BY_SCREEN, BY_SERVICE, HOME, INVITATION, SIGNIN
from ..scanner import BADGE, DOSSIER, PartialScan, classify
from ..store import StoreError
from .counter_widgets import CounterNotice

log = logging.getLogger(__name__)

#: The flow's refusals (FlowEvent.message) that have words of their own on the officer's screens.
MESSAGE_TEXTS = {"pin_wrong": "officer_pin_wrong", "pin_locked": "officer_pin_locked"}


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
        #: The notice over the screens: made by :meth:`make_notice` once the app's rules are loaded.
        self.notice: CounterNotice | None = None
        self._hide_notice = Clock.create_trigger(self._hide, self.notice_s)

    # -- following the flow (Kivy's thread, from the app's follow) ---------------------
    def refresh(self) -> None:
        """Show the flow's officer and invitation."""
        code = self.flow.officer or ""
        if code != self.officer_code:
            officer = self._officer(code)
            self.officer_name = (officer.name or code) if officer is not None else code
            self.officer_photo = photo_texture(officer.photo) if officer is not None else None
            self.officer_code = code
        invitation = self.flow.invitation_details
        dossier = invitation.dossier if invitation is not None else ""
        if dossier != self.dossier:
            self.dossier_short = invitation.on_screen if invitation is not None else ""
            self.dossier = dossier

    def _officer(self, code: str):
        officers = self.flow.officers
        if officers is None or not code:
            return None
        try:
            return officers.get(code)
        except Exception:  # the cache unreadable: the code stands in for the name
            log.exception("officer %s cannot be read from the cache", code)
            return None

    def _officer_name(self, code: str) -> str:
        officer = self._officer(code)
        return officer.name if officer is not None and officer.name else code

    # -- the sign-in screen ----------------------------------------------------------
    def open_signin(self) -> None:
        """The banner area was held: the officers' sign-in screen (presses meanwhile are stored as ``signin``;
        the flow closes it after a minute without a PIN tried)."""
        if not self.officers_enabled or self.app.servicing or self.app.out_of_service:
            return
        if self.flow.screen not in (HOME, INVITATION):
            return
        if self._call(self.flow.begin_signin) is not None:
            log.info("officer sign-in screen opened")

    def close_signin(self) -> None:
        if self._call(self.flow.end_signin) is not None:
            log.info("officer sign-in screen closed")

    def sign_in_with_pin(self, code: str, pin: str) -> None:
        """The sign-in screen's "Sign in": the flow checks the PIN; a refusal is said on the screen."""
        event = self._call(self.flow.check_pin, code, pin)
        if event is None:
            return
        if event.kind == "signed_in":
            self.close_signin()
            self._notice_officer("signed_in", event.officer)
            return
        seconds = math.ceil(self.flow.pin_pad.seconds_locked) or self.pin_lock_s
        self.app.root.get_screen(SIGNIN).show(self._message_key(event.message), seconds=seconds)

    def sign_out_by_screen(self) -> None:
        event = self._call(self.flow.sign_out, BY_SCREEN)
        if event is not None:
            self._notice_officer("signed_out", event.officer)
        self.close_signin()

    def sign_out_by_service(self) -> None:
        """The service screen's "sign the officer out" (e.g. a technician at the end of a shift nobody closed)."""
        if self._call(self.flow.sign_out, BY_SERVICE) is not None:
            self.refresh()

    # -- scans ---------------------------------------------------------------------
    def scanned(self, scan) -> None:
        """What the key capture read: a :class:`kiosk.scanner.Scan` or :class:`kiosk.scanner.PartialScan`."""
        if self.app.servicing:
            log.info("scan ignored: the service screen is up")
            return
        if not isinstance(scan, PartialScan):
            kind, _code = classify(scan.text, self.terminal.config)
            if kind == BADGE and not self.officers_enabled:
                self.show_notice("scan_badge_off")
                return
            if kind == DOSSIER and not self.dossier_enabled:
                self.show_notice("scan_dossier_off")
                return
            if kind == DOSSIER:
                self.close_signin()  # the officer scans the receipt: the invitation, not the PIN pad
        before = self.flow.officer
        event = self._call(self.flow.scan, scan)
        if event is None:
            if self.flow.deferred_dossier is not None:
                self.show_notice("scan_later")
            return
        log.info("scan: %s%s", event.kind, f" ({event.message})" if event.message else "")
        if event.kind == "refused":
            self.show_notice(self._message_key(event.message))
        elif event.kind == "signed_in":
            self.close_signin()
            self._notice_officer("signed_in", event.officer)
        elif event.kind == "signed_out":
            self.close_signin()
            self._notice_officer("signed_out", event.officer or before)
        else:
            self.refresh()

    def _call(self, action, *args):
        """A flow call; a store that refuses writes (a full disk) is a line in the log and the app's out-of-service
        state, never an error on the screen."""
        try:
            return action(*args)
        except StoreError as exc:
            log.warning("%s not done: %s", action.__name__.replace("_", " "), exc)
            self.app._follow_storage()
            return None

    @staticmethod
    def _message_key(message: str | None) -> str:
        return MESSAGE_TEXTS.get(message, message or "scan_unknown")

    # -- notices -------------------------------------------------------------------
    def _notice_officer(self, key: str, code: str | None) -> None:
        self.refresh()
        self.show_notice(key, name=self._officer_name(code) if code else "")

    def make_notice(self) -> CounterNotice:
        """The notice widget, for the app to put over its screens (after its .kv rules are loaded)."""
        self.notice = CounterNotice()
        return self.notice

    def _hide(self, _dt=None) -> None:
        if self.notice is not None:
            self.notice.shown = False

    def show_notice(self, key: str, **values) -> None:
        """One short sentence (a key of kiosk.texts) over the bottom of the screen for ``notice_s``."""
        log.info("notice: %s", key)
        if self.notice is None:
            return
        values.setdefault("seconds", self.pin_lock_s)
        self.notice.text = self.app.texts[key].format(**values)
        self.notice.shown = True
        self._hide_notice.timeout = self.notice_s
        self._hide_notice.cancel()
        self._hide_notice()

"""The Kivy app of the terminal: it shows the flow's screen and feeds it touches.

The app is given a running :class:`kiosk.terminal.Terminal` (store, flow,
panel, keyboard bridge) and builds none of them. The flow decides; the app
follows it:

- touches call ``flow.press`` / ``choose_reason`` / ``skip_reason``;
- every flow event (from Kivy's thread or a gpiozero thread) only fires a
  Clock trigger, and the screen is switched on Kivy's thread, before the next
  frame is drawn;
- ``flow.tick()`` runs ten times a second so the reason question and the
  thank-you end on time.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime
from pathlib import Path

from kivy.app import App
from kivy.base import ExceptionHandler, ExceptionManager
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import (AliasProperty, BooleanProperty, DictProperty, NumericProperty, ObjectProperty,
                             StringProperty)

import assets

from ..checks import check_renderer, pi_model
from ..flow import HOME, INVITATION, REASON, SIGNIN, THANKS
from ..ratings import RATINGS, VERY_SATISFIED
from ..scanner import ScanReader
from ..service_pin import check_pin
from ..settings_apply import changed_keys, needs_restart
from ..status import service_summary
from ..store import StoreError
from ..terminal import refused_press
from ..texts import button_label, buttons_words, other_language, screen_texts
from . import theme
from .button_test import ButtonTest
from .invitation import InvitationScreen
from .key_capture import KeyCapture, demo_scan
from .officer_desk import OfficerDesk
from .screens import HomeScreen, ReasonScreen, ServiceScreen, ThanksScreen
from .signin import SigninScreen
from .voice import ScreenVoice, VoicePlayer
from .widgets import ScreenSwitch

log = logging.getLogger(__name__)

UI_DIR = Path(__file__).parent
#: Shared widget rules first, then one file per screen.
KV_FILES = ("widgets.kv", "voice.kv", "home.kv", "reason.kv", "thanks.kv", "service.kv", "signin.kv", "invitation.kv")
SERVICE = "service"
ESCAPE = 27
#: An update switches only after the home screen has stood this long untouched (kiosk/updates.py).
QUIET_S = 10.0
#: Kivy key codes of the digit keys and the keypad digits.
DIGIT_KEYS = {**{ord(str(n)): str(n) for n in range(10)}, **{256 + n: str(n) for n in range(10)}}
#: The demo's scanner (``--mock-pins`` only): F2 and F3 type a staff badge of the demo's officers, F4 a dossier
#: code (a new one each time), as a burst ended by Enter, the way a USB scanner types them.
DEMO_KEYS = {283: "badge", 284: "badge_2", 285: "dossier"}


class KeepRunning(ExceptionHandler):
    """A citizen never sees a traceback: log the error, keep the screen running."""

    def handle_exception(self, inst):
        if isinstance(inst, (KeyboardInterrupt, SystemExit)):
            return ExceptionManager.RAISE
        log.error("unexpected error in the screens; the terminal keeps running",
                  exc_info=(type(inst), inst, inst.__traceback__))
        return ExceptionManager.PASS


def sync_state_of(state) -> str:
    """The indicator's word for an uploader's :class:`~sync.uploader.SyncState`."""
    if state.auth_refused:
        return "refused"
    if state.failures_in_a_row:
        return "failing"
    return "ok" if state.last_success_at else "failing"


class KioskApp(App):
    """The terminal's screens, wired to the objects of ``terminal``.

    ``windowed`` keeps a normal window with a cursor even when the config
    asks for kiosk mode (for demos and development).
    """

    language = StringProperty("vi")
    texts = DictProperty()
    site = StringProperty("")
    counter = StringProperty("")
    #: One hundredth of the window height (narrow windows: of width / 1.66);
    #: every size on the screens is a multiple of it.
    unit = NumericProperty(4.8)
    #: ``[display] large_text``: theme.LARGE_TEXT_SCALE, else 1.
    text_scale = NumericProperty(1.0)
    #: The unit of every font size (and of the boxes that hold words): ``unit`` × ``text_scale``.
    font_unit = AliasProperty(lambda self: self.unit * self.text_scale, bind=("unit", "text_scale"), cache=True)
    countdown_text = StringProperty("")
    #: ``[feedback] reason_warning_s``: the reason screen warns this long before it gives up (0: never).
    reason_warning_s = NumericProperty(5.0)
    #: True while the reason screen shows its time-out warning (the voice can bind to it too).
    reason_warning = BooleanProperty(False)
    #: The warning's words, with the seconds left ("Màn hình sẽ tự đóng sau 5 giây").
    warning_text = StringProperty("")
    service_enabled = BooleanProperty(False)
    service_hold_s = NumericProperty(3.0)
    #: Touches on the reason screen sooner than this after it appeared are
    #: ignored: the second tap of a double tap on "dissatisfied" is not a reason.
    reason_guard_s = NumericProperty(0.4)
    #: The sync indicator's state: off, ok, failing or refused (see theme.SYNC_DOT).
    sync_state = StringProperty("off")
    #: The service screen's last action outcome ("sync now"), in words.
    service_message = StringProperty("")
    #: True while the database refuses writes (e.g. a full disk): home says calmly that no rating is taken
    #: and shows no tiles; it comes back by itself when a write works again (see kiosk.storage_watch).
    out_of_service = BooleanProperty(False)
    #: The button and LED test (see :class:`kiosk.ui.button_test.ButtonTest`).
    button_test = ObjectProperty()
    #: The officer's side: who is signed in, the sign-in screen, scans (see kiosk.ui.officer_desk).
    desk = ObjectProperty()
    #: The spoken prompts' player (see :mod:`kiosk.ui.voice`); ``voice_on``: they can be heard ([voice]).
    voice = ObjectProperty()
    voice_on = BooleanProperty(False)
    #: Outside ``[hours] opening``: a discreet line under the question ("Ngoài giờ làm việc · …"), else "".
    hours_text = StringProperty("")
    #: Remote settings wait this long after the screen came back home before they are applied.
    settings_settle_s = NumericProperty(1.0)

    def __init__(self, terminal, *, windowed: bool = False, **kwargs):
        super().__init__(**kwargs)
        self._hours_checked_at = None
        self.terminal = terminal
        self.flow = terminal.flow
        self.keyboard = terminal.keyboard
        config = terminal.config
        self.kiosk_mode = config.display.kiosk and not windowed
        self.high_contrast = config.display.high_contrast
        self.large_text = config.display.large_text
        self.reason_warning_s = config.feedback.reason_warning_s
        self.default_language = config.terminal.language
        self.title = "Hài Lòng"
        self.icon = assets.path("faces/very_satisfied.png")
        self.site = config.terminal.site
        self.counter = config.terminal.counter
        self.service_enabled = bool(config.service.pin_hash)
        self.language = self.default_language
        self.texts = self._texts(self.language)
        self.use_kivy_settings = False
        self._screen_since = time.monotonic()
        self._follow = Clock.create_trigger(self._follow_flow, -1)  # before the next frame
        self._ticker = None
        self._listening = False
        self._exception_handler = KeepRunning()
        #: Why the app stopped: None (closed), "restart", "leave" or "update" (see kiosk.restart).
        self.exit_action = None
        self._drawn = False
        self._sync_asked = False
        self.button_test = ButtonTest(terminal.panel, without_panel=RATINGS)
        self.desk = OfficerDesk(self, terminal)
        self.key_capture = self._key_capture(terminal)
        self.voice = VoicePlayer(config.voice)
        self.voice_on = self.voice.audible
        self._screen_voice = ScreenVoice(self, self.voice)

    @property
    def servicing(self) -> bool:
        """A technician has the service screen up (PIN pad, status or button test): presses do not count."""
        return self.flow.in_service

    # -- building -------------------------------------------------------
    def build(self):
        # The palette and text scale every .kv rule reads (theme.TEXT, …): before any screen is built.
        theme.use(high_contrast=self.high_contrast, large_text=self.large_text)
        self.text_scale = theme.TEXT_SCALE
        for name in KV_FILES:
            path = str(UI_DIR / name)
            Builder.unload_file(path)  # a second app in one process must not stack rules
            Builder.load_file(path)
        Window.bind(size=self._resize)
        self._resize(Window, Window.size)
        screens = ScreenSwitch()
        screens.add_widget(HomeScreen(name=HOME))
        screens.add_widget(ReasonScreen(name=REASON, reasons=list(self.flow.reasons)))
        screens.add_widget(ThanksScreen(name=THANKS))
        screens.add_widget(ServiceScreen(name=SERVICE))
        screens.add_widget(SigninScreen(name=SIGNIN))
        screens.add_widget(InvitationScreen(name=INVITATION))
        return screens

    def on_start(self):
        ExceptionManager.add_handler(self._exception_handler)
        Window.clearcolor = theme.BACKGROUND
        if self.kiosk_mode:
            Window.show_cursor = False
            Window.allow_screensaver = False
        Window.bind(on_key_down=self._key_down, on_key_up=self._key_up,
                    on_keyboard=self._keyboard, on_request_close=self._request_close,
                    on_flip=self._first_frame)
        Window.add_widget(self.desk.notice or self.desk.make_notice())  # over every screen
        if not self._listening:
            self.flow.add_listener(self._on_flow_event)
            self._listening = True
        self._ticker = Clock.schedule_interval(self._tick, 0.1)
        self._follow_storage()
        self._follow_flow()
        self._screen_voice.start()
        # An uploader may arrive later (the disk was full at the start); asked for before looking, so that
        # one arriving in between is not missed (following it twice does no harm).
        self.terminal.when_uploader = self._on_uploader_arrived
        uploader = self.terminal.uploader
        if uploader is not None:
            self._follow_uploader(uploader)
        updates = getattr(self.terminal, "updates", None)
        if updates is not None:  # a roll-back decided in the updater's thread restarts from Kivy's
            updates.restart = lambda: Clock.schedule_once(lambda _dt: self._restart_for_update())

    def _follow_uploader(self, uploader) -> None:
        self.sync_state = sync_state_of(uploader.state)
        uploader.when_changed = self._on_sync_changed

    def _on_uploader_arrived(self, uploader) -> None:
        # The storage watch's thread: follow it on Kivy's thread.
        Clock.schedule_once(lambda _dt: self._follow_uploader(uploader))

    def on_stop(self):
        if self._ticker is not None:
            self._ticker.cancel()
        self._follow.cancel()
        Window.unbind(size=self._resize, on_key_down=self._key_down, on_key_up=self._key_up,
                      on_keyboard=self._keyboard, on_request_close=self._request_close,
                      on_flip=self._first_frame)
        ExceptionManager.remove_handler(self._exception_handler)
        Window.remove_widget(self.desk.notice)
        self._screen_voice.stop()

    def _first_frame(self, *_):
        # The technician's (and bench/footprint.py's) sign that the screens are up.
        Window.unbind(on_flip=self._first_frame)
        log.info("screens ready: first frame drawn (%s screen)", self.root.current if self.root else "no")
        self._drawn = True
        self.check_renderer()
        panel = self.terminal.panel
        held = panel.held_since_start() if panel is not None else []
        if held:
            log.info("%s held since the start: button test (no PIN needed, nothing stored)", ", ".join(held))
            self.open_button_test_from_buttons()

    def check_renderer(self, model: str | None | bool = False) -> None:
        """Read the GL renderer of the window, log the verdict and keep it for the service screen and `kiosk status`."""
        try:
            from kivy.graphics.opengl import GL_RENDERER, glGetString

            renderer = glGetString(GL_RENDERER)
            renderer = renderer.decode("utf-8", "replace") if isinstance(renderer, bytes) else str(renderer)
        except Exception as exc:  # a GL without the call: say so, keep running
            log.warning("the GL renderer cannot be read (%s)", exc)
            return
        check = check_renderer(renderer, pi_model=pi_model() if model is False else model)
        (log.info if check.ok else log.warning)("startup check renderer: %s", check.message)
        self.terminal.checks = [c for c in self.terminal.checks if c.name != "renderer"] + [check]
        try:
            self.terminal.store.set_meta(gl_renderer=renderer)
        except StoreError as exc:
            log.warning("cannot keep the GL renderer for `kiosk status`: %s", exc)
        except Exception:
            log.exception("cannot keep the GL renderer in the database")

    def open_settings(self, *largs):
        return False  # no Kivy settings panel on a kiosk (F1)

    def _resize(self, _window, size) -> None:
        width, height = size
        self.unit = min(height / 100, width / 166)

    # -- what the screens call ------------------------------------------
    def face(self, rating: str) -> str:
        """Path of the face image of ``rating``."""
        return assets.path(f"faces/{rating if rating in RATINGS else VERY_SATISFIED}.png")

    def rate(self, rating: str) -> None:
        """A rating tile was touched."""
        # Touches count only while the flow is home: a touchscreen that sends
        # one touch twice (mouse emulation + touch) must not store a second press.
        if self.servicing or self.out_of_service or self.flow.screen not in (HOME, INVITATION):
            log.debug("touch on %s ignored: the flow is on %s", rating, self.flow.screen)
            return
        self._storing("touch", self.flow.press, rating, source="touch")

    def choose_reason(self, reason: str) -> None:
        if self._reason_touch_allowed():
            self._storing("reason touch", self.flow.choose_reason, reason, source="touch")

    def skip_reason(self) -> None:
        if self._reason_touch_allowed():
            self._storing("skip touch", self.flow.skip_reason, source="touch")

    def _storing(self, what: str, action, *args, **kwargs) -> None:
        """Run a flow input; a press the store refuses is one line in the log and the out-of-service state."""
        try:
            action(*args, **kwargs)
        except StoreError as exc:
            refused_press(what, exc)
            self._follow_storage()

    def listen(self) -> None:
        """The home screen's "listen" button: the question and the three choices, spoken."""
        self._screen_voice.help()

    def play_prompt(self, name: str) -> None:
        """The service screen's voice list: play prompt ``name`` in the screens' language."""
        self.voice.speak([name], self.language)

    def toggle_language(self) -> None:
        self.language = other_language(self.language)

    def on_language(self, _app, language) -> None:
        self.texts = self._texts(language)
        self._update_countdown()
        self._update_hours(force=True)

    def _texts(self, language: str) -> dict:
        """The screens' texts in ``language``, with the office's own wording (``[texts]``) where it has one."""
        return screen_texts(language, self.terminal.config.texts.custom(language))

    def _update_hours(self, *, force: bool = False) -> None:
        """Outside the opening hours, home says so in one discreet line (presses are still taken); looked at
        every 20 s."""
        now = time.monotonic()
        if not force and self._hours_checked_at is not None and now - self._hours_checked_at < 20:
            return
        self._hours_checked_at = now
        config = self.terminal.config
        try:
            hours = config.hours.hours
            closed = hours is not None and not hours.is_open(datetime.now().astimezone())
        except ValueError:  # checked with the config: cannot happen, and must never stop the screens
            closed = False
        self.hours_text = self.texts["outside_hours"].format(hours=hours.describe(self.language)) if closed else ""

    # -- remote settings (issue 13) ---------------------------------------
    def _apply_offered_settings(self) -> None:
        """Apply the remote settings the uploader handed over, at a quiet moment on the home screen: never
        while a citizen is rating (reason question, thank-you, invitation, a press being stored)."""
        offer = self.terminal.settings_offer.peek()
        if offer is None or self.servicing or self.out_of_service or self.root is None \
                or self.root.current != HOME or time.monotonic() - self._screen_since < self.settings_settle_s:
            return
        self.flow.when_quiet(lambda: self._apply_settings(offer))

    def _apply_settings(self, offer) -> None:
        # Under the flow's lock (RatingFlow.when_quiet): no press is stored meanwhile.
        changed = changed_keys(self.terminal.config, offer.config)
        try:
            self.terminal.store.note_settings_applied(offer.version, offer.values)
        except StoreError as exc:
            log.warning("remote settings %s not applied yet: %s", offer.version, exc)
            return
        self.terminal.settings_offer.take(offer)
        uploader = self.terminal.uploader
        if needs_restart(changed):
            log.info("remote settings %s applied (%s); the screens start again to show them", offer.version,
                     ", ".join(sorted(changed)))
            self.exit_action = "restart"
            Clock.schedule_once(lambda _dt: self.stop())
            return
        self.terminal.config = offer.config
        self.flow.follow_config(offer.config)
        self.reason_warning_s = offer.config.feedback.reason_warning_s
        self.default_language = offer.config.terminal.language
        self.root.get_screen(REASON).reasons = list(offer.config.feedback.reasons)
        if "terminal.language" in changed:  # else a citizen who just switched language keeps theirs
            self.language = self.default_language
        self.texts = self._texts(self.language)
        self._update_hours(force=True)
        log.info("remote settings %s applied on the home screen (%s)", offer.version,
                 ", ".join(sorted(changed)) or "nothing changed on screen")
        if uploader is not None:
            uploader.send_now()  # the server hears the version applied now, not at the next heartbeat

    def _reason_touch_allowed(self) -> bool:
        return (not self.servicing and self.root.current == REASON
                and time.monotonic() - self._screen_since >= self.reason_guard_s)

    # -- service screen -------------------------------------------------
    def open_service(self) -> None:
        """The top-left corner was held: ask for the PIN (when a PIN is set)."""
        if not self.service_enabled or self.root.current != HOME:
            return
        log.info("service screen opened")
        self.flow.begin_service()
        self.root.current = SERVICE

    def check_service_pin(self, pin: str) -> bool:
        ok = check_pin(pin, self.terminal.config.service.pin_hash)
        log.info("service PIN %s", "accepted" if ok else "refused")
        return ok

    def status_text(self) -> str:
        try:
            status = self.terminal.status()
            panel = self.terminal.panel
            if panel is not None:  # the buttons in the screen's words, not the log's
                pins = {name: button.pin.info.name for name, button in panel.buttons.items()}
                status["hardware"] = buttons_words(pins, self.language, mock=self.keyboard is not None)
            return service_summary(status, language=self.language)
        except Exception as exc:  # a technician needs words, even when the database fails
            log.exception("cannot read the terminal's status")
            return f"The status cannot be read: {exc}"

    def close_service(self) -> None:
        """Back to the citizens: the flow starts again from home."""
        self.button_test.end()
        self.service_message = ""
        self.flow.end_service()
        self.language = self.default_language
        self.root.current = self.flow.screen
        self._screen_since = time.monotonic()

    def leave_kiosk(self) -> None:
        log.info("leaving kiosk mode from the service screen")
        self.exit_action = "leave"
        self.stop()

    def restart_app(self) -> None:
        """Stop the screens; ``kiosk run`` then closes everything and starts itself again."""
        log.info("restart asked from the service screen")
        self.exit_action = "restart"
        self.stop()

    def sync_now(self) -> None:
        """Ask the uploader to send now; the outcome is shown when it has tried."""
        uploader = self.terminal.uploader
        if uploader is None:
            self.service_message = self.texts["sync_off"].format(why=self.terminal.sync_note)
            return
        self._sync_asked = True
        self.service_message = self.texts["sync_sending"]
        uploader.send_now()

    # -- button and LED test ----------------------------------------------
    def open_button_test_from_buttons(self) -> None:
        """For a terminal without a touchscreen: a button held while the terminal starts opens the button test
        alone (no PIN: it shows nothing but the buttons and stores nothing); it closes by itself, back home."""
        self.flow.begin_service()
        self.root.current = SERVICE
        self.root.get_screen(SERVICE).open_button_test()

    def button_label(self, name: str) -> str:
        """The words on the button test's tile of button ``name``, in the screen's language."""
        return button_label(name, self.flow.reasons, self.language)

    # -- following the flow ---------------------------------------------
    def _on_sync_changed(self, state, _pending) -> None:
        # The uploader's thread: compute the word there, set it on Kivy's thread.
        word = sync_state_of(state)
        error = state.last_error
        # The server asked to wait (busy): not a failure; said with the time of the next try.
        busy_until = state.server_wait_until if state.server_wait_cause == "busy" else None

        def show(_dt):
            self.sync_state = word
            if self._sync_asked:
                self._sync_asked = False
                self.service_message = (self.texts["sync_busy"].format(at=f"{busy_until[11:19]} UTC") if busy_until
                                        else self.texts["sync_failed"].format(error=error) if error
                                        else self.texts["sync_ok"].format(pending=_pending))
                self.root.get_screen(SERVICE).refresh()

        Clock.schedule_once(show)

    def _on_flow_event(self, event) -> None:
        # Any thread, under the flow's lock: only hand over to Kivy's thread.
        self._follow()

    def _follow_storage(self) -> None:
        """Out of service while the store refuses writes; back to the flow's screen when it takes them again."""
        refusing = self.terminal.store.refusing
        if (refusing is not None) == self.out_of_service:
            return
        self.out_of_service = refusing is not None
        if self.out_of_service:
            log.warning("screens: out of service, no rating is taken (%s)", refusing)
        else:
            log.info("screens: taking ratings again")
        self._follow_flow()

    def _follow_flow(self, *_) -> None:
        if self.root is None:
            return
        self.desk.refresh()
        if self.servicing:
            return
        # Out of service: home says so, whatever the flow was showing (no thank-you for a press not stored).
        target = HOME if self.out_of_service else self.flow.screen
        if target != self.root.current:
            if target == HOME:
                self.language = self.default_language
            self.root.current = target
            self._screen_since = time.monotonic()
        self._update_countdown()  # also on the flow's own `warning` event, without a screen change

    def _tick(self, _dt) -> None:
        self._follow_storage()
        self._apply_offered_settings()
        self._update_hours()
        if not self.out_of_service:  # an open question is sealed once writes work again
            try:
                self.flow.tick()
            except StoreError:
                self._follow_storage()
        if self.key_capture is not None:  # time alone ends a burst or gives typed keys back
            self.key_capture.poll(time.monotonic())
        self._update_countdown()
        self._updates_tick()

    def _updates_tick(self) -> None:
        """An update's two needs from the screens: the home screen drawn (its trial), a quiet moment (its switch)."""
        updates = getattr(self.terminal, "updates", None)
        if updates is None or not self._drawn or self.root is None:
            return
        at_home = (self.root.current == HOME and self.flow.screen == HOME and not self.servicing
                   and not self.out_of_service)
        if not at_home:
            return
        if not updates.home_seen:
            updates.home_drawn()
        if time.monotonic() - self._screen_since >= QUIET_S and updates.switch_if_ready():
            self._restart_for_update()

    def _restart_for_update(self) -> None:
        log.info("restarting for the update (switch or roll-back)")
        self.exit_action = "update"
        self.stop()

    def _update_countdown(self) -> None:
        left = self.flow.seconds_left if self.root is not None and self.root.current == REASON else None
        self.countdown_text = "" if left is None else self.texts["countdown"].format(seconds=math.ceil(left))
        # The warning follows the screen's own countdown, so it shows whether or not the flow sends a `warning`
        # event: from reason_warning_s before the end until the screen closes.
        warning = left is not None and 0 < left <= self.reason_warning_s
        self.warning_text = (self.texts["reason_warning"].format(seconds=max(1, math.ceil(left)))
                             if warning else "")
        if warning != self.reason_warning:
            self.reason_warning = warning
            if warning:
                log.info("reason screen: time-out warning, %.1f s left", left)

    # -- keyboard and window --------------------------------------------
    def _key_capture(self, terminal) -> KeyCapture | None:
        """Scans are read from the keys when this terminal signs officers in or takes dossier codes;
        otherwise the keys drive the mock pins directly, as they always did."""
        if not (self.desk.officers_enabled or self.desk.dossier_enabled):
            return None
        reader = ScanReader()
        terminal.flow.scanner = reader  # a press while a burst is read is not counted (cause signin)
        self._poll_keys = Clock.create_trigger(lambda _dt: self.key_capture.poll(time.monotonic()),
                                               reader.max_gap_s * 1.5)
        return KeyCapture(reader, when_scan=self.desk.scanned, when_partial=self.desk.scanned,
                          when_key_down=self._typed_down, when_key_up=self._typed_up)

    def _key_down(self, _window, key, _scancode=None, codepoint=None, modifiers=None, *args):
        at = time.monotonic()  # the time the key reached the window: a scanner's burst is milliseconds apart
        if self.key_capture is None:
            self._typed_down(DIGIT_KEYS.get(key))
            return True  # no key reaches Kivy's defaults (Escape quits, F1 opens settings)
        demo = DEMO_KEYS.get(key) if self.keyboard is not None else None
        if demo is not None:  # the demo's stand-in for a scanner (mock pins only)
            self.key_capture.type_burst(demo_scan(demo), at)
            return True
        self.key_capture.key_down(key, codepoint, modifiers or (), at)
        self._poll_keys.cancel()
        self._poll_keys()
        return True

    def _key_up(self, _window, key, *args):
        if self.key_capture is None:
            self._typed_up(DIGIT_KEYS.get(key))
        else:
            self.key_capture.key_up(key, time.monotonic())
        return True

    def _typed_down(self, char: str | None) -> None:
        """A key a person typed (not a scanner's burst): digits press the mock pins."""
        if char is not None and char in DIGIT_KEYS.values() and self.keyboard is not None:
            self.keyboard.key_down(char)

    def _typed_up(self, char: str | None) -> None:
        if char is not None and char in DIGIT_KEYS.values() and self.keyboard is not None:
            self.keyboard.key_up(char)

    def _keyboard(self, _window, key, *args):
        return key == ESCAPE  # Escape never quits

    def _request_close(self, _window, *args, source=None, **kwargs):
        # Escape (source "keyboard") never closes. A plain quit request is let
        # through: SDL turns SIGTERM into one, and `systemctl stop` must stop
        # the terminal cleanly (a kiosk has no title bar to close it by).
        return source == "keyboard"

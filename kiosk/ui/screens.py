"""The four screens; their layouts are in ``home.kv``, ``reason.kv``, ``thanks.kv``, ``service.kv``.

Screens hold only what they show. What a touch means is decided by the app
(:class:`kiosk.ui.app.KioskApp`), which owns the flow.
"""

from __future__ import annotations

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from .voice import PromptRow, prompt_rows
from .widgets import ButtonLamp, ReasonButton


class HomeScreen(Screen):
    """Site, counter, the question and the three rating tiles."""


class ReasonScreen(Screen):
    """The configured reasons as large buttons, "skip" and a countdown."""

    reasons = ListProperty()

    def on_kv_post(self, base_widget):
        self._fill()

    def on_reasons(self, *_):
        self._fill()

    def _fill(self) -> None:
        grid = self.ids.get("reasons")
        if grid is None:
            return
        grid.clear_widgets()
        grid.cols = 1 if len(self.reasons) <= 3 else 2
        for code in self.reasons:
            grid.add_widget(ReasonButton(code=code))


class ThanksScreen(Screen):
    """The thank-you, with the face the citizen chose."""


class ServiceScreen(Screen):
    """PIN pad, then the terminal's status and actions for a technician; the button test; the voice list.

    Three wrong PINs in a row close the screen.
    """

    entered = StringProperty("")
    masked = StringProperty("")
    message_key = StringProperty("")
    unlocked = BooleanProperty(False)
    status_text = StringProperty("")
    failures = NumericProperty(0)

    max_digits = 12
    max_failures = 3

    def on_pre_enter(self, *_):
        self.entered = ""
        self.message_key = ""
        self.unlocked = False
        self.status_text = ""
        self.failures = 0

    def on_kv_post(self, base_widget):
        App.get_running_app().button_test.bind(testing=self._on_testing, seen=self._light_lamps)

    def on_unlocked(self, _screen, unlocked):
        self.ids.panels.current = "status" if unlocked else "pin"

    def open_button_test(self) -> None:
        app = App.get_running_app()
        test = app.button_test
        test.start()
        lamps = self.ids.lamps
        lamps.clear_widgets()
        lamps.cols = 3 if len(test.names) <= 3 else 4
        for name in test.names:
            lamps.add_widget(ButtonLamp(name=name, text=app.button_label(name)))
        self.ids.panels.current = "buttons"

    def lamp(self, name: str) -> ButtonLamp:
        return next(w for w in self.ids.lamps.children if w.name == name)

    def _light_lamps(self, _test, seen) -> None:
        for lamp in self.ids.lamps.children:
            lamp.lit = bool(seen.get(lamp.name))

    def _on_testing(self, _test, testing) -> None:
        if testing:
            return
        app = App.get_running_app()
        if self.unlocked:
            self.ids.panels.current = "status"
            self.refresh()
        elif app.servicing and app.root.current == self.name:
            # Opened by a button held at start (no PIN): the test was all there was; back to the citizens.
            Clock.schedule_once(lambda _dt: app.close_service())

    def on_entered(self, _screen, value):
        self.masked = " ".join("\u2022" * len(value))

    def add_digit(self, digit: str) -> None:
        if len(self.entered) < self.max_digits:
            self.entered += digit
            self.message_key = ""

    def clear(self) -> None:
        self.entered = ""

    def submit(self) -> None:
        app = App.get_running_app()
        if app.check_service_pin(self.entered):
            self.entered = ""
            self.message_key = ""
            self.unlocked = True
            self.refresh()
            return
        self.entered = ""
        self.failures += 1
        self.message_key = "pin_wrong"
        if self.failures >= self.max_failures:
            app.close_service()

    def refresh(self) -> None:
        self.status_text = App.get_running_app().status_text()

    # -- the voice list ("play each") ------------------------------------------
    def open_voice_list(self) -> None:
        app = App.get_running_app()
        rows = self.ids.voice_rows
        rows.clear_widgets()
        if app.voice_on:
            for row in prompt_rows(app.voice, app.language):
                rows.add_widget(PromptRow(**row))
        app.voice.unbind(speaking=self._mark_playing)  # opened again (another language): bound once
        app.voice.bind(speaking=self._mark_playing)
        self.ids.panels.current = "voice"

    def switch_voice_language(self) -> None:
        app = App.get_running_app()
        app.voice.stop()
        app.toggle_language()
        self.open_voice_list()

    def close_voice_list(self) -> None:
        app = App.get_running_app()
        app.voice.stop()
        app.voice.unbind(speaking=self._mark_playing)
        self.ids.panels.current = "status"
        self.refresh()

    def prompt_row(self, name: str) -> PromptRow:
        return next(w for w in self.ids.voice_rows.children if w.name == name)

    def _mark_playing(self, _player, speaking) -> None:
        for row in self.ids.voice_rows.children:
            row.playing = row.name == speaking

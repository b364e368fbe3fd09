"""The officer's sign-in screen (layout in ``signin.kv``): staff code and PIN on big keys, or a badge scan.

The screen holds what is typed; the app's :class:`~kiosk.ui.officer_desk.OfficerDesk` checks it with the flow
and says what went wrong. The staff code may hold letters (``[A-Za-z0-9._-]``), so the pad switches between
digits and letters; the PIN is digits only.
"""

from __future__ import annotations

import string

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from .widgets import PinKey

CODE, PIN = "code", "pin"
DIGIT_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9")
LETTER_KEYS = tuple(string.ascii_uppercase) + (".", "-", "_")
#: The pad's two special keys, by name (their words come from the texts).
SWITCH, CLEAR = "switch", "clear"


class SigninScreen(Screen):
    """Staff code and PIN, the pad, the message of the last try; "sign out" when an officer is signed in."""

    code = StringProperty("")
    pin = StringProperty("")
    masked = StringProperty("")
    #: The field the pad types into: ``code`` or ``pin``.
    field = StringProperty(CODE)
    letters = BooleanProperty(False)
    #: The text key of the message shown (see kiosk.texts), and its values.
    message_key = StringProperty("")
    message_seconds = StringProperty("")

    max_code = 32
    max_pin = 12

    def on_pre_enter(self, *_):
        self.reset()

    def reset(self) -> None:
        self.code = ""
        self.pin = ""
        self.field = CODE
        self.letters = False
        self.message_key = ""

    def on_kv_post(self, base_widget):
        self._fill_pad()

    def on_letters(self, *_):
        self._fill_pad()

    def on_field(self, _screen, field):
        if field == PIN and self.letters:
            self.letters = False  # a PIN is digits only

    def on_pin(self, _screen, value):
        self.masked = " ".join("\u2022" * len(value))

    def _fill_pad(self) -> None:
        pad = self.ids.get("pad")
        if pad is None:
            return
        pad.clear_widgets()
        if self.letters:
            pad.cols = 8
            keys = LETTER_KEYS + (SWITCH, CLEAR)
        else:
            pad.cols = 3
            keys = DIGIT_KEYS + (SWITCH, "0", CLEAR)
        texts = App.get_running_app().texts
        words = {SWITCH: texts["keys_digits" if self.letters else "keys_letters"], CLEAR: texts["pin_clear"]}
        for key in keys:
            pad.add_widget(SigninKey(key=key, text=words.get(key, key), special=key in words))

    def key(self, key: str) -> None:
        """A key of the pad was touched."""
        if key == SWITCH:
            if self.field == CODE:
                self.letters = not self.letters
            return
        if key == CLEAR:
            if self.field == PIN:
                self.pin = self.pin[:-1]
            else:
                self.code = self.code[:-1]
            return
        self.message_key = ""
        if self.field == PIN:
            if key.isdigit() and len(self.pin) < self.max_pin:
                self.pin += key
        elif len(self.code) < self.max_code:
            self.code += key

    def submit(self) -> None:
        """"Sign in": from the code field, on to the PIN; from the PIN, check both."""
        if self.field == CODE and self.code and not self.pin:
            self.field = PIN
            return
        if not self.code or not self.pin:
            self.message_key = "signin_need_code"
            self.field = CODE if not self.code else PIN
            return
        code, pin = self.code, self.pin
        self.pin = ""
        App.get_running_app().desk.sign_in_with_pin(code, pin)

    def show(self, message_key: str, *, seconds: int | None = None) -> None:
        """Say why the last try failed (a key of kiosk.texts)."""
        self.message_key = message_key
        self.message_seconds = "" if seconds is None else str(seconds)


class SigninKey(PinKey):
    """A key of the sign-in pad: a digit, a letter, or one of :data:`SWITCH` / :data:`CLEAR`."""

    key = StringProperty("")
    special = BooleanProperty(False)

"""Widgets of the officer's side of the screens: the banner on home and the short notice after a scan."""

from __future__ import annotations

from kivy.properties import BooleanProperty
from kivy.uix.boxlayout import BoxLayout

from .widgets import BorderedLabel, CornerHold


class OfficerBanner(CornerHold, BoxLayout):
    """Home's "Cán bộ tiếp nhận: <name>" (with the photo when there is one) in the header; empty when nobody
    is signed in. Held for ``hold_s`` it fires ``on_hold`` (the sign-in screen), like the service corner."""


class CounterNotice(BorderedLabel):
    """A short plain sentence over the bottom of any screen after a scan (signed in, not a badge, read in
    part, ...), gone after a few seconds. It takes no touch: presses go to the screen below."""

    shown = BooleanProperty(False)

    def on_touch_down(self, touch):
        return False

    def on_touch_up(self, touch):
        return False

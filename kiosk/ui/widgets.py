"""Widgets the screens share; their looks are in ``widgets.kv``."""

from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.screenmanager import NoTransition, ScreenManager
from kivy.uix.widget import Widget


class ScreenSwitch(ScreenManager):
    """Screens that switch at once: the old screen is gone before the next frame.

    A plain ScreenManager with NoTransition keeps the old screen for one more
    frame (drawn under the new one, and refusing touches); here the new screen
    alone is drawn in the very frame after the switch.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("transition", NoTransition())
        super().__init__(**kwargs)

    def on_current(self, instance, value):
        previous = self.current_screen
        super().on_current(instance, value)
        if self.transition.is_active:
            self.transition.stop()  # removes the old screen now
            self.current_screen.dispatch("on_enter")
            previous.dispatch("on_leave")


class Bordered(Widget):
    """A rounded surface with an outline, drawn once in ``widgets.kv`` for every widget that has one."""

    fill_color = ColorProperty()
    border_color = ColorProperty()
    border_width = NumericProperty(1)
    corner_radius = NumericProperty(8)


class BorderedLabel(Bordered, Label):
    """A label on a bordered surface (the PIN's dots)."""


class RatingTile(ButtonBehavior, Bordered, BoxLayout):
    """One third of the home screen: a face and its label; ``code`` is the rating."""

    code = StringProperty("")


class ReasonButton(Bordered, Button):
    """A reason on the reason screen; ``code`` is the reason code."""

    code = StringProperty("")


class KioskButton(Bordered, Button):
    """A large flat button; ``primary`` ones are filled with the brand colour."""

    primary = BooleanProperty(False)


class PinKey(KioskButton):
    """A key of the service screen's PIN pad."""


class ButtonLamp(KioskButton):
    """A tile of the button test: ``name`` is the button, ``lit`` once it was pressed (or touched)."""

    name = StringProperty("")
    lit = BooleanProperty(False)


class CornerHold(Widget):
    """An invisible area that fires ``on_hold`` after being held ``hold_s`` seconds.

    Nothing shows that it is there: it opens the service screen for a
    technician who knows. When not ``enabled`` it lets touches through.
    """

    hold_s = NumericProperty(3.0)
    enabled = BooleanProperty(True)

    __events__ = ("on_hold",)

    def on_touch_down(self, touch):
        if not self.enabled or not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        touch.grab(self)
        touch.ud[self] = Clock.schedule_once(lambda dt: self.dispatch("on_hold"), self.hold_s)
        return True

    def on_touch_move(self, touch):
        if touch.grab_current is self:
            if not self.collide_point(*touch.pos):
                self._cancel(touch)
            return True
        return super().on_touch_move(touch)

    def on_touch_up(self, touch):
        if touch.grab_current is self:
            self._cancel(touch)
            touch.ungrab(self)
            return True
        return super().on_touch_up(touch)

    def _cancel(self, touch) -> None:
        event = touch.ud.pop(self, None)
        if event is not None:
            event.cancel()

    def on_hold(self):
        pass

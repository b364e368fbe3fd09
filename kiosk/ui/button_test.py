"""The button and LED test of the service screen: each press lights its tile and its LED; nothing is stored.

While the test is open the panel's callbacks are its own, so a press reaches
the test and never the rating flow; :meth:`ButtonTest.end` gives them back.
"""

from __future__ import annotations

import logging

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, DictProperty, ListProperty, NumericProperty

log = logging.getLogger(__name__)


class ButtonTest(EventDispatcher):
    """The test of ``panel``'s buttons (a :class:`hardware.ButtonPanel`, or None: the tiles of
    ``without_panel`` are tested by touch alone)."""

    #: The buttons to press, and those seen so far.
    names = ListProperty()
    seen = DictProperty()
    testing = BooleanProperty(False)
    #: After every button was seen, the test closes itself after this long.
    done_s = NumericProperty(3.0)
    #: With no press for this long the test closes itself (a dead button and no touchscreen).
    idle_s = NumericProperty(60.0)

    def __init__(self, panel, *, without_panel=(), **kwargs):
        super().__init__(**kwargs)
        self.panel = panel
        self.without_panel = list(without_panel)
        self._saved_callbacks = None
        self._closing = None
        self._idle = Clock.create_trigger(lambda _dt: self.end(), self.idle_s)

    @property
    def all_seen(self) -> bool:
        return bool(self.names) and len(self.seen) == len(self.names)

    def start(self) -> None:
        """Take the panel's buttons over and wait for presses (or touches on the tiles)."""
        panel = self.panel
        self.seen = {}
        self.names = list(panel.buttons) if panel is not None else list(self.without_panel)
        if panel is not None and self._saved_callbacks is None:
            self._saved_callbacks = (panel.when_rating, panel.when_reason, panel.when_skip)
            panel.when_rating = self._press_from_button
            panel.when_reason = lambda number: self._press_from_button(f"reason_{number}")
            panel.when_skip = lambda: self._press_from_button("skip")
        self.testing = True
        self._idle.timeout = self.idle_s
        self._idle()
        log.info("button test started: %s", ", ".join(self.names))

    def _press_from_button(self, name: str) -> None:
        # gpiozero's thread: hand over to Kivy's.
        Clock.schedule_once(lambda _dt: self.press(name, source="button"))

    def press(self, name: str, *, source: str = "touch") -> None:
        """Button ``name`` was pressed (or its tile touched): light it and its LED, and beep."""
        if not self.testing or name not in self.names:
            return
        self.seen[name] = True
        self._idle.cancel()
        self._idle()
        if self.panel is not None:
            self.panel.show_rating(name, beep=True)  # its LED, where it has one, and a beep
        log.info("button test: %s seen (%s)", name, source)
        if self.all_seen and self._closing is None:
            self._closing = Clock.schedule_once(lambda _dt: self.end(), self.done_s)

    def end(self) -> None:
        """Close the test and give the buttons back to the rating flow."""
        self._idle.cancel()
        if self._closing is not None:
            self._closing.cancel()
            self._closing = None
        panel = self.panel
        if panel is not None and self._saved_callbacks is not None:
            panel.when_rating, panel.when_reason, panel.when_skip = self._saved_callbacks
            self._saved_callbacks = None
        if self.testing:
            log.info("button test ended: %d of %d buttons seen", len(self.seen), len(self.names))
        self.testing = False

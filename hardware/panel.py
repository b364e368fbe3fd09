"""The button panel: rating buttons, optional reason and skip buttons, LEDs, buzzer."""

from __future__ import annotations

import logging
import queue
import threading
import time
import warnings
from typing import Callable, Mapping, Sequence

from gpiozero import LED, Button, Buzzer
from gpiozero.exc import PinFactoryFallback

from .debounce import Debouncer
from .errors import HardwareError, NoGpioError
from .probe import no_gpio_message

log = logging.getLogger(__name__)


class ButtonPanel:
    """The physical side of a terminal.

    ``when_rating(code)``, ``when_reason(number)`` (1-based) and ``when_skip()``
    are called from gpiozero's threads (or the caller's, with MockFactory) and
    must only hand the event on. Rating codes are the keys of ``rating_pins``.

        >>> from gpiozero.pins.mock import MockFactory
        >>> panel = ButtonPanel(rating_pins={"satisfied": 27}, pin_factory=MockFactory())
        >>> seen = []; panel.when_rating = seen.append
        >>> panel.buttons["satisfied"].pin.drive_low(); seen
        ['satisfied']
        >>> panel.close()
    """

    def __init__(self, *, rating_pins: Mapping[str, int], reason_pins: Sequence[int] = (),
                 skip_pin: int | None = None, led_pins: Mapping[str, int] | None = None,
                 buzzer_pin: int | None = None, bounce_s: float = 0.05, led_on_s: float = 1.5,
                 beep_s: float = 0.08, clock: Callable[[], float] = time.monotonic,
                 pin_factory=None):
        self.when_rating: Callable[[str], None] | None = None
        self.when_reason: Callable[[int], None] | None = None
        self.when_skip: Callable[[], None] | None = None
        self.led_on_s = led_on_s
        self.beep_s = beep_s
        self.debouncer = Debouncer(bounce_s, clock=clock)
        self.buttons: dict[str, Button] = {}
        #: Buttons already held down when the panel was set up (no press edge was seen for them).
        self.held_at_start: set[str] = set()
        self.leds: dict[str, LED] = {}
        self.buzzer: Buzzer | None = None
        # gpiozero warns once per default factory it falls back from (lgpio, RPi.GPIO, pigpio, native): kept
        # for the log when one loads; when none does, one sentence (no_gpio_message) says why instead.
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", PinFactoryFallback)
            self._set_up(rating_pins, reason_pins, skip_pin, led_pins, buzzer_pin, pin_factory)
        for warning in seen:
            if issubclass(warning.category, PinFactoryFallback):
                log.info("gpiozero: %s", warning.message)
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        # Blinking stops and starts gpiozero threads: done here, off the press path.
        self._feedback: queue.Queue = queue.Queue()
        self._feedback_thread = threading.Thread(target=self._give_feedback, name="panel-feedback",
                                                 daemon=True)
        self._feedback_thread.start()

    def _set_up(self, rating_pins, reason_pins, skip_pin, led_pins, buzzer_pin, pin_factory) -> None:
        try:
            for code, pin in rating_pins.items():
                self._add_button(code, pin, pin_factory, lambda code=code: self._fire(self.when_rating, code))
            for number, pin in enumerate(reason_pins, start=1):
                self._add_button(f"reason_{number}", pin, pin_factory,
                                 lambda number=number: self._fire(self.when_reason, number))
            if skip_pin is not None:
                self._add_button("skip", skip_pin, pin_factory, lambda: self._fire(self.when_skip))
            for code, pin in (led_pins or {}).items():
                self.leds[code] = LED(pin, pin_factory=pin_factory)
            if buzzer_pin is not None:
                self.buzzer = Buzzer(buzzer_pin, pin_factory=pin_factory)
        except ImportError as exc:
            # BadPinFactory, or the module of the factory GPIOZERO_PIN_FACTORY
            # names (lgpio without the [pi] extra) is not installed.
            self.close()
            raise NoGpioError(no_gpio_message(pin_factory, exc)) from None
        except Exception as exc:  # GPIOZeroError, or a factory's own error (lgpio.error)
            self.close()
            raise HardwareError(f"cannot set up the pins: {exc}") from None

    @classmethod
    def from_config(cls, config, *, clock: Callable[[], float] = time.monotonic, pin_factory=None):
        """The panel a terminal's config describes (duck-typed: kiosk.config.Config)."""
        return cls(
            rating_pins=config.pins.rating_pins(), reason_pins=config.pins.reasons,
            skip_pin=config.pins.skip, led_pins=config.leds.rating_pins(),
            buzzer_pin=config.buzzer.pin, bounce_s=config.pins.bounce_s,
            led_on_s=config.leds.on_s, beep_s=config.buzzer.beep_s,
            clock=clock, pin_factory=pin_factory,
        )

    def _add_button(self, name: str, pin: int, pin_factory, on_press: Callable[[], None]) -> None:
        # bounce_time=None: our Debouncer filters, with a clock tests control.
        button = Button(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory)
        button.when_pressed = lambda: self.debouncer.accept(name) and on_press()
        button.when_released = lambda: self.debouncer.accept(name) and None
        if button.is_pressed:
            self.held_at_start.add(name)
        self.buttons[name] = button

    def held_since_start(self) -> list[str]:
        """The buttons held down since the panel was set up and not let go: a technician's sign
        (hold a button while the terminal starts) to open the button test without a touchscreen."""
        return [name for name in self.held_at_start
                if name in self.buttons and self.buttons[name].is_pressed]

    @staticmethod
    def _fire(callback, *args) -> None:
        if callback is not None:
            callback(*args)

    # -- feedback -------------------------------------------------------
    def show_rating(self, code: str, *, beep: bool = True) -> None:
        """Light the LED of ``code`` for a moment and beep; returns at once."""
        self._feedback.put((code, beep))

    def _give_feedback(self) -> None:
        while (item := self._feedback.get()) is not None:
            try:
                self._light(*item)
            except Exception:  # a closed device during shutdown
                log.exception("LED/buzzer feedback failed")

    def _light(self, code: str, beep: bool) -> None:
        led = self.leds.get(code)
        if led is not None:
            led.blink(on_time=self.led_on_s, off_time=0, n=1, background=True)
        if beep and self.buzzer is not None:
            self.buzzer.beep(on_time=self.beep_s, off_time=0, n=1, background=True)

    def describe(self) -> str:
        """The wiring in words, e.g. for ``kiosk status``."""
        parts = [f"{name} on {b.pin.info.name}" for name, b in self.buttons.items()]
        return ", ".join(parts) or "none"

    def close(self) -> None:
        feedback = getattr(self, "_feedback", None)
        if feedback is not None:
            feedback.put(None)
            self._feedback_thread.join(1)
        for device in [*self.buttons.values(), *self.leds.values(), self.buzzer]:
            if device is not None:
                device.close()
        self.buttons, self.leds, self.buzzer = {}, {}, None

"""Is there GPIO that gpiozero can drive here? Asked by the startup checks."""

from __future__ import annotations

import warnings

from .errors import HardwareError, NoGpioError


def no_gpio_message(pin_factory, exc: Exception) -> str:
    """The sentence for "no pins": with gpiozero's default factory, why this board has none
    (hardware.board); with a factory named by ``GPIOZERO_PIN_FACTORY`` or given, gpiozero's own words."""
    import os

    if pin_factory is None and not os.environ.get("GPIOZERO_PIN_FACTORY"):
        from .board import no_gpio_reason

        return f"no GPIO on this machine that gpiozero can drive: {no_gpio_reason()}"
    return f"no GPIO on this machine that gpiozero can drive ({exc})"


def probe_gpio(pin_factory=None) -> str:
    """The name of the pin factory that would drive the buttons, e.g. ``"LGPIOFactory"``.

    ``pin_factory`` given: that one. None: gpiozero's default, as a button
    would get it (``GPIOZERO_PIN_FACTORY``, else lgpio, RPi.GPIO, pigpio,
    native in turn). Raises :class:`NoGpioError` when none loads. No pin is
    claimed, so it is safe beside a running terminal.

        >>> from gpiozero.pins.mock import MockFactory
        >>> probe_gpio(MockFactory())
        'MockFactory'
    """
    from gpiozero import Device
    from gpiozero.exc import BadPinFactory

    if pin_factory is None:
        try:
            with warnings.catch_warnings():  # the fallbacks are reported as one sentence instead
                warnings.simplefilter("ignore")
                Device.ensure_pin_factory()
            pin_factory = Device.pin_factory
        except (BadPinFactory, ImportError) as exc:
            raise NoGpioError(no_gpio_message(None, exc)) from None
        except Exception as exc:  # a factory's own error, e.g. lgpio cannot open /dev/gpiochip0
            raise HardwareError(f"the GPIO cannot be opened ({exc})") from None
    return type(pin_factory).__name__

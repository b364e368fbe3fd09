"""The hardware package's one base exception."""


class HardwareError(Exception):
    """A button, LED or buzzer cannot be used."""


class NoGpioError(HardwareError, RuntimeError):
    """This machine has no GPIO that gpiozero can drive."""

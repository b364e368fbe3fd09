"""The terminal's physical parts, behind gpiozero: buttons, LEDs, buzzer.

Nothing else in the project imports gpiozero. Every class takes a
keyword-only ``pin_factory`` (None: gpiozero's default, lgpio on a Pi).
"""

from .board import Board, read_board
from .debounce import Debouncer
from .errors import HardwareError, NoGpioError
from .factory import mock_pin_factory
from .keyboard import KeyboardBridge
from .panel import ButtonPanel
from .probe import probe_gpio
from .selftest import SelftestResult, run_selftest

__all__ = [
    "Board", "ButtonPanel", "Debouncer", "HardwareError", "KeyboardBridge", "NoGpioError",
    "SelftestResult", "mock_pin_factory", "probe_gpio", "read_board", "run_selftest",
]

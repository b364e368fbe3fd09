"""Keyboard keys drive mock pins, so the real button path runs on a laptop.

``1`` ``2`` ``3`` press the very-satisfied, satisfied and dissatisfied buttons,
``4``…``9`` reason buttons 1–6 and ``0`` skip. A key does nothing when that
button is not wired in the config.
"""

from __future__ import annotations

RATING_KEYS = {"1": "very_satisfied", "2": "satisfied", "3": "dissatisfied"}
REASON_KEYS = {str(n + 3): f"reason_{n}" for n in range(1, 7)}
KEYS = {**RATING_KEYS, **REASON_KEYS, "0": "skip"}


class KeyboardBridge:
    """Turns key down/up into falling/rising edges on a panel's mock pins.

        >>> from gpiozero.pins.mock import MockFactory
        >>> from hardware.panel import ButtonPanel
        >>> panel = ButtonPanel(rating_pins={"satisfied": 27}, pin_factory=MockFactory())
        >>> seen = []; panel.when_rating = seen.append
        >>> bridge = KeyboardBridge(panel)
        >>> bridge.key_down("2"), bridge.key_up("2"), bridge.key_down("3")
        (True, True, False)
        >>> seen
        ['satisfied']
        >>> panel.close()
    """

    def __init__(self, panel):
        self.panel = panel

    def _pin(self, key: str):
        button = self.panel.buttons.get(KEYS.get(key, ""))
        return None if button is None else button.pin

    def key_down(self, key: str) -> bool:
        """Press the button of ``key``; False when no button answers to it."""
        pin = self._pin(key)
        if pin is None:
            return False
        pin.drive_low()  # buttons are pulled up: pressed is low
        return True

    def key_up(self, key: str) -> bool:
        pin = self._pin(key)
        if pin is None:
            return False
        pin.drive_high()
        return True

    def tap(self, key: str) -> bool:
        """Press and release ``key``."""
        return self.key_down(key) and self.key_up(key)

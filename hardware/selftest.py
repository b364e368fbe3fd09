"""The technician's self-test: every LED, the buzzer, then every button."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class SelftestResult:
    """Which buttons were seen within the timeout."""

    seen: dict[str, bool] = field(default_factory=dict)
    leds: list[str] = field(default_factory=list)
    beeped: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.seen) and all(self.seen.values())

    @property
    def missing(self) -> list[str]:
        return [name for name, seen in self.seen.items() if not seen]


def run_selftest(panel, *, say: Callable[[str], None] = print, timeout_s: float = 15.0,
                 led_s: float = 0.5, labels: dict[str, str] | None = None,
                 on_prompt: Callable[[str], None] | None = None) -> SelftestResult:
    """Light each LED in turn, beep, then ask for each button and wait for it.

    ``say`` gets one line per step (the prompt is said before the wait
    starts); ``labels`` gives button names in words; ``on_prompt(name)`` is
    called as each wait starts (mock mode presses the next typed key then).
    """
    labels = labels or {}
    result = SelftestResult()
    for code, led in panel.leds.items():
        say(f"LED {labels.get(code, code)}: on for {led_s:g} s")
        led.on()
        time.sleep(led_s)
        led.off()
        result.leds.append(code)
    if panel.buzzer is not None:
        say("Buzzer: beep")
        panel.buzzer.on()
        time.sleep(min(led_s, 0.3))
        panel.buzzer.off()
        result.beeped = True
    for name, button in panel.buttons.items():
        label = labels.get(name, name)
        say(f"Press {label} ({button.pin.info.name}) within {timeout_s:g} s …")
        if on_prompt is not None:
            on_prompt(name)
        seen = button.wait_for_press(timeout=timeout_s)
        if seen:
            button.wait_for_release(timeout=timeout_s)
        result.seen[name] = bool(seen)
        say(f"  {label}: {'seen' if seen else 'NOT SEEN — check its wiring and pin number'}")
    return result

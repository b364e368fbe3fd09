"""The technician's self-test: every LED, the buzzer, then every button."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class SelftestResult:
    """Which buttons were seen within the timeout, and which others were pressed instead."""

    seen: dict[str, bool] = field(default_factory=dict)
    leds: list[str] = field(default_factory=list)
    beeped: bool = False
    #: (pressed, awaited) for each press of another button than the one asked for.
    wrong: list[tuple[str, str]] = field(default_factory=list)

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
    Another button pressed while one is awaited is named (wires swapped?) and
    the wait goes on. The panel's ``when_*`` callbacks are the test's meanwhile.
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
    pressed: queue.Queue = queue.Queue()
    saved = panel.when_rating, panel.when_reason, panel.when_skip
    # Every button reports here (through the panel's debouncer), so a wrong one is named, not ignored.
    panel.when_rating = pressed.put
    panel.when_reason = lambda number: pressed.put(f"reason_{number}")
    panel.when_skip = lambda: pressed.put("skip")
    try:
        for name, button in panel.buttons.items():
            label = labels.get(name, name)
            _drain(pressed)
            say(f"Press {label} ({button.pin.info.name}) within {timeout_s:g} s …")
            if on_prompt is not None:
                on_prompt(name)

            def wrong(other: str, name: str = name, label: str = label) -> None:
                result.wrong.append((other, name))
                say(f"  pressed {labels.get(other, other)} while waiting for {label}: wires swapped?")

            seen = _wait_for(name, pressed, timeout_s, wrong=wrong)
            if seen:
                button.wait_for_release(timeout=timeout_s)
            result.seen[name] = seen
            say(f"  {label}: {'seen' if seen else 'NOT SEEN — check its wiring and pin number'}")
    finally:
        panel.when_rating, panel.when_reason, panel.when_skip = saved
    return result


def _wait_for(name: str, pressed: queue.Queue, timeout_s: float, *, wrong: Callable[[str], None]) -> bool:
    """Wait up to ``timeout_s`` for button ``name``; every other button pressed meanwhile goes to ``wrong``."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            other = pressed.get(timeout=left)
        except queue.Empty:
            break
        if other == name:
            return True
        wrong(other)
    return False


def _drain(pressed: queue.Queue) -> None:
    while True:
        try:
            pressed.get_nowait()
        except queue.Empty:
            return

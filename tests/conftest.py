"""Fixtures shared by the suite.

Kivy reads its environment when first imported, so it is set here, before any
test module can import it: no display needed (SDL's offscreen driver, which
renders with Mesa), no sound card needed (SDL's disk driver, heard through a
FIFO: tests/audio_tap.py), no command-line parsing, logs through Python's
logging, and a throwaway Kivy home so no developer's ~/.kivy is read or written.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_KIVY_HOME = tempfile.mkdtemp(prefix="hai-long-kivy-")
atexit.register(shutil.rmtree, _KIVY_HOME, ignore_errors=True)
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ["KIVY_NO_ARGS"] = "1"
os.environ["KIVY_LOG_MODE"] = "PYTHON"
os.environ["KIVY_HOME"] = _KIVY_HOME
os.environ.setdefault("KCFG_GRAPHICS_WIDTH", "800")  # the 7-inch Pi touchscreen
os.environ.setdefault("KCFG_GRAPHICS_HEIGHT", "480")

# Sound: SDL's disk driver writes what the app plays into a FIFO that tests can hear (tests/audio_tap.py).
import audio_tap  # noqa: E402

audio_tap.install()

import logging  # noqa: E402
import sqlite3  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SCREENSHOTS = Path(__file__).parent / "output" / "screens"
#: Tests that need the arm64 root of `make arm64` (deploy/arm64/build.sh sets HAILONG_ARM64=1 there and runs
#: them): not collected by `make test`; tests/test_arm64_scripts.py checks the script itself in CI.
collect_ignore = [] if os.environ.get("HAILONG_ARM64") == "1" else ["test_arm64_bundle.py"]
#: How much slower than this machine the tests run: 1 here; `make arm64` sets ``HAILONG_TEST_SLOWDOWN`` for its
#: run under qemu (a PIN check takes 13-16 s there). Waits are for an event (:meth:`KioskDriver.wait_for`
#: returns as soon as it happens); only their upper bound is multiplied, so a passing test is no slower.
SLOWDOWN = float(os.environ.get("HAILONG_TEST_SLOWDOWN", "1"))


@pytest.fixture(autouse=True)
def restore_root_logger():
    """A command run in-process sets up logging (``force=True``; ``kiosk-server serve``: the ``hailong`` logger):
    undo it, or its handler, bound to this test's captured stderr, would outlive it (a later record, e.g. an audit
    entry's INFO line, would then write "--- Logging error ---" into whatever output is captured) and its level would
    hide later tests' records from ``caplog``."""
    root, server = logging.getLogger(), logging.getLogger("hailong")
    before, level = list(root.handlers), root.level
    server_before = list(server.handlers), server.level, server.propagate
    yield
    for handler in list(root.handlers):
        if handler not in before and not type(handler).__module__.startswith("_pytest"):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    server.handlers, server.propagate = server_before[0], server_before[2]
    server.setLevel(server_before[1])  # through setLevel: it clears the loggers' cached levels


# -- time that tests move by hand (flow and hardware tests) ---------------------

class FakeClock:
    """A monotonic clock in seconds: ``clock()`` reads it, ``clock.advance(s)`` moves it."""

    def __init__(self, start=1000.0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


# -- Kivy UI (tests/test_ui.py) ------------------------------------------------

class KioskDriver:
    """One :class:`kiosk.ui.app.KioskApp` on the test session's window, run frame by frame.

    Kivy makes one window per process, so every test builds a fresh app (and
    terminal) on the same window; frames are drawn by calling the event
    loop's ``idle()`` here instead of ``App.run()``'s endless loop.
    """

    def __init__(self, terminal, *, windowed: bool = True):
        from kivy.base import EventLoop, runTouchApp

        from kiosk.ui.app import KioskApp

        self.terminal = terminal
        self.event_loop = EventLoop
        self.app = KioskApp(terminal, windowed=windowed)
        self.app._run_prepare()       # what App.run() does before its loop: build, on_start
        runTouchApp(embedded=True)    # start the clock and the input, without looping
        self.frames(3)

    # -- time ---------------------------------------------------------------
    def frames(self, n: int = 1) -> None:
        for _ in range(n):
            self.event_loop.idle()

    def advance(self, seconds: float) -> None:
        """Run frames for ``seconds`` of real time (the flow's clock is real too)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.event_loop.idle()

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        """Draw frames until ``predicate()`` holds (True) or ``timeout`` × :data:`SLOWDOWN` seconds pass."""
        end = time.monotonic() + timeout * SLOWDOWN
        while time.monotonic() < end:
            if predicate():
                return True
            self.event_loop.idle()
        return predicate()

    @property
    def running(self) -> bool:
        return self.event_loop.status == "started"

    # -- what is on screen ----------------------------------------------------
    @property
    def screen(self) -> str:
        return self.app.root.current

    def widget(self, screen: str, widget_id: str):
        return self.app.root.get_screen(screen).ids[widget_id]

    # -- input ------------------------------------------------------------------
    def touch(self, widget, *, hold: float = 0.0) -> None:
        """A real touch (down, then up) at the centre of ``widget``."""
        self.touch_at(*widget.to_window(*widget.center), hold=hold)

    def touch_at(self, x: float, y: float, *, hold: float = 0.0) -> None:
        from kivy.tests.common import UnitTestTouch

        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.advance(hold) if hold else self.frames(1)
        touch.touch_up()
        self.frames(2)

    def hold_at(self, x: float, y: float, *, until, timeout: float) -> bool:
        """Touch down at (x, y), keep the finger there until ``until()`` holds (a screen opened by a long
        press) or ``timeout`` × :data:`SLOWDOWN` seconds pass, then lift it: True when ``until()`` held.

        Event-driven, unlike ``touch_at(hold=...)``: under emulation one frame can outlast a fixed margin."""
        from kivy.tests.common import UnitTestTouch

        touch = UnitTestTouch(x, y)
        touch.touch_down()
        try:
            return self.wait_for(until, timeout)
        finally:
            touch.touch_up()
            self.frames(2)

    def key(self, char: str) -> None:
        """A key press and release as SDL delivers them to the window."""
        from kivy.core.window import Window

        Window.dispatch("on_key_down", ord(char), 0, char, [])
        Window.dispatch("on_key_up", ord(char), 0)
        self.frames(2)

    # -- what was stored ---------------------------------------------------------
    def rows(self) -> list[dict]:
        with sqlite3.connect(self.terminal.config.storage.path) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM ratings ORDER BY monotonic_ns")]

    # -- pictures -----------------------------------------------------------------
    def screenshot(self, name: str, size: tuple[int, int] | None = None) -> Path:
        """Save the screen as ``tests/output/screens/<name>.png``.

        Without ``size``: the window as drawn. With ``size``: the screens laid
        out and rendered off-window at that size (SDL's offscreen window
        cannot be resized), e.g. to see a 1920x1080 display.
        """
        from kivy.core.window import Window

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}.png"
        self.frames(3)
        if size is None:
            with tempfile.TemporaryDirectory() as tmp:
                # Window.screenshot numbers its files (name0001.png): take it, then move it.
                shutil.move(Window.screenshot(name=os.path.join(tmp, "shot.png")), target)
            return target
        root, app = self.app.root, self.app
        unit = app.unit
        root.size_hint = (None, None)
        root.size = size
        app.unit = min(size[1] / 100, size[0] / 166)  # as KioskApp computes it from the window
        try:
            self.frames(3)
            root.export_to_png(str(target))
        finally:
            root.size_hint = (1, 1)
            app.unit = unit
            self.frames(2)
        return target

    def stop(self) -> None:
        # App.stop() may run twice (after "Leave kiosk mode"): on_stop is idempotent.
        self.app.stop()


def kiosk_config_data(tmp_path, **sections) -> dict:
    """A config document (as TOML would parse it) with its database under ``tmp_path``."""
    data = {
        "terminal": {"id": "test-ui-01", "site": "UBND phường Phúc La", "counter": "Quầy 1"},
        "storage": {"path": str(tmp_path / "kiosk.db")},
        "display": {"kiosk": False},
    }
    for section, values in sections.items():
        data[section] = {**data.get(section, {}), **values}
    return data


@pytest.fixture
def start_kiosk(tmp_path):
    """``start_kiosk(**sections)`` opens a terminal with mock pins and runs its screens.

    ``sections`` override config tables, e.g. ``feedback={"thanks_s": 0.5}``.
    """
    from kiosk.config import parse_config
    from kiosk.terminal import open_terminal

    started = []

    def start(*, windowed: bool = True, sync: bool = False, **sections) -> KioskDriver:
        terminal = open_terminal(parse_config(kiosk_config_data(tmp_path, **sections)), mock_pins=True,
                                 sync=sync)
        terminal.start_uploading()
        try:
            driver = KioskDriver(terminal, windowed=windowed)
        except BaseException:
            terminal.close()
            raise
        started.append(driver)
        return driver

    yield start
    for driver in started:
        try:
            driver.stop()
        finally:
            driver.terminal.close()


# -- a button held down while the terminal starts ---------------------------------

def held_pin_class(*numbers: int):
    """A gpiozero mock pin class whose pins ``numbers`` read pressed from the start: a button held while the
    terminal starts. Pulled up, a real held button still reads low, and no press edge is ever seen."""
    from gpiozero.pins.mock import MockPin

    class HeldAtStartPin(MockPin):
        def _set_pull(self, value):
            super()._set_pull(value)
            if value == "up" and self.info.name in {f"GPIO{n}" for n in numbers}:
                self.drive_low()

    return HeldAtStartPin


# -- the reliability suites' figures (tests/reliability.py) ----------------------

def pytest_terminal_summary(terminalreporter):
    """Print every reliability figure recorded in this run, one line per suite."""
    from reliability import RECORDED

    if not RECORDED:
        return
    terminalreporter.section("reliability figures")
    for row in RECORDED:
        extra = {k: v for k, v in row.items() if k not in ("suite", "mode", "command")}
        terminalreporter.write_line(f"{row['suite']} [{row['mode']}]: "
                                    + ", ".join(f"{k}={v}" for k, v in extra.items()))

"""Start the screens: Kivy settings that must precede the window, then the app.

``kiosk run`` sets Kivy's environment variables (``KIVY_NO_ARGS``,
``KIVY_LOG_MODE``, ``KIVY_HOME``) and calls :func:`launch`; this module reads
no environment of its own.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

#: The window of ``--windowed`` runs (and of kiosk mode where no fullscreen
#: size can be found): the 7-inch Raspberry Pi touchscreen.
WINDOW_SIZE = (800, 480)


def kivy_settings(config, *, windowed: bool) -> list[tuple[str, str, str]]:
    """The ``(section, option, value)`` Kivy settings for ``config``'s display.

        >>> from kiosk.config import parse_config
        >>> ("graphics", "fullscreen", "auto") in kivy_settings(parse_config({}), windowed=False)
        True
    """
    kiosk = config.display.kiosk and not windowed
    return [
        ("kivy", "exit_on_escape", "0"),
        ("kivy", "pause_on_minimize", "0"),
        ("graphics", "fullscreen", "auto" if kiosk else "0"),
        ("graphics", "show_cursor", "0" if kiosk else "1"),
        ("graphics", "allow_screensaver", "0" if kiosk else "1"),
        ("graphics", "width", str(WINDOW_SIZE[0])),
        ("graphics", "height", str(WINDOW_SIZE[1])),
        ("graphics", "resizable", "0" if kiosk else "1"),
        # [display] rotation: Kivy turns the picture and maps touches to match.
        ("graphics", "rotation", str(int(config.display.rotation))),
        # A right click must not leave multitouch dots on the screen.
        ("input", "mouse", "mouse,disable_multitouch"),
    ]


def configure_kivy(config, *, windowed: bool) -> None:
    """Apply :func:`kivy_settings`; must run before Kivy's window is created."""
    from kivy.config import Config

    for section, option, value in kivy_settings(config, windowed=windowed):
        Config.set(section, option, value)


def launch(terminal, *, windowed: bool = False) -> str | None:
    """Run the screens of ``terminal`` until "Leave kiosk mode" (or the window closes).

    Returns why they stopped: None, ``"restart"`` or ``"leave"``.

    The caller keeps ownership of ``terminal`` and closes it afterwards.
    """
    configure_kivy(terminal.config, windowed=windowed)
    from .app import KioskApp  # imports Kivy's window: after configure_kivy

    log.info("starting the screens (%s)", "windowed" if windowed or not terminal.config.display.kiosk
             else "kiosk mode")
    app = KioskApp(terminal, windowed=windowed)
    app.run()
    return app.exit_action

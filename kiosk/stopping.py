"""Stopping on SIGTERM (``systemctl stop``, the demo): the same way out as Ctrl-C, and surely.

The handler raises :class:`SystemExit`, which unwinds the screens and closes
the store, the pins and the uploader. A signal handler runs wherever the main
thread happens to be, though, and an exception raised inside a C callback
(SDL's event filter in Kivy, a finaliser) is printed and swallowed there. So
the first SIGTERM also starts a watchdog that ends the process after a grace
period if the clean way has not. That loses nothing: every rating the screen
acknowledged was committed before the thank-you.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

log = logging.getLogger(__name__)

#: Seconds a clean stop may take before the watchdog ends the process (systemd waits 90 s).
GRACE_S = 10.0


def exit_on_sigterm(grace_s: float = GRACE_S) -> None:
    """Install the SIGTERM handler in the main thread."""
    started = threading.Event()

    def force_exit() -> None:
        time.sleep(grace_s)
        log.error("the terminal did not stop within %.0f s of SIGTERM; ending it now "
                  "(every stored rating is already on disk)", grace_s)
        logging.shutdown()
        os._exit(0)

    def on_sigterm(_signum, _frame) -> None:
        if not started.is_set():
            started.set()
            threading.Thread(target=force_exit, name="sigterm-watchdog", daemon=True).start()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_sigterm)

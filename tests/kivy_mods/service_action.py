"""A Kivy module for tests: take a service-screen action in a running terminal, as a technician would.

Copied into ``$KIVY_HOME/mods`` and switched on with
``KCFG_MODULES_SERVICE_ACTION="marker=/tmp/x/starts"``. At each start it
appends this process id to the marker file; at the first start it asks for
"Restart", at the next one for "Leave kiosk mode". The app's own methods are
called, the ones the service screen's buttons call (the buttons themselves
are tested in tests/test_ui_service.py); what is under test here is what
``kiosk run`` does after them.
"""

import os

from kivy.app import App
from kivy.clock import Clock


def start(win, ctx):
    marker = ctx.config.get("marker")

    def first_frame(*_):
        win.unbind(on_flip=first_frame)
        with open(marker, "a", encoding="utf-8") as starts:
            starts.write(f"{os.getpid()}\n")
        with open(marker, encoding="utf-8") as starts:
            first = len(starts.read().split()) == 1
        app = App.get_running_app()
        Clock.schedule_once(lambda _dt: app.restart_app() if first else app.leave_kiosk(), 0.2)

    ctx.first_frame = first_frame
    win.bind(on_flip=first_frame)


def stop(win, ctx):
    if hasattr(ctx, "first_frame"):
        win.unbind(on_flip=ctx.first_frame)

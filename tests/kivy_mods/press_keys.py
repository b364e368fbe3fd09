"""A Kivy module for tests: press keys on the window of a running app, as SDL would deliver them.

Nothing in the terminal knows about it. Kivy loads modules it finds in
``$KIVY_HOME/mods`` when the config names them, and the config can come from
the environment, so a test copies this file there and sets::

    KCFG_MODULES_PRESS_KEYS="keys=2,delay=0.5"

to type ``2`` half a second after the first frame (each key held for
``hold`` seconds, default 0.1). It works the same for ``python -m kiosk`` and
for the frozen bundle (tests/test_bundle.py), which is why it is a Kivy
module and not a hook in ``kiosk``: the command under test is unchanged.
"""

import sys

from kivy.clock import Clock


def start(win, ctx):
    keys = ctx.config.get("keys", "")
    delay = float(ctx.config.get("delay", 0.5))
    hold = float(ctx.config.get("hold", 0.1))

    def press(index, _dt=None):
        if index >= len(keys):
            return
        key = keys[index]
        win.dispatch("on_key_down", ord(key), 0, key, [])
        Clock.schedule_once(lambda _dt: release(index), hold)

    def release(index):
        key = keys[index]
        win.dispatch("on_key_up", ord(key), 0)
        print(f"press_keys: typed {key}", file=sys.stderr, flush=True)
        Clock.schedule_once(lambda _dt: press(index + 1), hold)

    def first_frame(*_):
        win.unbind(on_flip=first_frame)
        Clock.schedule_once(lambda _dt: press(0), delay)

    ctx.first_frame = first_frame
    win.bind(on_flip=first_frame)


def stop(win, ctx):
    if hasattr(ctx, "first_frame"):
        win.unbind(on_flip=ctx.first_frame)

"""A Kivy module for tests: a citizen (and now and then a technician) at a running terminal, who says what the
screen showed them.

Copied into ``$KIVY_HOME/mods`` and switched on with
``KCFG_MODULES_CRASH_DRIVER="log=/tmp/x/run-3.log,seed=42"``; used by
tests/test_crash_loop.py, which kills the terminal with SIGKILL at random
moments. From the first frame on it presses the keys of ``--mock-pins`` (the
whole button path runs) in a script drawn from ``seed``: very satisfied,
satisfied, dissatisfied then a reason, dissatisfied then "skip",
dissatisfied left without a reason, mashing, the service screen opened and
closed. It never stops by itself.

What the test learns comes from the app, one line per event in ``log``,
each written and fsynced before anything else happens:

- ``home <pid>`` (or ``first-frame <screen> <pid>``): the first frame was drawn;
- ``thanks <id> <rating> <outcome> <reason>``: the thank-you screen came up, for that rating
  (``-`` for no outcome or reason): this press was acknowledged to the citizen;
- ``action <name>``: the script begins an action (for the figures).
"""

import os
import random

from kivy.app import App
from kivy.clock import Clock

RATING_KEYS = {"very_satisfied": "1", "satisfied": "2", "dissatisfied": "3"}
REASON_KEYS = "456789"
SKIP_KEY = "0"
#: Actions and their weights: the ones that leave a question open or stress the flow come often.
ACTIONS = {"very_satisfied": 3, "satisfied": 3, "reason": 3, "skip": 2, "walk_away": 2, "mash": 2, "service": 1}


def start(win, ctx):
    path = ctx.config["log"]
    rng = random.Random(int(ctx.config.get("seed", 0)))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def note(line):
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)

    last = {}  # the flow's latest event that ends on the thank-you screen

    def on_flow_event(event):
        if event.screen == "thanks" and event.kind in ("rated", "sealed"):
            last["event"] = event

    def on_screen(_manager, screen):
        if screen != "thanks":
            return
        event = last.pop("event", None)
        if event is None:
            note("thanks-unknown")
        else:
            note(f"thanks {event.rating_id} {event.rating} {event.outcome or '-'} {event.reason or '-'}")

    def first_frame(*_):
        win.unbind(on_flip=first_frame)
        app = App.get_running_app()
        app.flow.add_listener(on_flow_event)
        app.root.bind(current=on_screen)
        screen = app.root.current
        note(f"home {os.getpid()}" if screen == "home" and app.flow.screen == "home"
             else f"first-frame {screen} {os.getpid()}")
        run(script(app))

    def run(steps):
        """Step the script on Kivy's clock: it yields seconds to wait, or a test to wait for."""
        def step(_dt=None):
            wait = next(steps)
            if callable(wait):
                poll(wait)
            else:
                Clock.schedule_once(step, wait)

        def poll(ready, _dt=None):
            if ready():
                step()
            else:
                Clock.schedule_once(lambda dt: poll(ready, dt), 0.05)

        step()

    def tap(key, hold=0.08, gap=0.08):
        win.dispatch("on_key_down", ord(key), 0, key, [])
        yield hold
        win.dispatch("on_key_up", ord(key), 0)
        yield gap

    def script(app):
        flow = app.flow
        at_home = lambda: flow.screen == "home" and app.root.current == "home"  # noqa: E731
        while True:
            action = rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
            note(f"action {action}")
            if action in ("very_satisfied", "satisfied"):
                yield from tap(RATING_KEYS[action])
            elif action in ("reason", "skip", "walk_away"):
                yield from tap(RATING_KEYS["dissatisfied"])
                yield rng.uniform(0.1, 1.0)  # reading the reasons
                if action == "reason":
                    yield from tap(rng.choice(REASON_KEYS))
                elif action == "skip":
                    yield from tap(SKIP_KEY)
                # walk_away: nothing more; the question stays open until the terminal's timeout
            elif action == "mash":
                for _ in range(rng.randint(5, 20)):
                    yield from tap(rng.choice("1233" + REASON_KEYS + SKIP_KEY), hold=rng.uniform(0.02, 0.06),
                                   gap=rng.uniform(0.0, 0.06))
            elif action == "service":
                yield at_home
                app.open_service()
                yield rng.uniform(0.2, 0.8)
                for _ in range(rng.randint(1, 3)):  # a technician leaning on the buttons
                    yield from tap(rng.choice("123"))
                app.close_service()
            yield at_home
            yield rng.uniform(0.0, 0.3)

    ctx.first_frame = first_frame
    win.bind(on_flip=first_frame)


def stop(win, ctx):
    if hasattr(ctx, "first_frame"):
        win.unbind(on_flip=ctx.first_frame)

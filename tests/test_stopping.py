"""SIGTERM stops the terminal: cleanly when it can, and surely when the exit is swallowed."""

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CLEAN = """
import time
from kiosk.stopping import exit_on_sigterm
exit_on_sigterm(grace_s=30)
try:
    print("ready", flush=True)
    while True:
        time.sleep(0.05)
finally:
    print("closed", flush=True)
"""

# SystemExit raised inside code that swallows it, as a C callback does (SDL's event filter).
SWALLOWING = """
import time
from kiosk.stopping import exit_on_sigterm
exit_on_sigterm(grace_s=1.0)
said_ready = False
while True:
    try:  # "ready" is said inside the try, so the signal can only land where it is swallowed
        if not said_ready:
            said_ready = True
            print("ready", flush=True)
        while True:
            time.sleep(0.05)
    except BaseException:
        pass
"""


def run_and_terminate(code):
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        started = time.monotonic()
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=20)
        return child.returncode, time.monotonic() - started, out, err
    finally:
        if child.poll() is None:
            child.kill()


def test_sigterm_unwinds_through_finally_and_exits_0():
    status, took, out, _err = run_and_terminate(CLEAN)
    assert status == 0
    assert "closed" in out
    assert took < 5


def test_a_swallowed_exit_is_ended_by_the_watchdog_after_the_grace_period():
    status, took, out, err = run_and_terminate(SWALLOWING)
    assert status == 0
    assert 0.9 <= took < 10
    assert "did not stop within 1 s of SIGTERM" in err

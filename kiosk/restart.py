"""Restarting the terminal from its service screen: the process replaces itself.

``kiosk run`` closes the store, the pins and the uploader, then execs the
same command line again (same process id: under systemd the unit stays
active and nothing counts as a failure; without systemd it works the same).
Leaving kiosk mode instead exits with :data:`LEFT_KIOSK_STATUS`, which the
systemd unit lists in ``RestartPreventExitStatus`` so the terminal stays down
for the technician.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

#: Exit status of "Leave kiosk mode" (systemd must not restart the terminal).
LEFT_KIOSK_STATUS = 4


def restart_argv(*, executable: str, orig_argv: list[str], argv: list[str], frozen: bool) -> list[str]:
    """The command line that starts this terminal again.

    A PyInstaller bundle is its own executable; otherwise Python's original
    command line is repeated (``python -m kiosk run ...`` or the ``kiosk``
    console script).

        >>> restart_argv(executable="/usr/bin/python3", orig_argv=["python3", "-m", "kiosk", "run"],
        ...              argv=["/x/kiosk/__main__.py", "run"], frozen=False)
        ['/usr/bin/python3', '-m', 'kiosk', 'run']
        >>> restart_argv(executable="/opt/hai-long/kiosk/kiosk", orig_argv=["kiosk", "run"],
        ...              argv=["kiosk", "run"], frozen=True)
        ['/opt/hai-long/kiosk/kiosk', 'run']
    """
    if frozen:
        return [executable, *argv[1:]]
    return [executable, *orig_argv[1:]]


def restart_terminal(exec_=os.execv) -> None:
    """Replace this process with a fresh ``kiosk run`` (same arguments); does not return."""
    argv = restart_argv(executable=sys.executable, orig_argv=list(sys.orig_argv), argv=list(sys.argv),
                        frozen=bool(getattr(sys, "frozen", False)))
    log.info("restarting: %s", " ".join(argv))
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    exec_(argv[0], argv)


#: Exit status asking systemd for a start through the launcher (a switch or a roll-back of an update) when
#: the launcher's path is not known; the unit restarts on it (Restart=always).
UPDATE_STATUS = 3


def restart_through_launcher(launcher: str | None, exec_=os.execv) -> None:
    """Start again through deploy/hai-long-launch, which picks the slot (the update's switch or roll-back).

    ``launcher`` is ``$HAI_LONG_LAUNCHER`` (the launcher sets it): exec it with this run's arguments, same
    process id as under systemd; without it, exit :data:`UPDATE_STATUS` and let systemd start the unit again.
    """
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    if launcher:
        argv = [launcher, *sys.argv[1:]]
        log.info("restarting through the launcher: %s", " ".join(argv))
        exec_(launcher, argv)
    sys.exit(UPDATE_STATUS)

"""The terminal's log: stderr (the journal, under systemd) and a size-capped file beside the database.

Under systemd, stderr goes to the journal, which stamps each line itself;
``journalctl -u kiosk`` reads it. The rotating file ``kiosk.log`` (beside
the database) is for terminals where nobody can read the journal, and it is
where ``kiosk status`` finds the last errors. Each message is written on one
line (:class:`sync.plain_text.OneLineFormatter`): a server's answer or a name
quoted in it cannot forge a second line or send escapes to a screen.

    >>> import tempfile, logging
    >>> folder = Path(tempfile.mkdtemp())
    >>> path = setup_logging("INFO", log_file=folder / "kiosk.log", under_systemd=True)
    >>> logging.getLogger("kiosk.demo").error("the printer is on fire")
    >>> [e["message"] for e in recent_errors(path)]
    ['the printer is on fire']
"""

from __future__ import annotations

import errno
import logging
import logging.handlers
import re
import sys
from pathlib import Path

from sync.plain_text import OneLineFormatter

LOG_NAME = "kiosk.log"
#: Lines of the file: ``2026-11-25T09:30:12 ERROR kiosk.ui.app: message``.
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FILE_DATE = "%Y-%m-%dT%H:%M:%S%z"
_LINE = re.compile(r"^(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}) (?P<level>[A-Z]+) (?P<name>[\w.]+): (?P<message>.*)$")


class QuietOnFullDisk(logging.handlers.RotatingFileHandler):
    """The log file, which shares the database's disk: when that disk is full, a line that cannot be written is
    dropped without a traceback on stderr (the journal still has it; ``kiosk status`` says the disk is full)."""

    def handleError(self, record):
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return
        super().handleError(record)


def log_path(config) -> Path:
    """Where ``kiosk.log`` lives: beside the database."""
    return Path(config.storage.path).resolve().parent / LOG_NAME


def under_systemd(environ) -> bool:
    """True when systemd started us with stderr connected to the journal (``environ``: the CLI's os.environ)."""
    return bool(environ.get("JOURNAL_STREAM") or environ.get("INVOCATION_ID"))


def setup_logging(level: str, *, log_file: Path | None = None, under_systemd: bool = False,
                  max_kb: int = 1024, count: int = 3) -> Path | None:
    """Log at ``level`` to stderr and, when ``log_file`` and ``max_kb`` are set, to a rotating file.

    Returns the file's path, or None when there is no file (it cannot be
    opened: said on stderr; the terminal runs on without it).
    """
    # Under systemd, journald stamps each line itself.
    fmt = "%(levelname)s %(name)s: %(message)s" if under_systemd else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(OneLineFormatter(fmt))
    handlers: list[logging.Handler] = [stderr]
    problem = None
    if log_file is not None and max_kb > 0:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            rotating = QuietOnFullDisk(log_file, maxBytes=max_kb * 1024, backupCount=count, encoding="utf-8")
        except OSError as exc:
            problem, log_file = f"no log file at {log_file} ({exc.strerror or exc}); logging to stderr only", None
        else:
            rotating.setFormatter(OneLineFormatter(FILE_FORMAT, FILE_DATE))
            handlers.append(rotating)
    else:
        log_file = None
    logging.basicConfig(level=getattr(logging, level), handlers=handlers, force=True)
    if problem:
        logging.getLogger("kiosk").warning(problem)
    return log_file


def recent_errors(path: Path, *, limit: int = 5, levels=("ERROR", "CRITICAL", "WARNING")) -> list[dict]:
    """The last ``limit`` entries at ``levels`` in ``path`` and its rotated files, oldest first.

    Each is ``{"at", "level", "name", "message"}``; a traceback's lines are
    left out (the message line says what failed).
    """
    files = [path.with_name(f"{path.name}.{n}") for n in range(9, 0, -1)] + [path]
    found: list[dict] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            match = _LINE.match(line)
            if match and match["level"] in levels:
                found.append(match.groupdict())
    return found[-limit:]

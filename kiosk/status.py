"""What a technician needs to know about a terminal, as data and in words.

Used by ``kiosk status`` and by the service screen.
"""

from __future__ import annotations

import json
import socket
from datetime import datetime, time, timezone
from pathlib import Path

from . import __version__
from .ratings import RATINGS
from .timekeeping import clock_is_synced, iso_utc, read_boot_id


def local_midnight_utc(now: datetime | None = None) -> str:
    """Today's start in the terminal's local time zone, as ISO UTC."""
    now = (now or datetime.now(timezone.utc)).astimezone()
    return iso_utc(datetime.combine(now.date(), time(0), tzinfo=now.tzinfo))


def ip_address(probe_host: str = "192.0.2.1") -> str | None:
    """This terminal's address on the network that leads out, or None without one.

    A UDP socket is "connected" (no packet is sent) to a documentation
    address so the kernel picks the outgoing interface.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((probe_host, 9))
            return sock.getsockname()[0]
    except OSError:
        return None


def terminal_status(config, store, *, hardware: str | None = None, checks=None,
                    log_file: Path | None = None) -> dict:
    """Counts, backlog, storage and clock facts of this terminal.

    ``checks``: :class:`kiosk.checks.Check` verdicts to list; ``log_file``:
    the kiosk.log whose last errors to show.
    """
    from .logs import recent_errors
    from .provisioning import provisioning_state

    path = Path(config.storage.path)
    meta = store.meta()
    size = sum(
        p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )
    status = {
        "terminal_id": config.terminal.id,
        "site": config.terminal.site,
        "counter": config.terminal.counter,
        "version": __version__,
        "config": config.source,
        "today": store.counts(since=local_midnight_utc()),
        "total": store.counts(),
        **store.backlog(),
        "database": {"path": str(path.resolve()), "size_bytes": size},
        "last_start": meta.get("last_start"),
        "clock": {"synced": clock_is_synced(), "boot_id": read_boot_id(),
                  "now": iso_utc(datetime.now(timezone.utc))},
        "recovered": None,
        "hardware": hardware,
        "sync": sync_status(config, store),
        "provisioning": provisioning_state(config).words,
        "ip_address": ip_address(),
        "checks": [c.to_dict() for c in checks or ()],
        "recent_errors": recent_errors(log_file) if log_file is not None else [],
    }
    if "recovered_from" in meta:
        status["recovered"] = {"moved_to": meta["recovered_from"], "at": meta.get("recovered_at"),
                               "why": meta.get("recovered_why")}
    return status


def sync_status(config, store) -> dict:
    """What the uploader last reported (kept in the terminal's file), read without writing."""
    db = store.db
    state = {}
    if db["sync_state"].exists():
        state = {row["key"]: json.loads(row["value"]) for row in db["sync_state"].rows}
    quarantined = db["sync_quarantine"].count if db["sync_quarantine"].exists() else 0
    return {
        "server": config.server.url or None,
        "provisioned": bool(config.server.url) and Path(config.server.token_file).exists(),
        "last_success_at": state.get("last_success_at"),
        "last_error": state.get("last_error"),
        "auth_refused": bool(state.get("auth_refused")),
        "clock_offset_s": state.get("clock_offset_s"),
        "quarantined": quarantined,
    }


def format_status(status: dict) -> str:
    """The status as short lines of words, for a technician."""
    def levels(counts):
        return ", ".join(f"{r} {counts[r]}" for r in RATINGS) + f" (filtered presses {filtered(counts)})"

    lines = [
        f"Terminal {status['terminal_id']} — {status['site']}, {status['counter']} (version {status['version']})",
        f"Config: {status['config']}",
        f"Today: {status['today']['counted']} ratings: {levels(status['today'])}",
        f"Total: {status['total']['counted']} ratings: {levels(status['total'])}",
        f"Waiting for a reason: {status['unsealed']}; waiting to upload: {status['pending']}",
        f"Database: {status['database']['path']} ({status['database']['size_bytes']:,} bytes)",
        f"Last start: {status['last_start'] or 'never'}",
        "Clock: " + ("set by the network" if status["clock"]["synced"]
                     else "NOT confirmed by the network (times are corrected by the server later)")
        + f", now {status['clock']['now']}",
    ]
    sync = status.get("sync")
    if sync:
        if not sync["provisioned"]:
            lines.append("Server: not provisioned — run `sudo kiosk provision STRING` with the enrolment string "
                         "(hailong1:…) from the district; ratings are kept until then")
        else:
            lines.append(f"Server: {sync['server']}; last upload: {sync['last_success_at'] or 'never'}")
        if sync["last_error"]:
            lines.append(f"Last sync error: {sync['last_error']}")
        if sync["clock_offset_s"] is not None:
            lines.append(f"Clock offset reported by the server: {sync['clock_offset_s']:+.1f} s")
        if sync["quarantined"]:
            lines.append(f"Kept aside (the server holds a different rating with the same id): {sync['quarantined']}")
    if status.get("hardware"):
        lines.append(f"Buttons: {status['hardware']}")
    if "ip_address" in status:
        lines.append(f"IP address: {status.get('ip_address') or 'none (no network)'}")
    lines += _check_lines(status)
    if status.get("recent_errors"):
        lines.append("Last errors and warnings (kiosk.log):")
        lines += [f"  {e['at']} {e['level']} {e['message']}" for e in status["recent_errors"]]
    if status.get("recovered"):
        rec = status["recovered"]
        lines.append(
            f"WARNING: the database was unreadable at {rec['at']} ({rec['why']}); it was moved to "
            f"{rec['moved_to']} and a fresh one started. Keep that file for inspection."
        )
    return "\n".join(lines)


#: How ``kiosk status`` names each cause of a filtered press (kiosk.store.FILTER_CAUSES, and rows without one).
FILTER_CAUSE_WORDS = {
    "repeat": "too soon after the last",
    "busy": "during thanks or the reason question",
    "service": "during service",
    "unknown": "cause not recorded",
}


def filtered(counts: dict) -> str:
    """The filtered presses of ``counts`` (from :meth:`kiosk.store.RatingStore.counts`), in all and by cause.

        >>> filtered({"filtered": 3, "filtered_by_cause": {"repeat": 1, "busy": 0, "service": 2, "unknown": 0}})
        '3: too soon after the last 1, during service 2'
        >>> filtered({"filtered": 0, "filtered_by_cause": {}})
        '0'
    """
    causes = [f"{FILTER_CAUSE_WORDS.get(cause, cause)} {n}"
              for cause, n in counts.get("filtered_by_cause", {}).items() if n]
    return f"{counts['filtered']}" + (": " + ", ".join(causes) if causes else "")


def service_summary(status: dict) -> str:
    """The service screen's facts, one per line (``status`` from :func:`terminal_status`)."""
    sync = status.get("sync") or {}
    clock = "set by the network" if status["clock"]["synced"] else "NOT confirmed by the network"
    lines = [
        f"Terminal: {status['terminal_id']}",
        f"Site: {status['site']}",
        f"Counter: {status['counter']}",
        f"Server: {sync.get('server') or 'none'}",
        f"Provisioning: {status.get('provisioning', '')}",
        f"Waiting to upload: {status['pending']}",
        f"Last sync: {sync.get('last_success_at') or 'never'}",
        f"Last error: {sync.get('last_error') or 'none'}",
        f"Clock: {clock}, now {status['clock']['now']}",
        f"IP address: {status.get('ip_address') or 'none (no network)'}",
        f"Version: {status['version']}",
    ]
    if status.get("hardware"):
        lines.append(f"Buttons: {status['hardware']}")
    lines += _check_lines(status)
    return "\n".join(lines)


def _check_lines(status: dict) -> list[str]:
    """The startup checks of ``status``, a heading and one indented line each (none: no lines)."""
    if not status.get("checks"):
        return []
    from .checks import Check, format_checks

    return ["Checks:"] + ["  " + line for line in format_checks([Check(**c) for c in status["checks"]])]

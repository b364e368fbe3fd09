"""What a technician needs to know about a terminal, as data and in words.

Used by ``kiosk status`` and by the service screen.
"""

from __future__ import annotations

import json
import socket
from datetime import datetime, time, timezone
from pathlib import Path

from sync import settings_state
from sync.local import kept_aside_causes
from sync.plain_text import one_line
from sync.vocabulary import round_half_up

from . import __version__
from .ratings import RATINGS
from .texts import screen_texts
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
        "ratings_missing": store.ratings_missing(),
        "counter_desk": counter_desk(config, store),
        "remote_settings": remote_settings_status(store),
    }
    # The log may share a full disk and stop at the moment trouble began: what fails now is said live.
    now = iso_utc(datetime.now(timezone.utc))
    status["recent_errors"] += [{"at": now, "level": "ERROR", "name": "kiosk.checks (now)", "message": c.message}
                                for c in checks or () if c.level == "fail"]
    if "recovered_from" in meta:
        status["recovered"] = {"moved_to": meta["recovered_from"], "at": meta.get("recovered_at"),
                               "why": meta.get("recovered_why")}
    return status


def counter_desk(config, store) -> dict:
    """The officer signed in (code, name, since when), the dossier invitations open and waiting to upload,
    and the officers list held (issue 12)."""
    from .officers import OfficerDirectory

    state = store.counter_state()
    directory = OfficerDirectory(store.db, counter=config.terminal.counter)
    officer = directory.get(state["officer"]) if state["officer"] else None
    return {
        "officers_enabled": config.officers.enabled,
        "dossier_enabled": config.dossier.enabled,
        "officer": state["officer"],
        "officer_name": officer.name if officer else None,
        "signed_in_at": state["signed_in_at"],
        "invitations_open": state["invitations_open"],
        "invitations_pending": state["invitations_pending"],
        "officers_version": directory.version() or None,
        "officers_known": directory.count(),
    }


def remote_settings_status(store) -> dict:
    """The remote settings this terminal runs (version, when, the values), the last set it refused (version,
    when, why) and why the last fetch failed (issue 13)."""
    db = store.db
    applied = settings_state.applied_settings(db)
    refused = settings_state.refused_settings(db)
    state = {}
    if db["sync_state"].exists():
        state = {row["key"]: json.loads(row["value"]) for row in db["sync_state"].rows
                 if row["key"] in ("settings_wanted", "settings_fetched_at", "settings_fetch_error")}
    return {
        "applied": None if applied is None else {"version": applied.version, "at": applied.at,
                                                 "values": applied.values},
        "refused": None if refused is None else {"version": refused.version, "at": refused.at, "why": refused.why},
        # Only while it is the latest word: a set applied after it replaced it.
        "error": settings_state.settings_error(db),
        "wanted": state.get("settings_wanted"),
        "fetch_error": state.get("settings_fetch_error"),
    }


def remote_settings_lines(remote: dict) -> list[str]:
    """``kiosk status``'s lines about the remote settings (none when the server never set any)."""
    applied, refused = remote["applied"], remote["refused"]
    if applied is None and refused is None and not remote["fetch_error"]:
        return []
    lines = []
    if applied is None:
        lines.append("Remote settings: none applied (the local file alone)")
    else:
        keys = ", ".join(sorted(applied["values"])) or "none: the local file alone"
        lines.append(f"Remote settings: version {applied['version']} applied at {applied['at']} ({keys})")
    if remote["wanted"] and (applied is None or remote["wanted"] != applied["version"]) \
            and (refused is None or remote["wanted"] != refused["version"]):
        lines.append(f"Remote settings wanted by the server: {remote['wanted']} (applied at the next quiet moment)")
    if refused is not None and remote["error"]:
        lines.append(f"Remote settings REFUSED: version {refused['version']} at {refused['at']}: {refused['why']} "
                     "(the terminal keeps the set above; correct the setting on the server)")
    elif refused is not None:
        lines.append(f"Last remote settings refused: version {refused['version']} at {refused['at']}: "
                     f"{refused['why']}")
    if remote["fetch_error"]:
        lines.append(f"Remote settings cannot be fetched: {remote['fetch_error']}")
    return lines


def sync_status(config, store) -> dict:
    """What the uploader last reported (kept in the terminal's file), read without writing."""
    db = store.db
    state = {}
    if db["sync_state"].exists():
        state = {row["key"]: json.loads(row["value"]) for row in db["sync_state"].rows}
    causes = kept_aside_causes(db)
    quarantined = sum(causes.values())
    return {
        "server": config.server.url or None,
        "provisioned": bool(config.server.url) and Path(config.server.token_file).exists(),
        "last_success_at": state.get("last_success_at"),
        "last_error": state.get("last_error"),
        "auth_refused": bool(state.get("auth_refused")),
        "clock_offset_s": state.get("clock_offset_s"),
        "quarantined": quarantined,
        # Conflicts and ratings the server refused (or the terminal could not send): never deleted, never resent.
        "kept_aside": quarantined,
        "kept_aside_causes": causes,
        # Issue 14: a wait the server asked for (busy, or the backlog's spread after an outage) and its pace.
        "server_wait_until": state.get("server_wait_until"),
        "server_wait_cause": state.get("server_wait_cause"),
        "pace": state.get("pace"),
    }


def server_pace(sync: dict, language: str = "en", *, now: str | None = None) -> str | None:
    """The server's pacing of this terminal in words, or None when it neither asked to wait nor paces.

    A wait already over is not said (the file keeps what the uploader last saved).

        >>> sync = {"server_wait_until": "2026-12-03T10:31:05.120Z", "server_wait_cause": "busy",
        ...         "pace": {"batch_size": 50, "pause_s": 2.0}}
        >>> server_pace(sync, now="2026-12-03T10:30:00.000Z")
        'the server is busy; next try at 10:31:05 UTC; at most 50 ratings per batch, 2 s apart'
        >>> server_pace(sync, now="2026-12-03T10:32:00.000Z")
        'at most 50 ratings per batch, 2 s apart'
        >>> server_pace({}) is None
        True
    """
    words = screen_texts(language)
    said = []
    until = sync.get("server_wait_until")
    now = now or iso_utc(datetime.now(timezone.utc))
    if until and until > now:
        key = "pace_spread" if sync.get("server_wait_cause") == "spread" else "pace_busy"
        said.append(words[key].format(at=f"{until[11:19]} UTC"))
    pace = sync.get("pace")
    if pace:
        said.append(words["pace_batches"].format(batch_size=pace["batch_size"], pause_s=f"{pace['pause_s']:g}"))
    return "; ".join(said) or None


def format_status(status: dict) -> str:
    """The status as short lines of words, for a technician."""
    def levels(counts):
        return ", ".join(f"{r} {counts[r]}" for r in RATINGS) + f" (filtered presses {filtered(counts)})"

    lines = [
        f"Terminal {status['terminal_id']} — {status['site']}, {status['counter']} (version {status['version']})",
        f"Config: {status['config']}",
    ]
    if status.get("board"):
        lines.append(f"Board: {status['board']}")
    lines += [
        f"Today: {status['today']['counted']} ratings: {levels(status['today'])}",
        f"Total: {status['total']['counted']} ratings: {levels(status['total'])}",
        f"Waiting for a reason: {status['unsealed']}; waiting to upload: {status['pending']}",
        f"Database: {status['database']['path']} ({status['database']['size_bytes']:,} bytes)",
        f"Last start: {status['last_start'] or 'never'}",
        "Clock: " + ("set by the network" if status["clock"]["synced"]
                     else "NOT confirmed by the network (times are corrected by the server later)")
        + f", now {status['clock']['now']}",
    ]
    desk = status.get("counter_desk")
    if desk and (desk["officers_enabled"] or desk["officer"]):
        if desk["officer"]:
            name = f" {desk['officer_name']}" if desk["officer_name"] else ""
            lines.append(f"Officer signed in: {desk['officer']}{name} (since {desk['signed_in_at']})")
        else:
            lines.append("Officer signed in: none")
        lines.append(f"Officers list: {desk['officers_known']} officer(s), version {desk['officers_version'] or 'none yet'}"
                     + ("" if desk["officers_enabled"] else " (sign-in is off in the config)"))
    if desk and (desk["dossier_enabled"] or desk["invitations_open"] or desk["invitations_pending"]):
        lines.append(f"Dossier invitations: open {desk['invitations_open']}; "
                     f"closed, waiting to upload {desk['invitations_pending']}")
    sync = status.get("sync")
    if sync:
        if not sync["provisioned"]:
            lines.append("Server: not provisioned — run `sudo kiosk provision STRING` with the enrolment string "
                         "(hailong1:…) from the district; ratings are kept until then")
        else:
            lines.append(f"Server: {sync['server']}; last upload: {sync['last_success_at'] or 'never'}")
        if sync["last_error"]:
            lines.append(f"Last sync error: {sync['last_error']}")
        if pacing := server_pace(sync):
            lines.append(f"Server pacing: {pacing}")
        if sync["clock_offset_s"] is not None:
            offset = round_half_up(sync["clock_offset_s"], 1)
            lines.append(f"Clock offset reported by the server: {offset:+.1f} s")
        if sync["quarantined"]:
            lines.append(f"Kept aside (not sent again; they stay in the database): {sync['quarantined']}")
            lines += [f"  {n} × {cause}" for cause, n in sync.get("kept_aside_causes", {}).items()]
    if status.get("remote_settings"):
        lines += remote_settings_lines(status["remote_settings"])
    if status.get("hardware"):
        lines.append(f"Buttons: {status['hardware']}")
    if status.get("updates"):  # kiosk/updates.py: the software update's state (issue 13)
        lines.append(f"Software updates: {status['updates']['summary']}")
    if "ip_address" in status:
        lines.append(f"IP address: {status.get('ip_address') or 'none (no network)'}")
    lines += _check_lines(status)
    if status.get("recent_errors"):
        lines.append("Last errors and warnings (kiosk.log):")
        lines += [f"  {e['at']} {e['level']} {e['message']}" for e in status["recent_errors"]]
    if status.get("ratings_missing"):
        lost = status["ratings_missing"]
        lines.append(
            f"WARNING: {lost['ratings']} rating(s) were missing when the terminal started at {lost['at']} "
            f"({lost['expected']} had been stored, {lost['found']} were found): the database's write-ahead log "
            "was damaged. Check the SD card (and its power supply); report the number to the district.")
    if status.get("recovered"):
        rec = status["recovered"]
        lines.append(
            f"WARNING: the database was unreadable at {rec['at']} ({rec['why']}); it was moved to "
            f"{rec['moved_to']} and a fresh one started. Keep that file for inspection."
        )
    # Names, the server's words and log messages are quoted here: each line stays one line, without escapes.
    return "\n".join(one_line(line) for line in lines)


def filtered(counts: dict, language: str = "en") -> str:
    """The filtered presses of ``counts`` (from :meth:`kiosk.store.RatingStore.counts`), in all and by cause.

        >>> filtered({"filtered": 3, "filtered_by_cause": {"repeat": 1, "busy": 0, "service": 2, "unknown": 0}})
        '3: too soon after the last 1, during service 2'
        >>> filtered({"filtered": 1, "filtered_by_cause": {"service": 1}}, "vi")
        '1: lúc bảo trì 1'
        >>> filtered({"filtered": 0, "filtered_by_cause": {}})
        '0'
    """
    words = screen_texts(language)
    causes = [f"{words.get('cause_' + cause, cause)} {n}" for cause, n in counts.get("filtered_by_cause", {}).items()
              if n]
    return f"{counts['filtered']}" + (": " + ", ".join(causes) if causes else "")


def kept_aside(sync: dict) -> str:
    """The ratings kept aside, in all and by cause (the causes as the server or the uploader said them).

        >>> kept_aside({"kept_aside": 3, "kept_aside_causes": {"refused by the server: monotonic_ns: negative": 2,
        ...                                                    "the server holds a different rating with this id": 1}})
        '3: refused by the server: monotonic_ns: negative (2); the server holds a different rating with this id (1)'
        >>> kept_aside({})
        '0'
    """
    causes = sync.get("kept_aside_causes") or {}
    return f"{sync.get('kept_aside', 0)}" + (": " + "; ".join(f"{c} ({n})" for c, n in causes.items()) if causes else "")


def service_summary(status: dict, *, language: str = "en") -> str:
    """The service screen's facts, one per line, in ``language`` (``status`` from :func:`terminal_status`).

    The check sentences stay as :mod:`kiosk.checks` says them (they name commands and files).
    """
    words = screen_texts(language)
    sync = status.get("sync") or {}
    clock = words["clock_synced"] if status["clock"]["synced"] else words["clock_not_synced"]
    if sync.get("provisioned"):
        provisioning = words["provisioned"].format(server=sync.get("server"))
    elif sync.get("server"):
        provisioning = words["token_missing"].format(server=sync.get("server"))
    elif sync:
        provisioning = words["not_provisioned"]
    else:
        provisioning = status.get("provisioning", "")
    facts = [
        ("fact_terminal", status["terminal_id"]),
        ("fact_site", status["site"]),
        ("fact_counter", status["counter"]),
        ("fact_server", sync.get("server") or words["none"]),
        ("fact_provisioning", provisioning),
        ("fact_pending", status["pending"]),
        ("fact_last_sync", sync.get("last_success_at") or words["never"]),
        ("fact_last_error", sync.get("last_error") or words["none"]),
        ("fact_kept_aside", kept_aside(sync)),
        *([("fact_server_pace", pacing)] if (pacing := server_pace(sync, language)) else []),
        ("fact_clock", f"{clock}, {words['clock_now']} {status['clock']['now']}"),
        ("fact_ip", status.get("ip_address") or words["no_network"]),
        ("fact_version", status["version"]),
    ]
    remote = status.get("remote_settings")
    if remote and (remote["applied"] or remote["refused"]):
        applied = remote["applied"]
        said = (words["settings_applied"].format(version=applied["version"], at=applied["at"]) if applied
                else words["none"])
        if remote["error"]:
            said += "; " + words["settings_refused"].format(error=remote["error"])
        facts.append(("fact_settings", said))
    if "today" in status:
        facts.append(("fact_filtered", filtered(status["today"], language)))
    if status.get("hardware"):
        facts.append(("fact_buttons", status["hardware"]))
    lines = [f"{words[key]}: {value}" for key, value in facts]
    return "\n".join(lines + _check_lines(status, language))


def _check_lines(status: dict, language: str = "en") -> list[str]:
    """The startup checks of ``status``, a heading and one indented line each (none: no lines)."""
    if not status.get("checks"):
        return []
    from .checks import FAIL, OK, WARN, Check, format_checks

    words = screen_texts(language)
    marks = {OK: words["check_ok"], WARN: words["check_warn"], FAIL: words["check_fail"]}
    return [f"{words['fact_checks']}:"] + ["  " + line for line in format_checks(
        [Check(**c) for c in status["checks"]], marks=marks)]

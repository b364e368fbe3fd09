"""Remote settings on the terminal: the config it runs, the set waiting for a quiet moment, and what changes.

The terminal runs its local file with the remote set it applied laid on top (:func:`effective_config`), from
the first frame. The uploader hands a newly checked set over (:class:`SettingsOffer`, from its own thread);
the screens apply it at the next quiet moment on the home screen (never while a citizen is rating), note it as
applied, and report its version with the next heartbeat. Keys in :data:`LIVE_KEYS` are applied in place; any
other change (colours, text size, officers, dossiers, the voice, the beep) rebuilds the screens through the
service screen's restart (kiosk/restart.py), the set already noted as applied, so the new process runs it.

    >>> from kiosk.config import parse_config
    >>> local = parse_config({"feedback": {"thanks_s": 3}})
    >>> new = overlay(config_data(local), {"feedback.thanks_s": 5, "texts.thanks_vi": "Xin cảm ơn!"})
    >>> sorted(changed_keys(local, new)), needs_restart(changed_keys(local, new))
    (['feedback.thanks_s', 'texts.thanks_vi'], False)
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sync import settings_state

from .config import Config
from .errors import ConfigError
from .remote_settings import REMOTE_KEYS, overlay
from .timekeeping import iso_utc

log = logging.getLogger(__name__)

#: Remote keys the screens take in place, without rebuilding anything.
LIVE_KEYS: frozenset[str] = frozenset(
    {name for name in REMOTE_KEYS if name.startswith(("texts.", "hours."))}
    | {"terminal.language", "feedback.reasons", "feedback.reason_timeout_s", "feedback.thanks_s",
       "feedback.repeat_interval_s", "feedback.reason_warning_s"})


def config_data(config: Config) -> dict[str, dict[str, Any]]:
    """``config`` as the TOML document that gives it (lists, not tuples), for :func:`overlay`."""
    data = {}
    for spec in dataclasses.fields(config):
        if spec.name == "source":
            continue
        section = getattr(config, spec.name)
        data[spec.name] = {key.name: (list(value) if isinstance(value := getattr(section, key.name), tuple)
                                      else value) for key in dataclasses.fields(section)}
    return data


def value_of(config: Config, name: str) -> Any:
    """The value of ``"section.key"`` in ``config``."""
    section, _, key = name.partition(".")
    return getattr(getattr(config, section), key)


def changed_keys(old: Config, new: Config) -> set[str]:
    """The remote keys whose value differs between ``old`` and ``new``."""
    return {name for name in REMOTE_KEYS if value_of(old, name) != value_of(new, name)}


def needs_restart(changed: set[str]) -> bool:
    """True when some change cannot be taken in place (the screens must be built again)."""
    return bool(changed - LIVE_KEYS)


def effective_config(local: Config, db) -> Config:
    """The config the terminal runs: ``local`` (its file) with the remote set it applied on top.

    A stored set that no longer fits the local file (the technician changed it since) is set aside: the
    terminal runs its file alone, and the refusal is noted for the heartbeat (the server sends the set again
    only when it changes).
    """
    applied = settings_state.applied_settings(db)
    if applied is None:
        return local
    try:
        return overlay(config_data(local), applied.values, source=f"{local.source} + remote settings {applied.version}")
    except ConfigError as exc:
        log.warning("remote settings %s no longer fit the local config (%s); the terminal runs its file alone",
                    applied.version, exc)
        at = iso_utc(datetime.now(timezone.utc))
        with db.atomic():
            db.execute(f"DELETE FROM {settings_state.TABLE} WHERE kind = 'applied'")
        settings_state.store_refused(db, applied.version, str(exc), at=at)
        return local


@dataclass(frozen=True)
class Offer:
    """A checked set waiting to be applied: its version, its values, and the config it gives."""

    version: str
    values: dict
    config: Config


class SettingsOffer:
    """The latest set the uploader handed over, until the screens take it (thread-safe: the uploader's thread
    puts, Kivy's thread takes). A newer set replaces one not yet applied."""

    def __init__(self):
        self._lock = threading.Lock()
        self._offer: Offer | None = None

    def put(self, version: str, values: dict, config: Config) -> None:
        with self._lock:
            self._offer = Offer(version, values, config)

    def peek(self) -> Offer | None:
        with self._lock:
            return self._offer

    def take(self, offer: Offer) -> bool:
        """Remove ``offer`` if it is still the latest (False: a newer one arrived meanwhile and stays)."""
        with self._lock:
            if self._offer is offer:
                self._offer = None
                return True
            return False

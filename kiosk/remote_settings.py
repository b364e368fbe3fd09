"""Which terminal settings the central server may set, and the rules they are checked with.

A setting that is not about the terminal's own hardware (texts, languages, reasons, timeouts, voice, officer
and dossier options, opening hours) can be set on the server for the fleet, a node, or one terminal. Pins, display wiring,
storage, the server link and the log stay in the local file. The server checks a change with the same rules as
the local config before it stores it (:func:`check_remote_values`), and the terminal checks the whole effective
set again against its own file before it applies it (:func:`overlay`), because some rules involve local keys
(reason buttons wired for the reasons offered).

    >>> check_remote_values({"feedback.thanks_s": 4})
    {'feedback.thanks_s': 4.0}
    >>> check_remote_values({"pins.satisfied": 5})
    Traceback (most recent call last):
    ...
    kiosk.errors.ConfigError: pins.satisfied: not a remote setting; it stays in the terminal's local file
"""

from __future__ import annotations

from typing import Any

from .config import _CHECKS, SCHEMA, Config, parse_config
from .errors import ConfigError

#: ``"section.key"`` names the server may set.
REMOTE_KEYS: frozenset[str] = frozenset({
    "terminal.language",
    "feedback.reasons", "feedback.reason_timeout_s", "feedback.thanks_s", "feedback.repeat_interval_s",
    "feedback.beep", "feedback.reason_warning_s",
    "display.high_contrast", "display.large_text",
    "voice.enabled", "voice.volume",
    "officers.enabled", "officers.badge_pattern", "officers.sign_out_at", "officers.pin_attempts",
    "officers.pin_lock_s",
    "dossier.enabled", "dossier.pattern", "dossier.invitation_s",
    # Issue 13: the citizens' texts as the office words them, and the counter's opening hours.
    *(f"texts.{name}" for name in SCHEMA["texts"]),
    "hours.opening",
})


def check_remote_values(values: dict[str, Any]) -> dict[str, Any]:
    """Each value checked with its key's rule; the checked values (e.g. seconds as floats), in the same order.

    Raises :class:`ConfigError` naming the first key that is unknown, not remote, or has a bad value.
    """
    if not isinstance(values, dict):
        raise ConfigError("remote settings: expected a table of \"section.key\" = value")
    checked = {}
    for name, value in values.items():
        section, _, key = str(name).partition(".")
        if section not in SCHEMA or key not in SCHEMA[section]:
            raise ConfigError(f"{name}: unknown setting; remote settings are {', '.join(sorted(REMOTE_KEYS))}")
        if name not in REMOTE_KEYS:
            raise ConfigError(f"{name}: not a remote setting; it stays in the terminal's local file")
        rule = SCHEMA[section][key]
        result = _CHECKS[rule.kind](name, value, rule)
        checked[name] = list(result) if isinstance(result, tuple) else result
    return checked


def overlay(local: dict[str, Any], values: dict[str, Any], *, source: str = "<remote>") -> Config:
    """The config a terminal runs: its parsed local TOML with the remote ``values`` on top, checked whole.

    Raises :class:`ConfigError` when a value is bad or does not fit the local file (e.g. fewer reasons than
    reason buttons wired).
    """
    checked = check_remote_values(values)
    data = {section: dict(keys) if isinstance(keys, dict) else keys for section, keys in local.items()}
    for name, value in checked.items():
        section, _, key = name.partition(".")
        data.setdefault(section, {})[key] = value
    return parse_config(data, source=source)

"""The terminal's TOML config: one declared table of keys, checked whole.

Every key has a type, a default and a line of help; ``load_config`` reads a
file, refuses unknown keys and bad values with a :class:`ConfigError` whose
message names the key, and returns a frozen :class:`Config`.

    >>> cfg = load_config(None)          # embedded defaults
    >>> cfg.feedback.repeat_interval_s
    5.0
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any, Callable

from sync.addresses import check_server_url
from sync.errors import SyncConfigError
from sync.names import control_character, name_problem, terminal_id_problem
from sync.opening_hours import OpeningHours

from .errors import ConfigError
from .ratings import LANGUAGES, MAX_REASONS, RATINGS, REASONS

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: BCM numbers of the general-purpose pins on the 40-pin header (0 and 1 are
#: reserved for the HAT EEPROM).
GPIO_RANGE = range(2, 28)


@dataclass(frozen=True)
class Key:
    """One config key: its kind, its default and what it is for."""

    kind: str  # str, path, name, choice, bool, seconds, count, fraction, pin, pins, reasons, pattern, badge_pattern,
    #            clock_time, citizen_text, opening_hours, public_key
    default: Any
    help: str
    choices: tuple = ()
    minimum: float = 0.0
    maximum: float | None = None


#: The screen texts an office may word its own way (``[texts] <name>_<language>``), see kiosk/texts.py.
CUSTOM_TEXTS = ("question", "reason_question", "thanks", "thanks_line")
#: The longest such text, in characters: two lines of the question at the smallest window.
CITIZEN_TEXT_MAX = 160

# The declared table. README's config section is checked against it by a test.
SCHEMA: dict[str, dict[str, Key]] = {
    "terminal": {
        "id": Key("terminal_id", "unprovisioned", "the terminal's id; set by provisioning"),
        "site": Key("name", "Bộ phận Một cửa", "the office, shown on the home screen"),
        "counter": Key("name", "Quầy 1", "the counter, shown on the home screen"),
        "language": Key("choice", "vi", "language of the screens", LANGUAGES),
    },
    "storage": {
        "path": Key("path", "var/kiosk.db", "the local SQLite file (relative to the working directory)"),
        "min_free_mb": Key("count", 100, "warn when less than this many MB are free beside the database",
                           minimum=0, maximum=1_000_000),
    },
    "feedback": {
        "reasons": Key("reasons", list(REASONS), "reason codes offered after dissatisfied, at most 6"),
        "reason_timeout_s": Key("seconds", 20.0, "the reason screen gives up after this", minimum=1.0),
        "thanks_s": Key("seconds", 3.0, "how long the thank-you screen stays", minimum=0.5),
        "repeat_interval_s": Key("seconds", 5.0, "presses sooner than this after the last counted one are filtered"),
        "beep": Key("bool", True, "beep on a counted press when a buzzer is wired"),
        # Accessibility (issue 12): the reason screen warns, big, before it gives up.
        "reason_warning_s": Key("seconds", 5.0, "seconds before the reason screen's time-out when a warning shows "
                                "(and is spoken); 0: no warning"),
    },
    "pins": {
        "very_satisfied": Key("pin", 17, "BCM pin of the very-satisfied button"),
        "satisfied": Key("pin", 27, "BCM pin of the satisfied button"),
        "dissatisfied": Key("pin", 22, "BCM pin of the dissatisfied button"),
        "reasons": Key("pins", [], "BCM pins of reason buttons 1-6, in the order of feedback.reasons"),
        "skip": Key("pin", None, "BCM pin of the skip button on the reason screen"),
        "bounce_s": Key("seconds", 0.05, "edges of one button closer than this are contact bounce"),
    },
    "leds": {
        "very_satisfied": Key("pin", None, "BCM pin of the LED beside the very-satisfied button"),
        "satisfied": Key("pin", None, "BCM pin of the LED beside the satisfied button"),
        "dissatisfied": Key("pin", None, "BCM pin of the LED beside the dissatisfied button"),
        "on_s": Key("seconds", 1.5, "how long an LED stays lit after a press", minimum=0.05),
    },
    "buzzer": {
        "pin": Key("pin", None, "BCM pin of the buzzer"),
        "beep_s": Key("seconds", 0.08, "length of a beep", minimum=0.01),
    },
    "display": {
        "kiosk": Key("bool", True, "fullscreen, hidden cursor, no screensaver"),
        "touch": Key("bool", True, "the screen is a touchscreen (reasons can be touched)"),
        "rotation": Key("choice", 0, "turn the picture (and touches) by 0, 90, 180 or 270 degrees", (0, 90, 180, 270)),
        # Accessibility (issue 12): see kiosk/ui/theme.py.
        "high_contrast": Key("bool", False, "the high-contrast colours (light text on black, 7:1 or more)"),
        "large_text": Key("bool", False, "every text of the screens larger (see kiosk/ui/theme.py LARGE_TEXT_SCALE)"),
    },
    "server": {
        "url": Key("str", "", "the central server, e.g. https://hailong.example.vn; set by `kiosk provision`"),
        "token_file": Key("path", "var/device.token", "file holding the device token (mode 0600); written by `kiosk provision`"),
        "ca_bundle": Key("str", "", "a private CA bundle to trust for the server's TLS certificate"),
        "allow_http": Key("bool", False, "allow plain http:// to a server that is not on this machine"),
        "batch_size": Key("count", 500, "ratings per upload batch, 1-500", minimum=1, maximum=500),
        "pause_s": Key("seconds", 0.01, "rest left to the server between its answer and the next batch while draining a backlog"),
        "heartbeat_s": Key("seconds", 300.0, "with nothing to send, report health this often", minimum=10.0),
        # Issue 14: a province's terminals coming back together after an outage do not all send at once.
        "drain_spread_s": Key("seconds", 60.0, "after a long outage the backlog starts at a random moment within "
                              "this many seconds (0: at once)", maximum=3600.0),
        "outage_s": Key("seconds", 600.0, "this long without an answer from the server, with ratings waiting, is a "
                        "long outage (0: never)"),
    },
    "service": {
        "pin_hash": Key("str", "", "hash of the service-screen PIN, from `kiosk pin-hash`; empty disables the screen"),
    },
    "voice": {
        "enabled": Key("bool", True, "spoken prompts: the question on request, the reasons, the thank-you"),
        "volume": Key("fraction", 0.8, "loudness of the spoken prompts, 0 (silent) to 1"),
        "folder": Key("str", "", "an office's own recordings: a file here named like a default (vi/thanks.wav) replaces it"),
    },
    "log": {
        "level": Key("choice", "INFO", "log level on stderr", LOG_LEVELS),
        "file_max_kb": Key("count", 1024, "size of kiosk.log (beside the database) before it rotates; 0: no file",
                           minimum=0, maximum=1_000_000),
        "file_count": Key("count", 3, "rotated log files kept (kiosk.log.1 ...)", minimum=1, maximum=100),
    },
    "officers": {
        "enabled": Key("bool", False, "officer sign-in at this terminal"),
        "badge_pattern": Key("badge_pattern", "^CB(?P<code>[A-Za-z0-9._-]{2,32})$",
                             "a scan matching this is a staff badge; its group `code` is the staff code"),
        "sign_out_at": Key("clock_time", "17:30", "local time HH:MM when whoever is signed in is signed out; empty: never"),
        "pin_attempts": Key("count", 5, "wrong PINs before the sign-in screen locks for pin_lock_s",
                            minimum=1, maximum=100),
        "pin_lock_s": Key("seconds", 60.0, "how long the sign-in screen stays locked after pin_attempts wrong PINs",
                          minimum=1.0),
    },
    "dossier": {
        "enabled": Key("bool", False, "dossier invitations at this terminal"),
        "pattern": Key("pattern", "^[A-Za-z0-9][A-Za-z0-9._/-]{5,47}$",
                       "a scan matching this (and not the badge pattern) is a dossier code"),
        "invitation_s": Key("seconds", 120.0, "the next counted rating within this time is linked; after it the "
                            "invitation is recorded as unanswered", minimum=5.0),
    },
    # Issue 13: what the citizens read, worded by the office (or the province, remotely); "" = the built-in text.
    "texts": {
        f"{name}_{language}": Key("citizen_text", "", f"the {name.replace('_', ' ')} in {language}; \"\": built-in")
        for name in CUSTOM_TEXTS for language in LANGUAGES
    },
    "hours": {
        "opening": Key("opening_hours", "", "the counter's opening hours, e.g. "
                       "\"Mon-Fri 07:30-17:00; Sat 07:30-11:30\"; outside them home says so discreetly; "
                       "\"\": always open"),
    },
    # Issue 13: signed software updates with roll-back (kiosk/updates.py, deploy/hai-long-launch).
    "updates": {
        "enabled": Key("bool", True, "take the signed releases the server offers (needs public_key)"),
        "public_key": Key("public_key", "", "the release key's public half (raw base64, from `kiosk-release keygen`); "
                          "set by `kiosk provision --release-key`; empty: no update is ever taken"),
        "root": Key("str", "/opt/hai-long", "the folder of the A/B slots (a, b) and the `current` link"),
        "max_kbps": Key("count", 200, "download bandwidth bound in KB/s; 0: unbounded", minimum=0, maximum=1_000_000),
        "min_free_mb": Key("count", 200, "MB that must stay free beside the slots after the download and unpacking",
                           minimum=0, maximum=1_000_000),
        "health_s": Key("seconds", 300.0, "a new version must draw its home screen and reach the server within "
                        "this, else the terminal returns to the previous one", minimum=10.0),
    },
}


@dataclass(frozen=True)
class TerminalSettings:
    id: str
    site: str
    counter: str
    language: str


@dataclass(frozen=True)
class StorageSettings:
    path: str
    min_free_mb: int


@dataclass(frozen=True)
class FeedbackSettings:
    reasons: tuple[str, ...]
    reason_timeout_s: float
    thanks_s: float
    repeat_interval_s: float
    beep: bool
    reason_warning_s: float


@dataclass(frozen=True)
class PinSettings:
    very_satisfied: int
    satisfied: int
    dissatisfied: int
    reasons: tuple[int, ...]
    skip: int | None
    bounce_s: float

    def rating_pins(self) -> dict[str, int]:
        return {rating: getattr(self, rating) for rating in RATINGS}


@dataclass(frozen=True)
class LedSettings:
    very_satisfied: int | None
    satisfied: int | None
    dissatisfied: int | None
    on_s: float

    def rating_pins(self) -> dict[str, int]:
        """The wired LEDs only, by rating code."""
        return {r: getattr(self, r) for r in RATINGS if getattr(self, r) is not None}


@dataclass(frozen=True)
class BuzzerSettings:
    pin: int | None
    beep_s: float


@dataclass(frozen=True)
class DisplaySettings:
    kiosk: bool
    touch: bool
    rotation: int
    high_contrast: bool
    large_text: bool


@dataclass(frozen=True)
class ServerSettings:
    url: str
    token_file: str
    ca_bundle: str
    allow_http: bool
    batch_size: int
    pause_s: float
    heartbeat_s: float
    drain_spread_s: float
    outage_s: float


@dataclass(frozen=True)
class ServiceSettings:
    pin_hash: str


@dataclass(frozen=True)
class VoiceSettings:
    enabled: bool
    volume: float
    folder: str


@dataclass(frozen=True)
class LogSettings:
    level: str
    file_max_kb: int
    file_count: int


@dataclass(frozen=True)
class OfficerSettings:
    enabled: bool
    badge_pattern: str
    sign_out_at: str
    pin_attempts: int
    pin_lock_s: float


@dataclass(frozen=True)
class DossierSettings:
    enabled: bool
    pattern: str
    invitation_s: float


def _custom_texts(self, language: str) -> dict[str, str]:
    """The texts of ``language`` the office words its own way (screen text key -> words).

        >>> TextsSettings(question_vi="Anh/chị hài lòng không?").custom("vi")
        {'question': 'Anh/chị hài lòng không?'}
    """
    return {name: value for name in CUSTOM_TEXTS if (value := getattr(self, f"{name}_{language}", ""))}


#: ``[texts]``: the office's own wording of the citizens' texts, one field per ``<name>_<language>``; "" = built-in.
TextsSettings = make_dataclass("TextsSettings", [(name, str, field(default="")) for name in SCHEMA["texts"]],
                               frozen=True, namespace={"custom": _custom_texts, "__module__": __name__})


@dataclass(frozen=True)
class HoursSettings:
    opening: str

    @property
    def hours(self) -> OpeningHours | None:
        """The parsed opening hours, or None for "always open"."""
        return OpeningHours.parse(self.opening) if self.opening.strip() else None


@dataclass(frozen=True)
class UpdateSettings:
    enabled: bool
    public_key: str
    root: str
    max_kbps: int
    min_free_mb: int
    health_s: float


@dataclass(frozen=True)
class Config:
    terminal: TerminalSettings
    storage: StorageSettings
    feedback: FeedbackSettings
    pins: PinSettings
    leds: LedSettings
    buzzer: BuzzerSettings
    display: DisplaySettings
    server: ServerSettings
    service: ServiceSettings
    voice: VoiceSettings
    log: LogSettings
    officers: OfficerSettings
    dossier: DossierSettings
    texts: TextsSettings = field(default_factory=TextsSettings)
    hours: HoursSettings = field(default_factory=lambda: HoursSettings(""))
    updates: UpdateSettings = field(default_factory=lambda: _SECTIONS["updates"](
        **{name: key.default for name, key in SCHEMA["updates"].items()}))
    source: str = field(default="embedded defaults", compare=False)

    @property
    def asks_reason(self) -> bool:
        """True when a dissatisfied citizen can answer the reason question."""
        return bool(self.feedback.reasons) and (self.display.touch or bool(self.pins.reasons))


_SECTIONS = {
    "terminal": TerminalSettings,
    "storage": StorageSettings,
    "feedback": FeedbackSettings,
    "pins": PinSettings,
    "leds": LedSettings,
    "buzzer": BuzzerSettings,
    "display": DisplaySettings,
    "server": ServerSettings,
    "service": ServiceSettings,
    "voice": VoiceSettings,
    "log": LogSettings,
    "officers": OfficerSettings,
    "dossier": DossierSettings,
    "texts": TextsSettings,
    "hours": HoursSettings,
    "updates": UpdateSettings,
}


def load_config(path: str | Path | None) -> Config:
    """Read and check the config at ``path``; None gives the embedded defaults.

    Raises :class:`ConfigError` naming the first wrong key.
    """
    data, source = read_config_data(path)
    return parse_config(data, source=source)


def read_config_data(path: str | Path | None) -> tuple[dict, str]:
    """The parsed TOML document at ``path`` (``{}`` for the embedded defaults) and what to call it, unchecked:
    the remote settings are laid over it (:func:`kiosk.remote_settings.overlay`) before it is checked whole.

    Raises :class:`ConfigError` when the file cannot be read or is not TOML.
    """
    if path is None:
        return {}, "embedded defaults"
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; pass --config with the path of the terminal's config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return data, str(path)


def parse_config(data: dict, *, source: str = "<dict>") -> Config:
    """Check a parsed TOML document against :data:`SCHEMA` and build a Config."""
    for section, values in data.items():
        if section not in SCHEMA:
            raise ConfigError(
                f"[{section}]: unknown section; expected one of {', '.join(SCHEMA)}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{section}: expected a [{section}] table of keys")
        for key in values:
            if key not in SCHEMA[section]:
                raise ConfigError(
                    f"[{section}] {key}: unknown key; [{section}] takes {', '.join(SCHEMA[section])}"
                )
    sections = {}
    for section, keys in SCHEMA.items():
        given = data.get(section, {})
        values = {}
        for name, key in keys.items():
            raw = given.get(name, key.default)
            values[name] = _CHECKS[key.kind](f"[{section}] {name}", raw, key)
        sections[section] = _SECTIONS[section](**values)
    config = Config(**sections, source=source)
    _check_across(config)
    return config


def _check_across(config: Config) -> None:
    """Rules that involve more than one key."""
    used: dict[int, str] = {}
    wired = [(f"[pins] {r}", p) for r, p in config.pins.rating_pins().items()]
    wired += [(f"[pins] reasons[{i + 1}]", p) for i, p in enumerate(config.pins.reasons)]
    wired += [("[pins] skip", config.pins.skip)]
    wired += [(f"[leds] {r}", p) for r, p in config.leds.rating_pins().items()]
    wired += [("[buzzer] pin", config.buzzer.pin)]
    for name, pin in wired:
        if pin is None:
            continue
        if pin in used:
            raise ConfigError(f"{name}: pin {pin} is already used by {used[pin]}; each pin can be wired to one device only")
        used[pin] = name
    if config.server.url:
        try:
            check_server_url(config.server.url, allow_http=config.server.allow_http)
        except SyncConfigError as exc:
            raise ConfigError(f"[server] url: {exc}") from None
    if len(config.pins.reasons) > len(config.feedback.reasons):
        raise ConfigError(
            f"[pins] reasons: {len(config.pins.reasons)} reason buttons but only "
            f"{len(config.feedback.reasons)} reasons in [feedback] reasons; remove pins or add reasons"
        )


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected text in quotes, got {value!r}")
    return value


def _check_str(name: str, value: Any, key: Key) -> str:
    value = _text(name, value)
    char = control_character(value)
    if char is not None:
        # A NUL cannot even be a file name (the terminal stopped with a traceback), and no id, address,
        # path or hash holds a tab or a newline.
        raise ConfigError(f"{name}: contains a control character (U+{ord(char):04X}); remove it")
    return value


def _check_path(name: str, value: Any, key: Key) -> str:
    """A file the terminal writes: text, not empty (an empty path is the working directory)."""
    value = _check_str(name, value, key)
    if not value.strip():
        raise ConfigError(f"{name}: expected the path of a file, got {value!r}")
    return value


def _check_name(name: str, value: Any, key: Key) -> str:
    """A site or counter name: text, bounded, no control characters (see :mod:`sync.names`)."""
    value = _text(name, value)
    problem = name_problem(value)
    if problem is not None:
        raise ConfigError(f"{name}: the name {problem}")
    return value


def _check_terminal_id(name: str, value: Any, key: Key) -> str:
    """The terminal's id: what the server accepts as one (see :mod:`sync.names`)."""
    value = _text(name, value)
    problem = terminal_id_problem(value)
    if problem is not None:
        raise ConfigError(f"{name}: the id {problem}")
    return value


def _check_choice(name: str, value: Any, key: Key) -> str:
    # Compared with the type too: TOML's false equals 0 and 90.0 equals 90 in Python, yet neither is a choice.
    if not any(type(value) is type(choice) and value == choice for choice in key.choices):
        raise ConfigError(f"{name}: expected one of {', '.join(map(repr, key.choices))}, got {value!r}")
    return value


def _check_bool(name: str, value: Any, key: Key) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    return value


def _check_seconds(name: str, value: Any, key: Key) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}: expected a number of seconds, got {value!r}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # a whole number too large for a float (JSON from the server can carry one)
        finite = False
    if not finite:  # TOML writes nan and inf; no timer can wait for them
        raise ConfigError(f"{name}: expected a finite number of seconds, got {value!r}")
    if value < key.minimum:
        raise ConfigError(f"{name}: expected at least {key.minimum:g} seconds, got {value!r}")
    if key.maximum is not None and value > key.maximum:
        raise ConfigError(f"{name}: expected at most {key.maximum:g} seconds, got {value!r}")
    return float(value)


def _check_count(name: str, value: Any, key: Key) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not key.minimum <= value <= key.maximum:
        raise ConfigError(f"{name}: expected a whole number from {key.minimum:g} to {key.maximum:g}, got {value!r}")
    return value


def _check_fraction(name: str, value: Any, key: Key) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{name}: expected a number from 0 to 1, got {value!r}")
    return float(value)


def _check_pin(name: str, value: Any, key: Key) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in GPIO_RANGE:
        raise ConfigError(f"{name}: expected a BCM GPIO number from 2 to 27, got {value!r}")
    return value


def _check_pins(name: str, value: Any, key: Key) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{name}: expected a list of BCM GPIO numbers, got {value!r}")
    if len(value) > MAX_REASONS:
        raise ConfigError(f"{name}: expected at most {MAX_REASONS} reason buttons, got {len(value)}")
    return tuple(_check_pin(f"{name}[{i + 1}]", v, key) for i, v in enumerate(value))


def _check_reasons(name: str, value: Any, key: Key) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name}: expected a list of reason codes in quotes, got {value!r}")
    if len(value) > MAX_REASONS:
        raise ConfigError(f"{name}: expected at most {MAX_REASONS} reasons, got {len(value)}")
    for code in value:
        if code not in REASONS:
            raise ConfigError(f"{name}: unknown reason code {code!r}; expected codes from {', '.join(REASONS)}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{name}: each reason may appear once, got {value!r}")
    return tuple(value)


def _check_pattern(name: str, value: Any, key: Key) -> str:
    """A regular expression a scan is matched against (Python's ``re``, whole scan: anchor it with ^ and $)."""
    value = _check_str(name, value, key)
    if not value:
        raise ConfigError(f"{name}: expected a regular expression, got an empty text")
    try:
        re.compile(value)
    except re.error as exc:
        raise ConfigError(f"{name}: not a valid regular expression ({exc})") from None
    return value


def _check_badge_pattern(name: str, value: Any, key: Key) -> str:
    """A regular expression with a group named ``code``: the staff code inside the badge's text."""
    value = _check_pattern(name, value, key)
    if "code" not in re.compile(value).groupindex:
        raise ConfigError(f"{name}: the pattern needs a group named code, e.g. ^CB(?P<code>[A-Za-z0-9._-]{{2,32}})$, "
                          f"got {value!r}")
    return value


_CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _check_public_key(name: str, value: Any, key: Key) -> str:
    """An Ed25519 public key as ``kiosk-release keygen`` writes it (raw 32 bytes, base64), or empty."""
    value = _text(name, value).strip()
    if not value:
        return ""
    import base64
    import binascii

    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{name}: expected the release public key in base64 (one line from "
                          f"`kiosk-release keygen`), got {value[:60]!r}") from None
    if len(raw) != 32:
        raise ConfigError(f"{name}: expected a 32-byte Ed25519 public key, got {len(raw)} bytes")
    return value


def _check_clock_time(name: str, value: Any, key: Key) -> str:
    """A local time of day, ``HH:MM`` on the 24-hour clock, or empty (never)."""
    value = _text(name, value)
    if value and not _CLOCK_TIME.fullmatch(value):
        raise ConfigError(f"{name}: expected a time of day as HH:MM (00:00 to 23:59) or \"\" for never, got {value!r}")
    return value


def _check_citizen_text(name: str, value: Any, key: Key) -> str:
    """Words a citizen reads: "" (the built-in text), or at most :data:`CITIZEN_TEXT_MAX` characters of one
    paragraph (no control character: a newline or a tab would break the screen's layout)."""
    value = _text(name, value)
    if not value:
        return value
    char = control_character(value)  # a newline or a tab too: they would break the screen's layout
    if char is not None:
        raise ConfigError(f"{name}: contains a control character (U+{ord(char):04X}); write the text on one line")
    if not value.strip():
        raise ConfigError(f"{name}: expected words, or \"\" for the built-in text, got only spaces")
    if len(value) > CITIZEN_TEXT_MAX:
        raise ConfigError(f"{name}: at most {CITIZEN_TEXT_MAX} characters fit on the screen, got {len(value)}")
    return value


def _check_opening_hours(name: str, value: Any, key: Key) -> str:
    """Opening hours as the server writes them (``Mon-Fri 07:30-17:00; Sat 07:30-11:30``), or "" (always open)."""
    value = _check_str(name, value, key)
    if value.strip():
        try:
            OpeningHours.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    return value


_CHECKS: dict[str, Callable[[str, Any, Key], Any]] = {
    "str": _check_str,
    "path": _check_path,
    "name": _check_name,
    "terminal_id": _check_terminal_id,
    "choice": _check_choice,
    "bool": _check_bool,
    "seconds": _check_seconds,
    "count": _check_count,
    "fraction": _check_fraction,
    "pin": _check_pin,
    "pins": _check_pins,
    "reasons": _check_reasons,
    "pattern": _check_pattern,
    "badge_pattern": _check_badge_pattern,
    "clock_time": _check_clock_time,
    "citizen_text": _check_citizen_text,
    "opening_hours": _check_opening_hours,
    "public_key": _check_public_key,
}

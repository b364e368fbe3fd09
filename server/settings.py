"""The server's settings: one declared table of name, default and help.

``Settings`` is frozen and checked when built, so a bad value or a placeholder
secret stops the server before it listens. Only the CLI reads the environment
(``HAILONG_SERVER_DB``); everything else is handed a ``Settings``.

    >>> Settings(db_url="sqlite:///var/server.db").port
    8080
    >>> Settings(db_url="postgresql://hailong:changeme@db/hailong")
    Traceback (most recent call last):
    ...
    server.errors.SettingsError: db_url: the database password is a placeholder ('changeme'); set a real one
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .errors import SettingsError

DEFAULT_DB_URL = "sqlite:///var/server.db"
DEFAULT_OPENING_HOURS = "Mon-Fri 07:30-17:00; Sat 07:30-11:30"

#: Passwords that are obviously copied from an example, never a real secret.
PLACEHOLDER_SECRETS = frozenset({
    "changeme", "change-me", "change_me", "password", "passwd", "secret", "example", "placeholder",
    "xxx", "xxxx", "todo", "fixme", "hailong", "postgres",
})


def _setting(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start. Build with keywords; every field has a default."""

    db_url: str = _setting(DEFAULT_DB_URL,
                           "database: sqlite:///path/to/file.db or postgresql://user:password@host/dbname")
    host: str = _setting("127.0.0.1", "address `serve` listens on")
    port: int = _setting(8080, "TCP port `serve` listens on")
    rate_limit_per_s: float = _setting(
        50.0, "batches one terminal may send per second, sustained (429 with Retry-After beyond)")
    rate_limit_burst: int = _setting(100, "batches one terminal may send at once before the rate applies")
    ratings_page_max: int = _setting(10_000, "most ratings one GET /api/v1/ratings page returns")
    enroll_code_ttl_s: int = _setting(7 * 24 * 3600, "default lifetime of an enrolment code, seconds")
    sqlite_busy_timeout_ms: int = _setting(10_000, "SQLite: how long a writer waits for the lock")
    db_pool_size: int = _setting(16, "database connections kept open (a few more may open under bursts)")
    timezone: str = _setting("Asia/Ho_Chi_Minh", "the sites' time zone: report periods and hours are local to it")
    opening_hours: str = _setting(DEFAULT_OPENING_HOURS,
                                  "when the counters are open, local time: `Mon-Fri 07:30-17:00; Sat 07:30-11:30`")
    terminal_silent_s: int = _setting(
        7200, "a terminal not heard from for this many seconds of opening hours stands out and raises an alert")
    alert_dissatisfied_pct: float = _setting(
        50.0, "alert when at least this percentage of one site's recent counted ratings is dissatisfied")
    alert_window_s: int = _setting(900, "the recent ratings the dissatisfied alert looks at: the last N seconds")
    alert_min_ratings: int = _setting(4, "the dissatisfied alert needs at least this many counted ratings in the window")
    alert_check_interval_s: int = _setting(60, "how often the alert rules are checked, seconds (0: only on demand)")
    alert_webhook_url: str = _setting("", "http(s) URL that receives each alert fired or cleared as JSON (empty: none)")
    dashboard_secret: str = _setting(
        "", "key that signs dashboard sessions (empty: generated once and kept in the database)")
    session_max_age_s: int = _setting(12 * 3600, "a dashboard login lasts this many seconds")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            wanted = {"str": str, "int": int, "float": (int, float)}[f.type]
            if isinstance(value, bool) or not isinstance(value, wanted):
                raise SettingsError(f"{f.name}: expected {f.type}, got {value!r}")
        if not 1 <= self.port <= 65535 and self.port != 0:
            raise SettingsError(f"port: {self.port} is not a TCP port (1-65535)")
        for name in ("rate_limit_per_s", "rate_limit_burst", "ratings_page_max", "enroll_code_ttl_s",
                     "db_pool_size"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name}: must be positive, got {getattr(self, name)!r}")
        if self.sqlite_busy_timeout_ms < 0:
            raise SettingsError("sqlite_busy_timeout_ms: must not be negative")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"timezone: {self.timezone!r} is not a time zone name such as Asia/Ho_Chi_Minh") from None
        self._check_alerts()
        object.__setattr__(self, "db_url", normalise_db_url(self.db_url))

    def _check_alerts(self) -> None:
        from .opening import OpeningHours  # here: the settings module stays importable on its own

        for name in ("terminal_silent_s", "alert_window_s", "alert_min_ratings", "session_max_age_s"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name}: must be positive, got {getattr(self, name)!r}")
        if self.alert_check_interval_s < 0:
            raise SettingsError("alert_check_interval_s: must not be negative (0 checks only on demand)")
        if not 0 < self.alert_dissatisfied_pct <= 100:
            raise SettingsError(f"alert_dissatisfied_pct: must be above 0 and at most 100, "
                                f"got {self.alert_dissatisfied_pct!r}")
        try:
            OpeningHours.parse(self.opening_hours)
        except ValueError as exc:
            raise SettingsError(f"opening_hours: {exc}") from None
        url = self.alert_webhook_url.strip()
        if url and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise SettingsError(f"alert_webhook_url: {url!r} is not an http:// or https:// URL")
        secret = self.dashboard_secret
        if secret and (secret.strip().lower() in PLACEHOLDER_SECRETS or secret.startswith("<") or len(secret) < 32):
            raise SettingsError("dashboard_secret: a placeholder or shorter than 32 characters; "
                                "leave it empty to have one generated, or set a long random one")

    @classmethod
    def table(cls) -> list[tuple[str, object, str]]:
        """(name, default, help) of every setting, in declaration order."""
        return [(f.name, f.default, f.metadata["help"]) for f in dataclasses.fields(cls)]


def normalise_db_url(url: str) -> str:
    """Check a database URL and name the driver the server uses.

    ``postgresql://`` becomes ``postgresql+psycopg://`` (psycopg 3); a bare path
    becomes a SQLite URL. A password that is a placeholder is refused.

    >>> normalise_db_url("postgresql://hl:s3cr3t-Value@localhost/hl")
    'postgresql+psycopg://hl:s3cr3t-Value@localhost/hl'
    >>> normalise_db_url("var/server.db")
    'sqlite:///var/server.db'
    """
    if "://" not in url:
        if not url.strip():
            raise SettingsError("db_url: empty; give sqlite:///path or postgresql://user:password@host/db")
        url = "sqlite:///" + url
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError(f"db_url: {url!r} is not a database URL "
                            "(sqlite:///path or postgresql://user:password@host/db)") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise SettingsError(f"db_url: {backend!r} is not supported; use sqlite:///path or postgresql://…")
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        elif parsed.drivername != "postgresql+psycopg":
            raise SettingsError(f"db_url: driver {parsed.drivername!r} is not installed; use postgresql://…")
        if parsed.password is not None and (parsed.password.strip().lower() in PLACEHOLDER_SECRETS
                                            or parsed.password.startswith("<")):
            raise SettingsError(f"db_url: the database password is a placeholder ({parsed.password!r}); "
                                "set a real one")
    elif parsed.database in (None, "", ":memory:"):
        raise SettingsError("db_url: the server needs a SQLite file (sqlite:///path), not an in-memory database")
    return parsed.render_as_string(hide_password=False)

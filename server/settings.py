"""The server's settings: one declared table of name, default and help.

``Settings`` is frozen and checked when built, so a bad value or a placeholder
secret stops the server before it listens. Every setting can be given as a
``kiosk-server`` option or as the environment variable ``HAILONG_<NAME>``
(:func:`settings_from` reads both; the CLI's options are made from this table);
everything else is handed a ``Settings``.

    >>> Settings(db_url="sqlite:///var/server.db").port
    8080
    >>> Settings(db_url="postgresql://hailong:changeme@db/hailong")
    Traceback (most recent call last):
    ...
    server.errors.SettingsError: db_url: the database password is a placeholder ('changeme'); set a real one
    >>> settings_from({"port": "9000"}, {"HAILONG_SESSION_MAX_AGE_S": "8h"}).session_max_age_s
    28800
    >>> settings_from({}, {"HAILONG_PORT": "eighty"})
    Traceback (most recent call last):
    ...
    server.errors.SettingsError: HAILONG_PORT: 'eighty' is not a whole number
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
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


ENV_PREFIX = "HAILONG_"


def _setting(default, help: str, *, option: str | None = None, metavar: str | None = None,
             env_aliases: tuple[str, ...] = (), duration: bool = False):
    """One row of the table. ``option`` overrides ``--name-with-dashes``; ``env_aliases`` are older
    variable names still read (after ``HAILONG_<NAME>``); a ``duration`` also takes ``90m``, ``2h``, ``7d``."""
    return field(default=default, metadata={"help": help, "option": option, "metavar": metavar,
                                            "env_aliases": env_aliases, "duration": duration})


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start. Build with keywords; every field has a default."""

    db_url: str = _setting(DEFAULT_DB_URL,
                           "database: sqlite:///path/to/file.db or postgresql://user:password@host/dbname; "
                           "every command uses it, only `serve` creates a new SQLite file",
                           option="--db", metavar="URL", env_aliases=("HAILONG_SERVER_DB",))
    host: str = _setting("127.0.0.1", "address `serve` listens on", metavar="H")
    port: int = _setting(8080, "TCP port `serve` listens on", metavar="P")
    rate_limit_per_s: float = _setting(
        50.0, "batches one terminal may send per second, sustained (429 with Retry-After beyond)")
    rate_limit_burst: int = _setting(100, "batches one terminal may send at once before the rate applies")
    # Admission control of the batch path (issue 14; server/admission.py, README "When the server is busy").
    ingest_concurrency: int = _setting(
        8, "batches one server process stores at once; beyond, 429 at once with a Retry-After that spreads the "
           "terminals out (terminals coming back at their turn may use up to twice it)")
    ingest_queue_ms: int = _setting(
        0, "a batch arriving when the server already stores --ingest-concurrency waits for a place when the queue "
           "ahead of it predicts one within this (else 429 at once), milliseconds (0, the default: no queue, 429 at "
           "once)")
    ingest_max_wait_ms: int = _setting(
        200, "a batch waiting longer than this for the database's write lock lowers the number stored at once "
             "(down to 1; back up to --ingest-concurrency when waits are short), milliseconds")
    pace_batch_size: int = _setting(
        0, "the batch size every receipt asks the terminals for, 1-500 (0: none asked; when busy, receipts still "
           "ask for a pause)")
    pace_pause_s: float = _setting(
        0.0, "the least pause between a terminal's batches every receipt asks for, seconds, up to 300 (0: none "
             "unless the server is busy)")
    ratings_page_max: int = _setting(10_000, "most ratings one GET /api/v1/ratings page returns")
    sqlite_busy_timeout_ms: int = _setting(10_000, "SQLite: how long a writer waits for the lock, milliseconds")
    db_pool_size: int = _setting(10, "database connections kept open for everything but batches (4 more may open "
                                     "under bursts; batches have 2 × --ingest-concurrency of their own)")
    timezone: str = _setting("Asia/Ho_Chi_Minh", "the sites' time zone: report periods and hours are local to it",
                             metavar="TZ")
    opening_hours: str = _setting(DEFAULT_OPENING_HOURS,
                                  "when the counters are open, local time: `Mon-Fri 07:30-17:00; Sat 07:30-11:30`",
                                  metavar="HOURS")
    terminal_silent_s: int = _setting(
        7200, "a terminal not heard from for this long in opening hours stands out and raises an alert",
        option="--silent-after", duration=True)
    alert_dissatisfied_pct: float = _setting(
        50.0, "alert when at least this percentage of one site's recent counted ratings is dissatisfied")
    alert_window_s: int = _setting(900, "how far back the dissatisfied alert looks for recent ratings",
                                   option="--alert-window", duration=True)
    alert_min_ratings: int = _setting(4, "the dissatisfied alert needs at least this many counted ratings in the window")
    alert_check_interval_s: int = _setting(60, "how often the alert rules are checked (0: only on demand)",
                                           option="--alert-interval", duration=True)
    alert_webhook_url: str = _setting("", "http(s) URL that receives each alert fired or cleared as JSON (empty: none)",
                                      option="--alert-webhook", metavar="URL", env_aliases=("HAILONG_ALERT_WEBHOOK",))
    dashboard_secret: str = _setting(
        "", "key that signs dashboard sessions, at least 32 characters (empty: generated once and kept in the "
            "database)", metavar="KEY")
    session_max_age_s: int = _setting(12 * 3600, "a dashboard login lasts this long",
                                      option="--session-max-age", duration=True)
    session_idle_s: int = _setting(3600, "a dashboard login ends after this long without a page opened (0: only "
                                         "--session-max-age ends it)", option="--session-idle", duration=True)
    trusted_proxies: str = _setting(
        "127.0.0.1,::1", "addresses of the reverse proxies whose X-Forwarded-Proto and X-Forwarded-For `serve` "
                         "believes, comma-separated (* for any; empty: none): behind HTTPS, dashboard cookies are "
                         "then Secure",
        metavar="ADDRESSES", env_aliases=("FORWARDED_ALLOW_IPS",))
    public_url: str = _setting(
        "", "the address terminals reach this server at, e.g. https://hailong.example.vn: enrolment codes issued on "
            "the dashboard and the API then come as enrolment strings and QR codes (empty: codes alone)",
        metavar="URL")
    dossier_retention_days: int = _setting(
        365, "dossier codes are kept this many days, then blanked in ratings and invitations (the ratings kept): by "
             "the background loop every hour, or `kiosk-server purge-dossiers`", metavar="DAYS")
    # Signed software releases (issue 13; server/releases.py).
    releases_dir: str = _setting(
        "", "the folder uploaded release archives are kept in (empty: `releases` beside the SQLite database, or "
            "`var/releases` with PostgreSQL)", metavar="DIR")
    release_public_key: str = _setting(
        "", "the release key's public half (raw base64, one line, as `kiosk-release keygen` writes it): an uploaded "
            "release whose signature it does not verify is refused (empty: only the size and SHA-256 are checked; "
            "the terminals always check the signature)", metavar="KEY")
    # The official PDF report (GET /api/v1/reports/summary?format=pdf and the dashboard's link), Decree 30's form.
    report_parent_body: str = _setting("", "official PDF report: the body above the issuer (cơ quan chủ quản), e.g. "
                                           "`UBND thành phố Hà Nội` (empty: none)", metavar="NAME")
    report_issuer: str = _setting("Bộ phận Một cửa", "official PDF report: the issuing body (cơ quan ban hành), "
                                                     "printed top left and in the first sentence", metavar="NAME")
    report_issuer_code: str = _setting("BPMC", "official PDF report: the issuer's abbreviation in the number line "
                                               "`Số: …/BC-BPMC`", metavar="CODE")
    report_place: str = _setting("Hà Nội", "official PDF report: the place on the date line", metavar="PLACE")
    report_signer_title: str = _setting("Thủ trưởng đơn vị", "official PDF report: the signer's capacity and title, "
                                                             "lines split by `;` (e.g. `TM. ỦY BAN NHÂN DÂN; CHỦ TỊCH`)")
    report_signer_name: str = _setting("", "official PDF report: the signer's full name (empty: a blank line to "
                                           "write it)", metavar="NAME")
    report_recipients: str = _setting("Lãnh đạo đơn vị; Lưu: VT", "official PDF report: the lines of `Nơi nhận:`, "
                                                                  "split by `;`")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            wanted = {"str": str, "int": int, "float": (int, float)}[f.type]
            if isinstance(value, bool) or not isinstance(value, wanted):
                raise SettingsError(f"{f.name}: expected {f.type}, got {value!r}")
        if not 1 <= self.port <= 65535 and self.port != 0:
            raise SettingsError(f"port: {self.port} is not a TCP port (1-65535)")
        for name in ("rate_limit_per_s", "rate_limit_burst", "ratings_page_max", "db_pool_size",
                     "dossier_retention_days", "ingest_concurrency", "ingest_max_wait_ms"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name}: must be positive, got {getattr(self, name)!r}")
        if self.sqlite_busy_timeout_ms < 0:
            raise SettingsError("sqlite_busy_timeout_ms: must not be negative")
        if not 0 <= self.ingest_queue_ms <= 10_000:
            raise SettingsError(f"ingest_queue_ms: must be 0-10000 milliseconds, got {self.ingest_queue_ms!r}")
        if not 0 <= self.pace_batch_size <= 500:
            raise SettingsError(f"pace_batch_size: must be 0 (none asked) or 1-500, got {self.pace_batch_size!r}")
        if not 0 <= self.pace_pause_s <= 300:
            raise SettingsError(f"pace_pause_s: must be 0-300 seconds, got {self.pace_pause_s!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"timezone: {self.timezone!r} is not a time zone name such as Asia/Ho_Chi_Minh") from None
        self._check_alerts()
        if self.release_public_key.strip():
            from .release_statement import public_key_problem  # here: the settings module stays light

            problem = public_key_problem(self.release_public_key.strip())
            if problem:
                raise SettingsError(f"release_public_key: {problem}")
        self.letterhead()  # a report_* field that cannot be printed stops the server at start
        object.__setattr__(self, "db_url", normalise_db_url(self.db_url))
        if self.public_url.strip():
            from sync.addresses import check_server_url
            from sync.errors import SyncConfigError

            try:
                object.__setattr__(self, "public_url", check_server_url(self.public_url.strip(), allow_http=True))
            except SyncConfigError as exc:
                raise SettingsError(f"public_url: {exc}") from None

    def _check_alerts(self) -> None:
        from .opening import OpeningHours  # here: the settings module stays importable on its own

        for name in ("terminal_silent_s", "alert_window_s", "alert_min_ratings", "session_max_age_s"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name}: must be positive, got {getattr(self, name)!r}")
        if self.session_idle_s < 0:
            raise SettingsError(f"session_idle_s: must not be negative (0: no idle timeout), got {self.session_idle_s!r}")
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

    def letterhead(self):
        """The official PDF report's :class:`reports.official_pdf.Letterhead`, from the ``report_*`` settings."""
        from reports.official_pdf import Letterhead, LetterheadError  # here: the settings module stays light

        fields = {"parent_body": "report_parent_body", "issuing_body": "report_issuer",
                  "issuer_code": "report_issuer_code", "place": "report_place",
                  "signer_title": "report_signer_title", "signer_name": "report_signer_name",
                  "recipients": "report_recipients"}
        try:
            return Letterhead.from_lines(**{key: getattr(self, name) for key, name in fields.items()})
        except LetterheadError as exc:
            name = fields.get(exc.field, "report_issuer")
            raise SettingsError(f"{name}: {str(exc).split(': ', 1)[-1]}") from None

    @classmethod
    def table(cls) -> list[tuple[str, object, str]]:
        """(name, default, help) of every setting, in declaration order."""
        return [(spec.name, spec.default, spec.help) for spec in SPECS]


@dataclass(frozen=True)
class SettingSpec:
    """One setting as the command line and the environment see it."""

    name: str
    type: type
    default: object
    help: str
    option: str
    env: str
    env_aliases: tuple[str, ...]
    metavar: str
    duration: bool

    @classmethod
    def of(cls, f: dataclasses.Field) -> "SettingSpec":
        kind = {"str": str, "int": int, "float": float}[f.type]
        meta = f.metadata
        metavar = meta["metavar"] or ("DURATION" if meta["duration"] else
                                      {str: "TEXT", int: "N", float: "NUMBER"}[kind])
        return cls(name=f.name, type=kind, default=f.default, help=meta["help"],
                   option=meta["option"] or "--" + f.name.replace("_", "-"), env=ENV_PREFIX + f.name.upper(),
                   env_aliases=meta["env_aliases"], metavar=metavar, duration=meta["duration"])

    @property
    def shown_default(self) -> str:
        """The default as a person would type it (``2h`` rather than ``7200`` for a duration)."""
        if self.duration:
            return format_duration(self.default)
        return str(self.default) if self.default != "" else "(empty)"

    def parse(self, text: str, source: str):
        """``text`` (from the option or variable ``source``) as this setting's type.

        >>> spec = SPECS_BY_NAME["terminal_silent_s"]
        >>> spec.parse("90m", "--silent-after"), spec.parse("45", "--silent-after")
        (5400, 45)
        >>> spec.parse("soon", "HAILONG_TERMINAL_SILENT_S")
        Traceback (most recent call last):
        ...
        server.errors.SettingsError: HAILONG_TERMINAL_SILENT_S: 'soon' is not a duration such as 45 (seconds), 30m, 2h or 7d
        """
        if self.type is str:
            return text
        value = text.strip()
        if self.duration:
            match = re.fullmatch(r"(\d+)\s*([smhd])", value)
            if match and int(match[1]) > 0:
                return int(match[1]) * DURATION_UNITS[match[2]]
            if not re.fullmatch(r"[+-]?\d+", value):
                raise SettingsError(f"{source}: {text!r} is not a duration such as 45 (seconds), 30m, 2h or 7d")
        try:
            return self.type(value)
        except ValueError:
            what = "a whole number" if self.type is int else "a number"
            raise SettingsError(f"{source}: {text!r} is not {what}") from None


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

#: The table, in declaration order, as the command line and the environment see it.
SPECS: tuple[SettingSpec, ...] = tuple(SettingSpec.of(f) for f in dataclasses.fields(Settings))
SPECS_BY_NAME = {spec.name: spec for spec in SPECS}


def format_duration(seconds: int) -> str:
    """``7200`` as ``2h``: the largest unit that divides it.

    >>> format_duration(7200), format_duration(900), format_duration(45), format_duration(0)
    ('2h', '15m', '45s', '0')
    """
    if seconds <= 0:
        return str(seconds)
    for unit in "dhm":
        if seconds % DURATION_UNITS[unit] == 0:
            return f"{seconds // DURATION_UNITS[unit]}{unit}"
    return f"{seconds}s"


def settings_from(given: Mapping[str, str | None], environ: Mapping[str, str]) -> Settings:
    """The settings from the command line's ``given`` values (text, None when not given), else from
    the environment (``HAILONG_<NAME>``, then its older names), else the defaults.

    A bad value raises :class:`SettingsError` whose message starts with where it came from: the
    option (``--port: …``) or the variable (``HAILONG_PORT: …``).

        >>> settings_from({"db_url": None}, {"HAILONG_SERVER_DB": "var/other.db"}).db_url
        'sqlite:///var/other.db'
    """
    values, sources = {}, {}
    for spec in SPECS:
        text, source = given.get(spec.name), spec.option
        if text is None:
            found = [name for name in (spec.env, *spec.env_aliases) if environ.get(name)]
            if len({environ[name] for name in found}) > 1:  # an old env file beside a new unit: say which wins
                raise SettingsError(f"{found[0]}: {' and '.join(found)} (an older name) are both set, "
                                    f"to different values; keep one")
            source = found[0] if found else None
            text = environ[source] if source else None
        if text is not None:
            values[spec.name] = spec.parse(text, source)
            sources[spec.name] = source
    try:
        return Settings(**values)
    except SettingsError as exc:
        name, _, reason = str(exc).partition(": ")
        if name in sources:
            raise SettingsError(f"{sources[name]}: {reason}") from None
        raise


def setting_source(name: str, given: Mapping[str, str | None], environ: Mapping[str, str]) -> str:
    """Where setting ``name`` came from: its option, its variable, or ``the default``.

    >>> setting_source("db_url", {"db_url": None}, {"HAILONG_DB_URL": "x.db"})
    'HAILONG_DB_URL'
    """
    spec = SPECS_BY_NAME[name]
    if given.get(name) is not None:
        return spec.option
    return next((env for env in (spec.env, *spec.env_aliases) if environ.get(env)), "the default")


def markdown_table() -> str:
    """README's table of the settings, made from this table (tests/test_docs.py checks README has it)."""
    lines = ["| option | environment variable | default | what it sets |", "| --- | --- | --- | --- |"]
    for spec in SPECS:
        env = " ".join(f"`{name}`" for name in (spec.env, *spec.env_aliases))
        default = f"`{spec.shown_default}`" if spec.default != "" else "(empty)"
        lines.append(f"| `{spec.option} {spec.metavar}` | {env} | {default} | {spec.help.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


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


def releases_folder(settings: Settings) -> "Path":
    """Where release archives are kept: ``releases_dir``, else ``releases`` beside the SQLite file, else
    ``var/releases``.

        >>> str(releases_folder(Settings(db_url="sqlite:////srv/hl/server.db")))
        '/srv/hl/releases'
    """
    from pathlib import Path

    if settings.releases_dir.strip():
        return Path(settings.releases_dir.strip()).expanduser()
    url = make_url(settings.db_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database).expanduser().parent / "releases"
    return Path("var/releases")

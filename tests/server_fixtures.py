"""Fixtures for the central server's tests (``tests/test_server_*.py``).

Test modules import them with ``from server_fixtures import *`` (pytest puts
``tests/`` on ``sys.path`` for its conftest, whichever way it is started).

Every server test runs on both backends through the parametrized
``server_db_url`` fixture: a SQLite file in ``tmp_path``, and a fresh
PostgreSQL database per test. PostgreSQL comes from, in order:

1. ``HAILONG_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``): a role allowed
   to create databases; each test gets its own, dropped afterwards;
2. else a throwaway cluster: ``initdb`` in a temporary folder (run as the ``postgres`` user when
   we are root), started on a free loopback port, stopped and removed at exit. Needs the server
   binaries (Debian: ``apt-get install postgresql``);
3. else the PostgreSQL tests are skipped with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import requests

POSTGRES_URL_ENV = "HAILONG_TEST_POSTGRES_URL"

__all__ = ["server_db_url", "start_server", "server", "make_rating", "make_batch", "ServerHarness",
           "FakeClock", "LiveServer", "ThrowawayPostgres", "postgres_admin_url", "TERMINAL_SITE",
           "TERMINAL_COUNTER", "in_ci", "Person", "TEST_PASSWORD", "postgres_database", "no_server_settings"]

TERMINAL_SITE = "UBND phường Phúc La"
TERMINAL_COUNTER = "Quầy 1"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


# -- PostgreSQL ------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bindir() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if candidates:
        return os.path.dirname(candidates[-1])
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary folder on a free loopback port, for tests and benchmarks.

    ``durable=False`` turns fsync off (tests); benchmarks keep it on. ``settings`` are more server
    settings (``{"max_wal_size": "8GB"}``). ``folder`` keeps the cluster there instead, across runs:
    made when missing, started again when present, never removed (bench/national.py --keep).

    For example::

        with ThrowawayPostgres() as pg:
            pg.url   # 'postgresql://postgres@127.0.0.1:41234/postgres'
    """

    def __init__(self, *, durable: bool = False, max_connections: int = 200, settings: dict | None = None,
                 folder: str | None = None):
        self.bindir = _postgres_bindir()
        if self.bindir is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb) not found; "
                                    "Debian: apt-get install postgresql")
        self.durable = durable
        self.max_connections = max_connections
        self.settings = settings or {}
        self.kept_folder = folder
        self.folder = None
        self.port = None

    def _run(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed ({result.returncode}): "
                               f"{(result.stderr or result.stdout).strip()[-2000:]}")

    def start(self) -> "ThrowawayPostgres":
        if self.kept_folder:
            self.folder = os.path.abspath(self.kept_folder)
            os.makedirs(self.folder, exist_ok=True)
        else:
            self.folder = tempfile.mkdtemp(prefix="hailong-pg-")
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = os.path.join(self.folder, "data")
        if not os.path.exists(os.path.join(data, "PG_VERSION")):
            self._run(f"{self.bindir}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                      "--locale=C", "--no-sync")
        options = [f"-p {{port}}", f"-k {self.folder}", "-c listen_addresses=127.0.0.1",
                   f"-c max_connections={self.max_connections}",
                   *(f"-c {name}={value}" for name, value in self.settings.items())]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        for _attempt in range(3):  # the free port may be taken between finding and binding it
            self.port = _free_port()
            try:
                self._run(f"{self.bindir}/pg_ctl", "-D", data, "-l", os.path.join(self.folder, "log"), "-w",
                          "-t", "60", "-o", " ".join(options).format(port=self.port), "start")
                return self
            except RuntimeError:
                if _attempt == 2:
                    raise
        return self

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.folder is None:
            return
        try:
            self._run(f"{self.bindir}/pg_ctl", "-D", os.path.join(self.folder, "data"), "-m",
                      "fast" if self.kept_folder else "immediate", "-w", "stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        if not self.kept_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


_postgres: dict = {}  # one cluster (or URL) and one template database for the whole test session


def postgres_admin_url() -> str:
    """A URL of a PostgreSQL role that may create databases; raises RuntimeError saying why not."""
    if "url" in _postgres:
        return _postgres["url"]
    if "error" in _postgres:
        raise RuntimeError(_postgres["error"])
    url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if not url:
        try:
            cluster = ThrowawayPostgres().start()
        except (FileNotFoundError, RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            _postgres["error"] = f"{POSTGRES_URL_ENV} is not set and no throwaway cluster could start: {exc}"
            raise RuntimeError(_postgres["error"]) from None
        atexit.register(cluster.stop)
        url = cluster.url
    _postgres["url"] = url
    return url


def _pg_admin_execute(sql: str) -> None:
    import psycopg
    with psycopg.connect(postgres_admin_url(), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql)


def _template_database() -> str:
    """A database migrated once, copied for each test (much faster than migrating each)."""
    if "template" not in _postgres:
        from sqlalchemy.engine import make_url

        from server.db import open_engine
        from server.settings import Settings

        name = f"hl_template_{uuid.uuid4().hex[:8]}"
        _pg_admin_execute(f"CREATE DATABASE {name}")
        url = make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
        open_engine(Settings(db_url=url)).dispose()
        _postgres["template"] = name
        if os.environ.get(POSTGRES_URL_ENV):
            atexit.register(_pg_admin_execute, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return _postgres["template"]


@pytest.fixture(params=["sqlite", "postgresql"])
def server_db_url(request, tmp_path):
    """A fresh, empty database URL on each backend (the schema is there already for PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    try:
        template = _template_database()
    except Exception as exc:  # noqa: BLE001 - any reason PostgreSQL is missing
        reason = f"PostgreSQL is not available: {exc}"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: the PostgreSQL tests must run)", pytrace=False)
        pytest.skip(reason)
    with postgres_database("hl_test", template=template) as url:
        yield url


@contextmanager
def postgres_database(prefix: str, *, template: str | None = None):
    """The URL of a new database named ``<prefix>_<random>`` (a copy of ``template``, else empty), dropped after."""
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _pg_admin_execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    try:
        yield make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        _pg_admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def no_server_settings(monkeypatch):
    """No ``HAILONG_*`` setting from the environment of whoever runs the tests (for tests of the commands)."""
    from server.settings import SPECS

    for spec in SPECS:
        for name in (spec.env, *spec.env_aliases):
            monkeypatch.delenv(name, raising=False)


# -- a real server on a loopback port --------------------------------------------------------------

class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1, port 0 (the kernel picks), in a thread."""

    def __init__(self, app, **config):
        """``config``: more ``uvicorn.Config`` options (e.g. ``access_log=True``, ``ssl_certfile``)."""
        import uvicorn

        config = uvicorn.Config(app, **{"host": "127.0.0.1", "port": 0, "log_level": "warning",
                                        "access_log": False, "lifespan": "on", **config})
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.005)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"{'https' if config.is_ssl else 'http'}://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


class FakeClock:
    """The server's wall clock, set by the test: ``clock.now_ns`` (ns since the epoch)."""

    def __init__(self, now_ns: int = 1_795_599_000_000_000_000):  # 2026-11-25T09:30:00Z
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * 1_000_000_000)


#: The password of the accounts tests make (long enough for the rule).
TEST_PASSWORD = "mật khẩu thử nghiệm"


@dataclass(frozen=True)
class Person:
    """An account a test logs in with: its id, user name and password."""

    id: int
    username: str
    password: str


@dataclass
class EnrolledTerminal:
    id: str
    token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


class ServerHarness:
    """A running server plus what tests do with it: enrol, upload, pull, look in the database."""

    def __init__(self, app, live: LiveServer):
        self.app = app
        self.live = live
        self.url = live.url
        self.http = requests.Session()

    @property
    def engine(self):
        return self.app.state.engine

    # -- accounts -------------------------------------------------------------------------------
    def issue_code(self, *, site: str = TERMINAL_SITE, counter: str | None = TERMINAL_COUNTER,
                   ttl_s: int = 3600, now_ns: int | None = None) -> str:
        from server.accounts import issue_enrollment_code
        from server.db import write_transaction

        with self.engine.connect() as conn, write_transaction(conn):
            return issue_enrollment_code(conn, site=site, counter=counter, ttl_s=ttl_s,
                                         now_ns=self.app.state.clock() if now_ns is None else now_ns)

    def enroll(self, *, site: str = TERMINAL_SITE, counter: str | None = TERMINAL_COUNTER) -> EnrolledTerminal:
        answer = self.post("/api/v1/enroll", json={"code": self.issue_code(site=site, counter=counter),
                                                   "app_version": "0.1.0"})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        return EnrolledTerminal(body["terminal_id"], body["device_token"])

    def admin_token(self, name: str = "test admin") -> str:
        from server.accounts import issue_admin_token
        from server.db import write_transaction

        with self.engine.connect() as conn, write_transaction(conn):
            return issue_admin_token(conn, name=name, now_ns=time.time_ns())

    def person(self, username: str = "test.admin", *, role: str = "province_admin", scope_node_id: int | None = None,
               password: str = TEST_PASSWORD, display_name: str | None = None, one_time: bool = False) -> "Person":
        """An account (made the first time it is asked for) and its password, to log in with."""
        from server.db import write_transaction
        from server.people import create_account, find_account

        with self.engine.connect() as conn, write_transaction(conn):
            found = find_account(conn, username=username)
            if found is None:
                found = create_account(conn, username=username, display_name=display_name or username, role=role,
                                       scope_node_id=scope_node_id, password=password, one_time=one_time,
                                       now_ns=self.app.state.clock())
        return Person(found.id, found.username, password)

    def admin_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.admin_token()}"}

    def revoke(self, terminal_id: str) -> None:
        from server.accounts import revoke_terminal
        from server.db import write_transaction

        with self.engine.connect() as conn, write_transaction(conn):
            revoke_terminal(conn, terminal_id, now_ns=time.time_ns())

    # -- HTTP -----------------------------------------------------------------------------------------
    def post(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.http.post(self.url + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.http.get(self.url + path, **kwargs)

    def upload(self, terminal: EnrolledTerminal, batch: dict) -> requests.Response:
        return self.post("/api/v1/batches", json=batch, headers=terminal.headers)

    # -- the database -----------------------------------------------------------------------------------
    def rows(self, table: str, **where) -> list[dict]:
        from sqlalchemy import select

        from server import schema

        t = getattr(schema, table)
        query = select(t).where(*[t.c[k] == v for k, v in where.items()])
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def count(self, table: str = "ratings", **where) -> int:
        return len(self.rows(table, **where))


@pytest.fixture
def start_server(server_db_url):
    """``start_server(clock=None, uvicorn=None, wrap=None, **settings)`` builds an app on this test's database and
    serves it (``uvicorn``: more ``uvicorn.Config`` options, see :class:`LiveServer`; ``wrap``: an ASGI layer
    around the app, ``wrap(app)``, served in its place)."""
    from server import Settings, create_app

    started: list[ServerHarness] = []

    def start(*, clock=None, uvicorn: dict | None = None, wrap=None, **settings) -> ServerHarness:
        app = create_app(Settings(db_url=server_db_url, **settings), **({"clock": clock} if clock else {}))
        harness = ServerHarness(app, LiveServer(wrap(app) if wrap else app, **(uvicorn or {})))
        started.append(harness)
        return harness

    yield start
    for harness in started:
        harness.http.close()
        harness.live.stop()
        harness.engine.dispose()


@pytest.fixture
def server(start_server) -> ServerHarness:
    """A server with default settings and the real clock."""
    return start_server()


# -- protocol documents ----------------------------------------------------------------------------------

def make_rating(terminal_id: str, **fields) -> dict:
    """A valid rating of ``terminal_id`` as the uploader sends it; ``fields`` override."""
    rating = {"id": str(uuid.uuid4()), "terminal_id": terminal_id, "rating": "satisfied", "reason": None,
              "reason_outcome": None, "source": "button", "created_at": "2026-11-25T09:30:12.345Z",
              "boot_id": "boot-1", "monotonic_ns": 6_000_000_000, "clock_synced": 1, "filtered": 0}
    rating.update(fields)
    return rating


def make_batch(ratings: list[dict], **fields) -> dict:
    """A valid batch around ``ratings``; ``fields`` override (``health`` merges)."""
    batch = {"sent_at": "2026-11-25T09:30:15.000Z", "boot_id": "boot-1", "monotonic_ns": 9_000_000_000,
             "health": {"pending": len(ratings), "app_version": "0.1.0", "clock_synced": True,
                        "last_error": None},
             "ratings": ratings}
    health = fields.pop("health", {})
    batch.update(fields)
    batch["health"] = {**batch["health"], **health}
    return batch

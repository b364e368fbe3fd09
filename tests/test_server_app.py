"""The app as a whole: settings, schema and migrations, OpenAPI, health, the home page."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server import Settings, create_app
from server.errors import SettingsError
from server.schema import metadata
from server_fixtures import *  # noqa: F403


def test_migrations_build_exactly_the_declared_schema(server):
    with server.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_migrations_are_named_and_applied_once(server_db_url):
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from server.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    names = [s.revision for s in reversed(list(scripts.walk_revisions()))]
    assert names[:2] == ["0001_initial", "0002_alerts"]
    assert all(re.fullmatch(r"\d{4}_[a-z_]+", name) for name in names)
    for _ in range(2):  # a second start finds the schema up to date
        app = create_app(Settings(db_url=server_db_url))
        with app.state.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [names[-1]]
        app.state.engine.dispose()


def test_sqlite_is_wal_with_full_sync(tmp_path):
    from sqlalchemy import text
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'sub' / 'server.db'}"))
    with app.state.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    app.state.engine.dispose()


@pytest.mark.parametrize("values, message", [
    ({"db_url": "postgresql://hl:changeme@db/hl"}, "placeholder"),
    ({"db_url": "postgresql://hl:<password>@db/hl"}, "placeholder"),
    ({"db_url": "sqlite://"}, "in-memory"),
    ({"db_url": "oracle://a:b@c/d"}, "not supported"),
    ({"port": "8080"}, "port"),
    ({"port": 70000}, "port"),
    ({"rate_limit_per_s": 0}, "rate_limit_per_s"),
    ({"rate_limit_burst": True}, "rate_limit_burst"),
])
def test_bad_settings_are_refused(values, message):
    with pytest.raises(SettingsError, match=message):
        Settings(**values)


def test_settings_table_has_help_for_every_setting():
    table = Settings.table()
    assert [name for name, _default, _help in table][:3] == ["db_url", "host", "port"]
    assert all(help_text for _name, _default, help_text in table)
    assert Settings().db_url == "sqlite:///var/server.db"
    assert Settings(db_url="postgresql://hl@db/hl").db_url == "postgresql+psycopg://hl@db/hl"


def test_openapi_documents_every_route_and_the_batch_body(server):
    document = server.get("/openapi.json").json()
    assert {"/api/v1/enroll", "/api/v1/batches", "/api/v1/ratings", "/api/v1/terminals", "/healthz"} <= \
        set(document["paths"])
    body = document["paths"]["/api/v1/batches"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Batch"}
    schemas = document["components"]["schemas"]
    assert {"Batch", "Rating", "Health", "BatchReceipt", "ErrorEnvelope", "RatingsPage"} <= set(schemas)
    assert "DeviceToken" in document["components"]["securitySchemes"]


def test_healthz_checks_the_database(server):
    answer = server.get("/healthz")
    assert answer.status_code == 200 and answer.json()["ok"] is True and answer.json()["database"] == "ok"
    server.engine.dispose()
    server.app.state.engine = _BrokenEngine()
    answer = server.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"ok": False, "error": "the database is not answering; try again later", "field": None}


class _BrokenEngine:
    def connect(self):
        from sqlalchemy.exc import OperationalError
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    def dispose(self):
        pass


def test_home_page_is_the_dashboard_behind_a_login(server):
    answer = server.get("/", allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["Location"] == "/login"
    answer = server.get("/login")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert "Đăng nhập" in answer.text and "Tên đăng nhập" in answer.text and "Mật khẩu" in answer.text

"""The server's settings: one table, each setting an option of ``serve`` and a ``HAILONG_<NAME>`` variable."""

from __future__ import annotations

import dataclasses

import pytest

from cli_helpers import run_main
from server.cli import cli, main
from server.settings import SPECS, Settings
from server_fixtures import *  # noqa: F403

#: A valid value other than the default, as typed, and what the setting then holds.
OTHER_VALUES = {
    "db_url": ("{tmp}/other.db", "sqlite:///{tmp}/other.db"),
    "host": ("0.0.0.0", "0.0.0.0"),
    "port": ("8099", 8099),
    "rate_limit_per_s": ("2.5", 2.5),
    "rate_limit_burst": ("7", 7),
    "ingest_concurrency": ("6", 6),
    "ingest_max_wait_ms": ("350", 350),
    "pace_batch_size": ("120", 120),
    "pace_pause_s": ("1.5", 1.5),
    "ratings_page_max": ("250", 250),
    "sqlite_busy_timeout_ms": ("2500", 2500),
    "db_pool_size": ("3", 3),
    "timezone": ("Asia/Bangkok", "Asia/Bangkok"),
    "opening_hours": ("Mon-Sat 08:00-17:00", "Mon-Sat 08:00-17:00"),
    "terminal_silent_s": ("90m", 5400),
    "alert_dissatisfied_pct": ("40", 40.0),
    "alert_window_s": ("1800", 1800),
    "alert_min_ratings": ("6", 6),
    "alert_check_interval_s": ("0", 0),
    "alert_webhook_url": ("http://127.0.0.1:9/hook", "http://127.0.0.1:9/hook"),
    "dashboard_secret": ("k" * 40, "k" * 40),
    "session_max_age_s": ("8h", 28800),
    "session_idle_s": ("30m", 1800),
    "trusted_proxies": ("10.0.0.5, 10.0.0.6", "10.0.0.5, 10.0.0.6"),
    "public_url": ("https://hailong.example.vn/", "https://hailong.example.vn"),
    "dossier_retention_days": ("180", 180),
    "report_parent_body": ("UBND thành phố Hà Nội", "UBND thành phố Hà Nội"),
    "report_issuer": ("UBND phường Hà Đông", "UBND phường Hà Đông"),
    "report_issuer_code": ("UBND", "UBND"),
    "report_place": ("Ninh Bình", "Ninh Bình"),
    "report_signer_title": ("KT. CHỦ TỊCH; PHÓ CHỦ TỊCH", "KT. CHỦ TỊCH; PHÓ CHỦ TỊCH"),
    "report_signer_name": ("Nguyễn Văn An", "Nguyễn Văn An"),
    "report_recipients": ("UBND thành phố; Lưu: VT", "UBND thành phố; Lưu: VT"),
    "releases_dir": ("{tmp}/releases", "{tmp}/releases"),
    "release_public_key": ("A" * 43 + "=", "A" * 43 + "="),
}


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(monkeypatch):
    for spec in SPECS:
        for name in (spec.env, *spec.env_aliases):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def serve(capsys, monkeypatch, tmp_path):
    """Run ``kiosk-server serve`` in-process with uvicorn replaced: (exit status, its settings or None, stderr)."""
    import uvicorn

    def run(args):
        served = []
        monkeypatch.setattr(uvicorn, "run", lambda app, **_kw: served.append(app))
        monkeypatch.chdir(tmp_path)
        status, _out, err = run_main(main, ["serve", *args], capsys)
        for app in served:
            app.state.engine.dispose()
        return status, (served[0].state.settings if served else None), err
    return run


def test_every_setting_has_a_test_value():
    assert set(OTHER_VALUES) == {spec.name for spec in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_every_setting_is_an_option_of_serve(spec, serve, tmp_path):
    typed, held = (value.format(tmp=tmp_path) if isinstance(value, str) else value for value in OTHER_VALUES[spec.name])
    assert held != spec.default
    status, settings, err = serve([spec.option, typed])
    assert status == 0, err
    assert getattr(settings, spec.name) == held


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_every_setting_is_a_variable_and_the_option_wins(spec, serve, monkeypatch, tmp_path):
    typed, held = (value.format(tmp=tmp_path) if isinstance(value, str) else value for value in OTHER_VALUES[spec.name])
    assert spec.env == "HAILONG_" + spec.name.upper()
    monkeypatch.setenv(spec.env, typed)
    status, settings, err = serve([])
    assert status == 0, err
    assert getattr(settings, spec.name) == held
    status, settings, err = serve([spec.option, str(spec.default)])
    assert status == 0, err
    assert getattr(settings, spec.name) == getattr(Settings(), spec.name)


def test_serve_options_are_made_from_the_table():
    options = {param.name: param for param in cli.commands["serve"].params}
    for spec in SPECS:
        assert spec.option in options[spec.name].opts
        assert spec.help in options[spec.name].help and spec.env in options[spec.name].help
    assert set(options) == {spec.name for spec in SPECS} | {"access_log"}


@pytest.mark.parametrize("variable, value, words", [
    ("HAILONG_RATE_LIMIT_PER_S", "fast", "'fast' is not a number"),
    ("HAILONG_RATINGS_PAGE_MAX", "1e4", "'1e4' is not a whole number"),
    ("HAILONG_DB_POOL_SIZE", "0", "must be positive"),
    ("HAILONG_PORT", "70000", "70000 is not a TCP port"),
    ("HAILONG_SESSION_MAX_AGE_S", "a day", "is not a duration"),
    ("HAILONG_TIMEZONE", "Mars/Olympus", "not a time zone"),
    ("HAILONG_SERVER_DB", "mysql://u:p@localhost/x", "not supported"),
    ("HAILONG_ALERT_WEBHOOK", "mailto:x@example.org", "not an http"),
    ("HAILONG_REPORT_SIGNER_NAME", "Nguyễn\tVăn An", "holds a control character"),
    ("HAILONG_REPORT_ISSUER", " ", "the issuing body's name is needed"),
    ("HAILONG_RELEASE_PUBLIC_KEY", "not-a-key", "not base64"),
    ("HAILONG_RELEASE_PUBLIC_KEY", "AAAA", "an Ed25519 public key is 32"),
])
def test_a_bad_variable_is_named_and_exits_2(variable, value, words, serve, monkeypatch):
    monkeypatch.setenv(variable, value)
    status, settings, err = serve([])
    assert status == 2 and settings is None
    assert f"Invalid value for {variable}: " in err and words in err and "Traceback" not in err


@pytest.mark.parametrize("option, value, words", [
    ("--rate-limit-per-s", "fast", "'fast' is not a number"),
    ("--db-pool-size", "-1", "must be positive"),
    ("--session-max-age", "0", "must be positive"),
])
def test_a_bad_option_is_named_and_exits_2(option, value, words, serve):
    status, settings, err = serve([option, value])
    assert status == 2 and settings is None
    assert f"Invalid value for {option}: " in err and words in err


def test_the_older_variable_names_still_work_and_may_not_disagree(serve, monkeypatch, tmp_path):
    monkeypatch.setenv("HAILONG_SERVER_DB", str(tmp_path / "old.db"))
    monkeypatch.setenv("HAILONG_ALERT_WEBHOOK", "http://127.0.0.1:9/old")
    status, settings, err = serve([])
    assert status == 0, err
    assert (settings.db_url, settings.alert_webhook_url) == (f"sqlite:///{tmp_path}/old.db", "http://127.0.0.1:9/old")
    monkeypatch.setenv("HAILONG_DB_URL", str(tmp_path / "new.db"))
    status, settings, err = serve([])
    assert status == 2 and settings is None
    assert "HAILONG_DB_URL and HAILONG_SERVER_DB (an older name) are both set, to different values" in err


def test_no_setting_is_dead():
    # enroll_code_ttl_s was checked but never read: enroll-code's --expires sets a code's lifetime.
    assert "enroll_code_ttl_s" not in {f.name for f in dataclasses.fields(Settings)}


def test_the_session_age_reaches_the_login_cookie(start_server):
    import re

    import requests

    server = start_server(session_max_age_s=1800, alert_check_interval_s=0)
    session = requests.Session()
    form = session.get(server.url + "/login", timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    person = server.person()
    answer = session.post(server.url + "/login", data={"username": person.username, "password": person.password,
                                                       "csrf": csrf}, allow_redirects=False, timeout=30)
    assert answer.status_code == 303
    assert "Max-Age=1800" in answer.headers["set-cookie"]


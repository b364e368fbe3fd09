"""``kiosk-server serve``'s alert and dashboard options: they reach the settings, bad ones exit 2."""

from __future__ import annotations

import pytest

from server.cli import main
from server_fixtures import *  # noqa: F403


def serve(args, capsys, monkeypatch, tmp_path):
    """Run ``serve`` with uvicorn replaced: return (exit status, the app it would serve, stderr)."""
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_kw: served.append(app))
    monkeypatch.delenv("HAILONG_ALERT_WEBHOOK", raising=False)
    monkeypatch.delenv("HAILONG_DASHBOARD_SECRET", raising=False)
    try:
        main(["serve", "--db", f"sqlite:///{tmp_path / 'server.db'}", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    for app in served:
        app.state.engine.dispose()
    return code, (served[0] if served else None), capsys.readouterr().err


def test_serve_passes_the_alert_options_to_the_settings(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HAILONG_ALERT_WEBHOOK", "http://127.0.0.1:9/hook")
    import uvicorn
    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_kw: served.append(app))
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--db", f"sqlite:///{tmp_path / 'server.db'}", "--opening-hours", "Mon-Sat 08:00-17:00",
              "--silent-after", "90m", "--alert-window", "30m", "--alert-min-ratings", "6",
              "--alert-dissatisfied-pct", "40", "--alert-interval", "0", "--timezone", "Asia/Bangkok"])
    assert exit_.value.code == 0
    settings = served[0].state.settings
    served[0].state.engine.dispose()
    assert (settings.opening_hours, settings.terminal_silent_s, settings.alert_window_s) == \
        ("Mon-Sat 08:00-17:00", 5400, 1800)
    assert (settings.alert_min_ratings, settings.alert_dissatisfied_pct, settings.alert_check_interval_s) == \
        (6, 40.0, 0)
    assert settings.timezone == "Asia/Bangkok" and settings.alert_webhook_url == "http://127.0.0.1:9/hook"
    assert "dashboard at http://127.0.0.1:8080/" in capsys.readouterr().err


@pytest.mark.parametrize("args, option, words", [
    (["--opening-hours", "weekdays 9 to 5"], "--opening-hours", "is not like"),
    (["--silent-after", "two hours"], "--silent-after", "not a duration"),
    (["--alert-window", "0m"], "--alert-window", "not a duration"),
    (["--alert-dissatisfied-pct", "150"], "--alert-dissatisfied-pct", "at most 100"),
    (["--alert-min-ratings", "0"], "--alert-min-ratings", "must be positive"),
    (["--alert-interval", "-5"], "--alert-interval", "must not be negative"),
    (["--alert-webhook", "mailto:x@example.org"], "--alert-webhook", "not an http"),
    (["--dashboard-secret", "changeme"], "--dashboard-secret", "placeholder"),
    (["--timezone", "Mars/Olympus"], "--timezone", "not a time zone"),
])
def test_bad_serve_options_exit_2_naming_the_option(capsys, monkeypatch, tmp_path, args, option, words):
    code, app, err = serve(args, capsys, monkeypatch, tmp_path)
    assert code == 2 and app is None
    assert option in err and words in err and "Traceback" not in err


def test_revoke_admin_refuses_the_token_at_once(start_server, server_db_url, capsys):
    server = start_server(alert_check_interval_s=0)
    token = server.admin_token("Phòng Nội vụ")
    assert server.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    try:
        main(["revoke-admin", "--name", "Phòng Nội vụ", "--db", server_db_url])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.strip() == "1 admin token(s) of Phòng Nội vụ revoked"
    answer = server.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]
    with pytest.raises(SystemExit) as exit_:
        main(["revoke-admin", "--name", "Phòng Nội vụ", "--db", server_db_url])
    assert exit_.value.code == 1
    assert capsys.readouterr().err.strip() == "kiosk-server: no live admin token has the name 'Phòng Nội vụ'"


def test_disable_account_ends_every_copy_of_its_sessions_and_no_other(start_server, server_db_url, capsys):
    import requests

    from dashboard_fixtures import log_in

    server = start_server(alert_check_interval_s=0)
    sessions = {name: log_in(server, server.person(name)) for name in ("phong.noi.vu", "van.phong")}
    token = server.admin_token("phong.noi.vu")
    saved = sessions["phong.noi.vu"].cookies["hl_session"]
    with pytest.raises(SystemExit) as exit_:
        main(["disable-account", "phong.noi.vu", "--db", server_db_url])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("account phong.noi.vu disabled since ")
    assert len(server.rows("dashboard_sessions")) == 1  # the disabled account's session row is gone
    replay = requests.Session()
    replay.cookies.set("hl_session", saved)
    answer = replay.get(server.url + "/", allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/login")
    assert server.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert sessions["van.phong"].get(server.url + "/fleet", allow_redirects=False, timeout=30).status_code == 200
    with pytest.raises(SystemExit) as exit_:
        main(["enable-account", "phong.noi.vu", "--db", server_db_url])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == "account phong.noi.vu enabled"
    assert server.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with pytest.raises(SystemExit) as exit_:
        main(["disable-account", "no.such.person", "--db", server_db_url])
    assert exit_.value.code == 2 and "no account has the user name 'no.such.person'" in capsys.readouterr().err

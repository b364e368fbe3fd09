"""``kiosk-server``: enroll-code, admin-token, revoke, terminals, serve; against a database URL."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from cli_helpers import run_main
from server.cli import main
from server.settings import SPECS
from server_fixtures import *  # noqa: F403


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(monkeypatch):
    for spec in SPECS:
        for name in (spec.env, *spec.env_aliases):
            monkeypatch.delenv(name, raising=False)


def run(args, capsys):
    return run_main(main, args, capsys)


def test_enroll_code_prints_a_code_that_enrols_once(server_db_url, capsys, start_server):
    server = start_server()
    code_status, out, err = run(["enroll-code", "--site", "UBND phường Phúc La", "--counter", "Quầy 3",
                                 "--expires", "2h", "--db", server_db_url], capsys)
    assert code_status == 0, err
    code = out.strip()
    assert re.fullmatch(r"hl_enr_[a-z2-7]{32}", code)
    assert "kiosk provision" in err
    answer = server.post("/api/v1/enroll", json={"code": code})
    assert answer.status_code == 201 and answer.json()["counter"] == "Quầy 3"
    assert server.post("/api/v1/enroll", json={"code": code}).status_code == 409
    row, = server.rows("enrollment_codes")
    assert row["expires_at"] > row["created_at"]


def test_admin_token_works_on_the_admin_api(server_db_url, capsys, start_server):
    server = start_server()
    status, out, err = run(["admin-token", "--name", "Phòng Nội vụ", "--db", server_db_url], capsys)
    assert status == 0, err
    token = out.strip()
    assert token.startswith("hl_adm_")
    assert server.get("/api/v1/terminals", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token not in repr(server.rows("admin_tokens"))


def test_revoke_cuts_a_running_terminal_off(server_db_url, capsys, start_server):
    server = start_server()
    terminal = server.enroll()
    assert server.upload(terminal, make_batch([])).status_code == 200
    status, out, err = run(["revoke", terminal.id, "--db", server_db_url], capsys)
    assert status == 0, err
    assert terminal.id in out and "revoked" in out
    assert server.upload(terminal, make_batch([])).status_code == 401
    status, out, _err = run(["revoke", terminal.id, "--db", server_db_url], capsys)
    assert status == 0  # revoking again is harmless


def test_revoke_unknown_terminal_is_a_plain_error(server, server_db_url, capsys):
    status, out, err = run(["revoke", "no-such-terminal", "--db", server_db_url], capsys)
    assert status == 1
    assert err.strip() == "kiosk-server: no terminal has the id 'no-such-terminal' (see `kiosk-server terminals`)"
    assert "Traceback" not in err


def test_terminals_lists_them(server_db_url, capsys, start_server):
    server = start_server()
    status, out, _err = run(["terminals", "--db", server_db_url], capsys)
    assert status == 0 and "no terminals yet" in out
    terminal = server.enroll()
    server.upload(terminal, make_batch([], health={"pending": 12, "app_version": "0.4.0"}))
    status, out, _err = run(["terminals", "--db", server_db_url], capsys)
    assert status == 0
    header, line = out.strip().splitlines()
    assert header.split()[:3] == ["id", "site", "counter"]
    assert terminal.id in line and TERMINAL_SITE in line and "0.4.0" in line and " 12 " in line


@pytest.mark.parametrize("variable", ["HAILONG_DB_URL", "HAILONG_SERVER_DB"])
def test_db_comes_from_the_environment(server_db_url, capsys, monkeypatch, start_server, variable):
    server = start_server()
    monkeypatch.setenv(variable, server_db_url)
    status, out, err = run(["admin-token", "--name", "from env"], capsys)
    assert status == 0, err
    assert server.count("admin_tokens") == 1


def test_every_command_finds_the_database_serve_uses(server_db_url, capsys, monkeypatch, start_server):
    # HAILONG_DB_URL as a systemd unit sets it: the commands run beside the server need no --db.
    server = start_server()
    monkeypatch.setenv("HAILONG_DB_URL", server_db_url)
    status, code, err = run(["enroll-code", "--site", TERMINAL_SITE], capsys)
    assert status == 0, err
    enrolled = server.post("/api/v1/enroll", json={"code": code.strip()})
    assert enrolled.status_code == 201, enrolled.text
    terminal_id = enrolled.json()["terminal_id"]
    status, out, err = run(["terminals"], capsys)
    assert status == 0 and terminal_id in out, err
    status, token, err = run(["admin-token", "--name", "Phòng Nội vụ"], capsys)
    assert status == 0, err
    assert server.get("/api/v1/terminals", headers={"Authorization": f"Bearer {token.strip()}"}).status_code == 200
    assert run(["revoke-admin", "--name", "Phòng Nội vụ"], capsys)[0] == 0
    assert run(["revoke", terminal_id], capsys)[0] == 0
    assert server.rows("terminals")[0]["revoked_at"]


@pytest.mark.parametrize("args", [["enroll-code", "--site", "X"], ["admin-token", "--name", "N"],
                                  ["revoke", "hd-x"], ["revoke-admin", "--name", "N"], ["terminals"]])
@pytest.mark.parametrize("where", ["default", "option", "HAILONG_DB_URL"])
def test_a_sqlite_file_that_is_not_there_is_refused_not_made(args, where, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "elsewhere" / "server.db"
    if where == "option":
        args = [*args, "--db", f"sqlite:///{missing}"]
    elif where == "HAILONG_DB_URL":
        monkeypatch.setenv("HAILONG_DB_URL", str(missing))
    else:
        missing = tmp_path / "var" / "server.db"
    status, out, err = run(args, capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"kiosk-server: there is no database at {missing} ")
    assert {"default": "(the default --db)", "option": "(--db)", "HAILONG_DB_URL": "(HAILONG_DB_URL)"}[where] in err
    assert "kiosk-server serve" in err
    assert not missing.exists() and not missing.parent.exists() or list(missing.parent.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["enroll-code"], "say where the terminal will stand: --node CODE"),
    (["enroll-code", "--site", "X", "--expires", "3w"], "Invalid value for --expires"),
    (["enroll-code", "--site", "  "], "must not be empty"),
    (["admin-token"], "give --account USERNAME (or --name N)"),
    (["revoke"], "Missing argument"),
    (["terminals", "--db", "postgresql://u:changeme@localhost/x"], "placeholder"),
    (["terminals", "--db", "mysql://u:p@localhost/x"], "not supported"),
    (["serve", "--port", "70000"], "70000"),
    (["nonsense"], "No such command"),
])
def test_bad_options_exit_2_with_a_plain_message(args, message, capsys, tmp_path):
    if "--db" not in args and args[0] not in ("nonsense",):
        args = [*args, "--db", f"sqlite:///{tmp_path / 's.db'}"]
    status, _out, err = run(args, capsys)
    assert status == 2
    assert message in err
    assert "Traceback" not in err


def test_unreachable_database_is_a_plain_error(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    status, _out, err = run(["terminals", "--db", f"postgresql://u:s3cret-pw@127.0.0.1:{port}/x"], capsys)
    assert status == 1
    assert err.startswith("kiosk-server: cannot open the database") and "***" in err and "s3cret" not in err


def test_serve_with_no_options_uses_var_server_db_and_answers(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "HAILONG_SERVER_DB"}
    process = subprocess.Popen([sys.executable, "-c", "from server.cli import main; main()", "serve",
                                "--port", str(port), "--no-access-log"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["ok"] is True
        assert (tmp_path / "var" / "server.db").is_file()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)

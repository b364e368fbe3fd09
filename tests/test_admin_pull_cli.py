"""``kiosk-admin pull`` as administrators run it: options, the token, messages, exit codes, the output."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import socket
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner

from server_fixtures import *  # noqa: F403
from admin import pull as pull_command
from admin.cli import cli
from admin.client import default_retry, make_session
from test_admin_pull import fleet, read_back, seed, served_rows
from test_sync_tls import private_ca, tls_server  # noqa: F401 - fixtures

BIN = Path(sys.executable).parent
KIOSK_ADMIN = BIN / "kiosk-admin"
SQLITE_UTILS = BIN / "sqlite-utils"


def run(*args, env=None):
    return CliRunner().invoke(cli, ["pull", *args], env=env or {}, catch_exceptions=False)


@pytest.fixture
def quick_retries(monkeypatch):
    """The real retry policy without its waits, so an unreachable server fails fast."""
    monkeypatch.setattr(pull_command, "make_session",
                        lambda ca_bundle=None: make_session(ca_bundle=ca_bundle,
                                                            retry=default_retry(total=1, backoff_factor=0)))


def test_the_real_command_pulls_with_the_token_from_the_environment_and_prints_one_line(server, tmp_path):
    seed(server, fleet(server), 6)
    token = server.admin_token()
    out = tmp_path / "ratings.db"
    env = {**os.environ, "HAILONG_ADMIN_TOKEN": token}
    done = subprocess.run([str(KIOSK_ADMIN), "pull", "--server", server.url, "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    served = served_rows(server, token)
    assert done.stdout == f"Pulled 6 new ratings into ratings.db (6 in the file, last cursor {served[-1]['cursor']}).\n"
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    assert read_back(out) == served


def test_the_sqlite_utils_cli_opens_the_pulled_file_as_it_is(server, tmp_path):
    seed(server, fleet(server), 7)
    token = server.admin_token()
    out = tmp_path / "ratings.db"
    assert run("--server", server.url, "--token", token, "--out", str(out)).exit_code == 0
    tables = json.loads(subprocess.run([str(SQLITE_UTILS), "tables", str(out), "--counts"], capture_output=True,
                                       text=True, check=True, timeout=60).stdout)
    assert {t["table"]: t["count"] for t in tables} == {"ratings": 7, "pull_state": 1}
    state = json.loads(subprocess.run([str(SQLITE_UTILS), "rows", str(out), "pull_state"], capture_output=True,
                                      text=True, check=True, timeout=60).stdout)
    served = served_rows(server, token)
    assert state[0]["server"] == server.url and state[0]["last_cursor"] == served[-1]["cursor"]
    filtered = json.loads(subprocess.run(
        [str(SQLITE_UTILS), "query", str(out), "select id, filtered from ratings where filtered = 1"],
        capture_output=True, text=True, check=True, timeout=60).stdout)
    assert {r["id"] for r in filtered} == {r["id"] for r in served if r["filtered"] == 1} != set()


def test_a_progress_bar_shows_on_a_terminal(server, tmp_path):
    seed(server, fleet(server), 4)
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    env = {**os.environ, "HAILONG_ADMIN_TOKEN": server.admin_token()}
    done = subprocess.Popen([str(KIOSK_ADMIN), "pull", "--server", server.url, "--out", str(tmp_path / "r.csv")],
                            env=env, stdout=subprocess.PIPE, stderr=secondary)
    os.close(secondary)
    shown = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        try:
            chunk = os.read(primary, 4096) if ready else b""
        except OSError:  # the other end closed
            chunk = b""
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    assert done.wait(60) == 0
    assert b"r.csv" in shown and b"4 ratings" in shown.replace(b"4.00", b"4")


def test_a_wrong_token_is_one_sentence_and_exit_1(server, tmp_path):
    result = run("--server", server.url, "--token", "hl_adm_not-a-token", "--out", str(tmp_path / "r.csv"))
    assert result.exit_code == 1
    assert result.output == ("Error: the server refused the admin token (401): it is wrong or has been "
                             "revoked.\n")


def test_the_token_is_required_from_the_option_or_the_environment(server, tmp_path):
    result = run("--server", server.url, "--out", str(tmp_path / "r.csv"))
    assert result.exit_code == 2 and "HAILONG_ADMIN_TOKEN" in result.output
    seed(server, fleet(server), 2)
    result = run("--server", server.url, "--out", str(tmp_path / "r.csv"),
                 env={"HAILONG_ADMIN_TOKEN": server.admin_token()})
    assert result.exit_code == 0 and result.output.startswith("Pulled 2 new ratings into r.csv")


def test_an_unreachable_server_is_one_sentence_and_exit_1(tmp_path, quick_retries):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("--server", f"http://127.0.0.1:{port}", "--token", "t", "--out", str(tmp_path / "r.db"))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot reach the server at http://127.0.0.1:{port} (")
    assert result.output.count("\n") == 1


def test_a_network_drop_after_some_pages_says_what_was_saved(start_server, tmp_path, quick_retries):
    from fault_proxy import FaultProxy

    server = start_server(ratings_page_max=3)
    seed(server, fleet(server), 7)
    proxy = FaultProxy(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))).start()
    try:
        proxy.inject("pass", *["reset_before"] * 4)
        result = run("--server", proxy.url, "--token", server.admin_token(), "--out", str(tmp_path / "r.jsonl"))
    finally:
        proxy.stop()
    assert result.exit_code == 1
    first, second = result.output.splitlines()
    assert first.startswith("Saved 3 new ratings into r.jsonl (3 in the file, last cursor ")
    assert second.startswith("Error: cannot reach the server") and second.endswith(
        "; run the same command again to continue.")


@pytest.mark.parametrize(("args", "option", "says"), [
    (["--out", "ratings.txt"], "'--out'", "ratings.txt must end in .db, .csv, .xlsx or .jsonl"),
    (["--out", "ratings.db", "--server", "http://10.1.2.3:8000"], "'--server'", "--allow-http"),
    (["--out", "ratings.db", "--server", "ftp://example.vn"], "'--server'", "not an http(s) address"),
    (["--out", "ratings.db", "--page-size", "0"], "'--page-size'", "0"),
])
def test_bad_options_exit_2_naming_the_option(tmp_path, args, option, says):
    base = {"--server": "https://hailong.example.vn", "--token": "t"}
    given = dict(zip(args[::2], args[1::2]))
    given["--out"] = str(tmp_path / given["--out"])
    result = run(*[part for key, value in {**base, **given}.items() for part in (key, value)])
    assert result.exit_code == 2
    assert f"Invalid value for {option}" in result.output and says in result.output
    assert not list(tmp_path.iterdir())  # nothing made


def test_tls_is_verified_and_a_private_ca_is_trusted_when_given(tls_server, private_ca, tmp_path, quick_retries):
    tls_server.http.verify = str(private_ca / "ca.pem")  # the harness's own requests, to seed
    tls_server.http.trust_env = False  # else $REQUESTS_CA_BUNDLE would win over verify
    seed(tls_server, fleet(tls_server), 3)
    args = ["--server", tls_server.url, "--token", tls_server.admin_token(), "--out", str(tmp_path / "r.csv")]
    refused = run(*args)
    assert refused.exit_code == 1 and refused.output.startswith("Error: the server's TLS certificate was refused")
    assert "--ca-bundle" in refused.output
    trusted = run(*args, "--ca-bundle", str(private_ca / "ca.pem"))
    assert trusted.exit_code == 0 and trusted.output.startswith("Pulled 3 new ratings")
    tls_server.http.close()  # let the server stop without waiting on a kept-alive connection


def test_a_missing_ca_bundle_exits_2(tmp_path):
    result = run("--server", "https://hailong.example.vn", "--token", "t", "--out", str(tmp_path / "r.db"),
                 "--ca-bundle", str(tmp_path / "missing.pem"))
    assert result.exit_code == 2 and "'--ca-bundle'" in result.output


def test_a_file_in_a_missing_folder_is_one_sentence(tmp_path):
    result = run("--server", "https://hailong.example.vn", "--token", "t", "--out",
                 str(tmp_path / "nowhere" / "r.db"))
    assert result.exit_code == 1 and result.output == f"Error: the folder {tmp_path / 'nowhere'} does not exist.\n"

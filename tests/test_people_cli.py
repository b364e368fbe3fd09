"""``kiosk-server create-admin | accounts | admin-token --account | reset-password``, on both backends."""

from __future__ import annotations

import io

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import text

from dashboard_fixtures import log_in, post_login
from server.cli import cli, main
from server_fixtures import *  # noqa: F403

PASSWORD = "một câu thật dài làm mật khẩu"


def run(capsys, monkeypatch, *args: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def test_create_admin_then_log_in_and_list(start_server, server_db_url, capsys, monkeypatch):
    server = start_server(alert_check_interval_s=0)
    code, out, _err = run(capsys, monkeypatch, "create-admin", "Nguyen.An", "--name", "Nguyễn An", "--password-stdin",
                          "--db", server_db_url, stdin=PASSWORD + "\n")
    assert code == 0 and "province admin nguyen.an (Nguyễn An) created" in out
    row = server.rows("accounts", username="nguyen.an")[0]
    assert row["role"] == "province_admin" and row["scope_node_id"] is None and not row["must_change_password"]
    assert row["password_hash"].startswith("$argon2id$")
    log_in(server, Person(row["id"], "nguyen.an", PASSWORD))  # their own password: no change asked
    server.admin_token("Phòng Nội vụ")  # an account made from a token's name, tokens only
    code, out, _err = run(capsys, monkeypatch, "accounts", "--db", server_db_url)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["username", "name", "role", "scope", "password", "totp", "state"]
    assert any(line.split()[:5] == ["nguyen.an", "Nguyễn", "An", "province_admin", "whole"] for line in lines)
    assert any(line.startswith("Phòng Nội vụ") and "none (tokens only)" in line for line in lines)


@pytest.mark.parametrize("args, stdin, words", [
    (["create-admin", "an", "--password-stdin"], "ngắn\n", "Mật khẩu cần ít nhất 10 ký tự."),
    (["create-admin", "Có Dấu", "--password-stdin"], PASSWORD + "\n", "Tên đăng nhập gồm"),
    (["create-admin", "an.nguyen", "--password-stdin"], "an.nguyen là tôi đây\n", "không được chứa tên đăng nhập"),
    (["admin-token", "--account", "no.one"], "", "no account has the user name 'no.one'"),
    (["admin-token"], "", "give --account USERNAME (or --name N)"),
    (["reset-password", "no.one"], "", "no account has the user name 'no.one'"),
])
def test_bad_input_exits_2_with_a_sentence_and_stores_nothing(start_server, server_db_url, capsys, monkeypatch,
                                                              args, stdin, words):
    server = start_server(alert_check_interval_s=0)
    code, _out, err = run(capsys, monkeypatch, *args, "--db", server_db_url, stdin=stdin)
    assert code == 2 and words in err and "Traceback" not in err
    assert server.rows("accounts") == [] and server.rows("admin_tokens") == []


def test_create_admin_asks_for_the_password_twice(start_server, server_db_url):
    server = start_server(alert_check_interval_s=0)
    runner = CliRunner()
    mismatch = runner.invoke(cli, ["create-admin", "tran.binh", "--db", server_db_url],
                             input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output
    assert PASSWORD not in mismatch.output  # never echoed
    log_in(server, Person(0, "tran.binh", PASSWORD))
    again = runner.invoke(cli, ["create-admin", "tran.binh", "--password-stdin", "--db", server_db_url],
                          input=PASSWORD + "\n")
    assert again.exit_code == 2 and "đã có người dùng" in again.output


def test_admin_token_of_an_account_carries_its_role(start_server, server_db_url, capsys, monkeypatch):
    server = start_server(alert_check_interval_s=0)
    viewer = server.person("le.xem", role="viewer")
    code, out, err = run(capsys, monkeypatch, "admin-token", "--account", "le.xem", "--db", server_db_url)
    token = out.strip()
    assert code == 0 and token.startswith("hl_adm_") and "account le.xem (viewer, whole server)" in err
    assert [row["account_id"] for row in server.rows("admin_tokens")] == [viewer.id]
    assert server.get("/api/v1/ratings", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert server.get("/api/v1/terminals", headers={"Authorization": f"Bearer {token}"}).status_code == 403  # no fleet
    code, out, err = run(capsys, monkeypatch, "admin-token", "--name", "Sở Nội vụ", "--db", server_db_url)
    assert code == 0 and "account Sở Nội vụ (province_admin, whole server)" in err
    made = server.rows("accounts", username="Sở Nội vụ")[0]
    assert (made["role"], made["password_hash"], made["scope_node_id"]) == ("province_admin", None, None)


def test_reset_password_unlocks_a_locked_out_admin(start_server, server_db_url, capsys, monkeypatch):
    from server.dashboard.logins import ACCOUNT_FREE_FAILURES

    server = start_server(alert_check_interval_s=0)
    admin = server.person("khoa.admin")
    session = log_in(server, admin)
    for i in range(ACCOUNT_FREE_FAILURES + 1):
        post_login(server, requests.Session(), admin, password=f"sai {i}")
        with server.engine.connect() as conn:  # the address lock-out is not what this test is about
            conn.execute(text("DELETE FROM login_failures"))
            conn.commit()
    assert post_login(server, requests.Session(), admin).status_code == 429  # locked out
    code, out, err = run(capsys, monkeypatch, "reset-password", "khoa.admin", "--db", server_db_url)
    one_time = out.strip()
    assert code == 0 and len(one_time) == 14 and "one-time" in err and "lock-out lifted" in err
    assert session.get(server.url + "/fleet", allow_redirects=False, timeout=30).status_code == 303  # ended
    answer = post_login(server, requests.Session(), Person(admin.id, admin.username, one_time))
    assert answer.status_code == 303 and answer.headers["Location"] == "/account"  # must change it first
    code, _out, err = run(capsys, monkeypatch, "reset-password", "khoa.admin", "--password-stdin", "--drop-totp",
                          "--db", server_db_url, stdin=PASSWORD + "\n")
    assert code == 0 and "second factor off" in err
    answer = post_login(server, requests.Session(), Person(admin.id, admin.username, PASSWORD))
    assert answer.status_code == 303 and answer.headers["Location"] == "/"

"""``kiosk-admin report --server``: the same figures as on a pulled file, the token from the environment,
and one plain sentence when the server cannot be reached or refuses."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from report_fixtures import pull_to_db, upload_known
from server_fixtures import *  # noqa: F403
from admin.cli import cli
from test_sync_tls import private_ca, tls_server  # noqa: F401 - fixtures


def run(*args, env=None):
    return CliRunner().invoke(cli, ["report", *map(str, args)], env=env)


@pytest.fixture
def loaded(server, tmp_path):
    upload_known(server)
    token = server.admin_token()
    pull_to_db(server, {"Authorization": f"Bearer {token}"}, tmp_path / "pulled.db")
    return server, token, tmp_path / "pulled.db"


@pytest.mark.parametrize("fmt", ["table", "summary", "csv"])
def test_server_and_pulled_file_print_the_same(loaded, fmt):
    server, token, pulled = loaded
    options = ["--period", "month", "--on", "2026-11-10", "--by", "counter", "--format", fmt]
    online = run("--server", server.url, *options, env={"HAILONG_ADMIN_TOKEN": token})
    offline = run("--db", pulled, *options)
    assert online.exit_code == 0, online.output
    assert offline.exit_code == 0, offline.output
    assert online.output == offline.output
    assert "126" in online.output


def test_xlsx_from_the_server(loaded, tmp_path):
    import openpyxl
    server, token, _pulled = loaded
    out = tmp_path / "q.xlsx"
    result = run("--server", server.url, "--token", token, "--period", "quarter", "--on", "2026-11-10", "--out", out)
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(out)["Tổng hợp"]["B3"].value == "Quý IV/2026"


def test_a_wrong_token_exits_1_with_the_servers_sentence(server):
    result = run("--server", server.url, "--token", "hl_adm_wrong")
    assert result.exit_code == 1
    assert result.output.strip() == ("kiosk-admin: the server refused the report: "
                                     "the admin token is not known to this server")


def test_an_unreachable_server_exits_1():
    result = run("--server", "http://127.0.0.1:9", "--token", "hl_adm_x")
    assert result.exit_code == 1
    assert result.output.strip().startswith("kiosk-admin: cannot reach http://127.0.0.1:9")


def test_report_on_a_file_made_by_kiosk_admin_pull(loaded, tmp_path):
    """The whole administrator's path: pull into a .db, then report on it offline — same as the server."""
    server, token, _pulled = loaded
    out = tmp_path / "pulled-by-cli.db"
    pulled = CliRunner().invoke(cli, ["pull", "--server", server.url, "--out", str(out)],
                                env={"HAILONG_ADMIN_TOKEN": token})
    assert pulled.exit_code == 0, pulled.output
    import sqlite3
    with sqlite3.connect(out) as conn:  # made by the pull, so the first report is as quick as the next
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(ratings)")}
    assert {"ix_ratings_report_units", "ix_ratings_report_hours"} <= indexes
    options = ["--period", "month", "--on", "2026-11-10", "--by", "terminal", "--format", "csv"]
    offline = run("--db", out, *options)
    online = run("--server", server.url, *options, env={"HAILONG_ADMIN_TOKEN": token})
    assert offline.exit_code == 0, offline.output
    assert offline.output == online.output and ",126," in offline.output


def test_plain_http_to_another_machine_is_refused_unless_allowed():
    # The admin token would travel in clear: refused before any request (exit 2), allowed on demand.
    refused = run("--server", "http://192.0.2.1:8080", "--token", "hl_adm_x")
    assert refused.exit_code == 2 and "--allow-http" in refused.output and "'--server'" in refused.output
    allowed = run("--server", "http://127.0.0.1:9", "--token", "hl_adm_x", "--allow-http")
    assert allowed.exit_code == 1 and "cannot reach" in allowed.output


def test_tls_is_verified_and_a_private_ca_trusted_when_given(tls_server, private_ca):
    from test_admin_pull import fleet, seed

    tls_server.http.verify = str(private_ca / "ca.pem")
    tls_server.http.trust_env = False
    seed(tls_server, fleet(tls_server), 3)
    args = ["--server", tls_server.url, "--token", tls_server.admin_token(), "--by", "none", "--format", "csv"]
    refused = run(*args)
    assert refused.exit_code == 1 and "TLS certificate" in refused.output and "--ca-bundle" in refused.output
    trusted = run(*args, "--ca-bundle", private_ca / "ca.pem")
    assert trusted.exit_code == 0, trusted.output
    tls_server.http.close()

"""``kiosk provision STRING``: one string (or its QR code) from ``kiosk-server enroll-code``, on a real server.

The server and its certificate are checked before anything is written; an
unprovisioned terminal keeps its ratings and uploads them once provisioned.
The backend does not matter here, so these run on SQLite only
(tests/test_provision_sheet.py runs ``enroll-code`` on both).
"""

from __future__ import annotations

import http.server
import stat
import threading
import time

import pytest
from cli_helpers import run_main, write_terminal_config
import tomlkit

from kiosk.cli import main as kiosk_main
from kiosk.config import load_config
from kiosk.provisioning import provisioning_state
from kiosk.store import RatingStore
from kiosk.terminal import open_terminal
from server.cli import main as server_main
from server_fixtures import *  # noqa: F401,F403 - start_server, server
from server_fixtures import _free_port
from sync.enrollment import enrollment_string
from test_sync_tls import private_ca, tls_server  # noqa: F401 - fixtures: a server behind a private CA


@pytest.fixture
def server_db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'server.db'}"


def issue_strings(server, capsys, *extra) -> list[str]:
    """Enrolment strings as the administrator gets them: ``kiosk-server enroll-code --server URL``."""
    db_url = server.engine.url.render_as_string(hide_password=False)
    status, out, err = run_main(server_main, ["enroll-code", "--site", TERMINAL_SITE, "--counter", TERMINAL_COUNTER,
                                         "--server", server.url, "--db", db_url, *extra], capsys)
    assert status == 0, err
    return out.split()


def code_rows(server) -> list[dict]:
    return server.rows("enrollment_codes")


def assert_nothing_written(tmp_path, config_path, before: str) -> None:
    assert config_path.read_text(encoding="utf-8") == before
    assert not (tmp_path / "device.token").exists()


def test_the_one_string_provisions_and_says_the_next_step(server, tmp_path, capsys):
    config_path = write_terminal_config(tmp_path)
    [string] = issue_strings(server, capsys)
    assert string.startswith("hailong1:")

    status, out, err = run_main(kiosk_main, ["provision", string, "--config", str(config_path)], capsys)

    assert status == 0, err
    document = tomlkit.parse(config_path.read_text(encoding="utf-8"))
    assert document["server"]["url"] == server.url
    assert (document["terminal"]["site"], document["terminal"]["counter"]) == (TERMINAL_SITE, TERMINAL_COUNTER)
    assert "technician's note" in config_path.read_text(encoding="utf-8")
    assert stat.S_IMODE((tmp_path / "device.token").stat().st_mode) == 0o600
    [terminal] = server.rows("terminals")
    assert document["terminal"]["id"] == terminal["id"]
    assert f"Server {server.url} answers" in out and "systemctl restart kiosk" in out
    state = provisioning_state(load_config(config_path))
    assert state.provisioned and state.token_present and state.terminal_id == terminal["id"]
    assert state.server_url == server.url and terminal["id"] in state.words


def test_a_string_broken_over_lines_still_provisions(server, tmp_path, capsys):
    config_path = write_terminal_config(tmp_path)
    [string] = issue_strings(server, capsys)
    wrapped = "\n".join(string[i:i + 40] for i in range(0, len(string), 40))  # as an e-mail wraps it

    status, _out, err = run_main(kiosk_main, ["provision", wrapped, "--config", str(config_path)], capsys)

    assert status == 0, err
    assert server.count("terminals") == 1


def test_the_qr_code_decodes_to_the_string_that_provisions(server, tmp_path, capsys):
    import zxingcpp
    from PIL import Image

    config_path = write_terminal_config(tmp_path)
    [string] = issue_strings(server, capsys, "--qr", str(tmp_path / "code.png"))
    [barcode] = zxingcpp.read_barcodes(Image.open(tmp_path / "code.png"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode and barcode.text == string

    status, _out, err = run_main(kiosk_main, ["provision", barcode.text, "--config", str(config_path)], capsys)

    assert status == 0, err
    assert tomlkit.parse(config_path.read_text(encoding="utf-8"))["server"]["url"] == server.url


def test_server_and_code_options_still_work(server, tmp_path, capsys):
    config_path = write_terminal_config(tmp_path)
    status, out, err = run_main(kiosk_main, ["provision", "--server", server.url, "--code", server.issue_code(),
                                        "--config", str(config_path)], capsys)
    assert status == 0, err
    assert "Enrolled as" in out


def test_ratings_pressed_before_provisioning_reach_the_server(server, tmp_path, capsys):
    config_path = write_terminal_config(tmp_path)
    before = open_terminal(load_config(config_path), mock_pins=True, sync=True)  # the app, running unprovisioned
    assert before.uploader is None
    assert not provisioning_state(before.config).provisioned
    for rating in ("very_satisfied", "satisfied", "very_satisfied"):
        before.flow.press(rating, source="button")
    [string] = issue_strings(server, capsys)

    status, out, err = run_main(kiosk_main, ["provision", string, "--config", str(config_path)], capsys)
    assert status == 0, err
    assert "3 rating(s) stored before enrolment" in out
    before.flow.press("satisfied", source="touch")  # still the old app, still the old id
    before.close()

    after = open_terminal(load_config(config_path), mock_pins=True, sync=True)  # `systemctl restart kiosk`
    try:
        assert after.uploader is not None
        after.uploader.start()
        deadline = time.monotonic() + 20
        while server.count() < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        [terminal] = server.rows("terminals")
        assert sorted(row["terminal_id"] for row in server.rows("ratings")) == [terminal["id"]] * 4
    finally:
        after.close()


def test_an_unreachable_server_writes_nothing_and_spends_no_code(server, tmp_path, capsys):
    config_path = write_terminal_config(tmp_path)
    before = config_path.read_text(encoding="utf-8")
    dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens there

    status, _out, err = run_main(kiosk_main, ["provision", enrollment_string(dead, server.issue_code()),
                                         "--config", str(config_path)], capsys)

    assert status == 1
    assert err.startswith(f"kiosk: cannot reach {dead} (") and err.count("\n") == 1
    assert "nothing was written" in err and "Traceback" not in err
    assert_nothing_written(tmp_path, config_path, before)
    assert [row["used_at"] for row in code_rows(server)] == [None]


def test_a_refused_certificate_writes_nothing_until_the_ca_is_configured(tls_server, private_ca, tmp_path,
                                                                          capsys):
    config_path = write_terminal_config(tmp_path)
    before = config_path.read_text(encoding="utf-8")
    string = enrollment_string(tls_server.url, tls_server.issue_code())

    status, _out, err = run_main(kiosk_main, ["provision", string, "--config", str(config_path)], capsys)

    assert status == 1
    assert f"the TLS certificate of {tls_server.url} was refused" in err and "[server] ca_bundle" in err
    assert_nothing_written(tmp_path, config_path, before)
    assert [row["used_at"] for row in tls_server.rows("enrollment_codes")] == [None]

    # The same string, once the terminal trusts the district's CA:
    config_path.write_text(before + f'ca_bundle = "{private_ca / "ca.pem"}"\n', encoding="utf-8")
    status, out, err = run_main(kiosk_main, ["provision", string, "--config", str(config_path)], capsys)
    assert status == 0, err
    assert tls_server.count("terminals") == 1


def test_a_used_code_is_refused_in_one_sentence(server, tmp_path, capsys):
    [string] = issue_strings(server, capsys)
    first = tmp_path / "first"
    first.mkdir()
    assert run_main(kiosk_main, ["provision", string, "--config", str(write_terminal_config(first))], capsys)[0] == 0
    config_path = write_terminal_config(tmp_path)
    before = config_path.read_text(encoding="utf-8")

    status, _out, err = run_main(kiosk_main, ["provision", string, "--config", str(config_path)], capsys)

    assert status == 1 and err.count("\n") == 1
    assert err.startswith("kiosk: enrolment failed: the server refused the code (409: this enrolment code was "
                          "already used on ")
    assert_nothing_written(tmp_path, config_path, before)


def test_an_expired_code_is_refused_in_one_sentence(server, tmp_path, capsys):
    config_path = write_terminal_config(tmp_path)
    before = config_path.read_text(encoding="utf-8")
    code = server.issue_code(ttl_s=60, now_ns=time.time_ns() - 3600 * 1_000_000_000)

    status, _out, err = run_main(kiosk_main, ["provision", enrollment_string(server.url, code),
                                         "--config", str(config_path)], capsys)

    assert status == 1 and err.count("\n") == 1
    assert "(410: this enrolment code expired on " in err
    assert_nothing_written(tmp_path, config_path, before)


@pytest.mark.parametrize(("given", "says"), [
    ("hailong1:eyJ1IjoiaHR0cHM6Ly9oYWlsb25nLmV4YW1wbGUudm4iLCJjIjoiaGxfZW5y", "damaged or cut short"),
    ("hailong1:not*base64!", "damaged or cut short"),
    ("hailong2:eyJ1IjoiaHR0cHM6Ly94In0", "of version 2, which this terminal cannot read"),
    ("https://hailong.example.vn", "this is a server address, not an enrolment string"),
    ("hl_enr_abcdefghijklmnopqrstuvwxyz234567", "this is a bare enrolment code"),
    ("hello", "this is not an enrolment string: those start with hailong1:"),
])
def test_a_bad_string_exits_2_with_one_sentence(tmp_path, capsys, given, says):
    config_path = write_terminal_config(tmp_path)
    before = config_path.read_text(encoding="utf-8")

    status, out, err = run_main(kiosk_main, ["provision", given, "--config", str(config_path)], capsys)

    assert status == 2 and out == ""
    assert err.startswith("kiosk: ") and says in err and err.count("\n") == 1
    assert_nothing_written(tmp_path, config_path, before)


def test_a_string_and_server_options_together_are_refused(tmp_path, capsys):
    string = enrollment_string("https://hailong.example.vn", "hl_enr_abcdefghijklmnopqrstuvwxyz234567")
    status, _out, err = run_main(kiosk_main, ["provision", string, "--server", "https://other.example.vn",
                                         "--config", str(write_terminal_config(tmp_path))], capsys)
    assert status == 2 and "not both" in err


def test_a_server_that_is_not_hai_long_is_never_sent_the_code(tmp_path, capsys):
    requests_seen = []

    class NotOurs(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            requests_seen.append(("POST", self.path))
            self.send_error(404)

        def do_GET(self):
            requests_seen.append(("GET", self.path))
            body = b"<html>Welcome to the captive portal</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotOurs)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{other.server_address[1]}"
        config_path = write_terminal_config(tmp_path)
        before = config_path.read_text(encoding="utf-8")
        string = enrollment_string(url, "hl_enr_abcdefghijklmnopqrstuvwxyz234567")
        status, _out, err = run_main(kiosk_main, ["provision", string, "--config", str(config_path)], capsys)
    finally:
        other.shutdown()
        other.server_close()
    assert status == 1 and f"{url} did not answer like a Hài Lòng server" in err
    assert requests_seen == [("GET", "/healthz")]
    assert_nothing_written(tmp_path, config_path, before)


def test_a_config_that_cannot_be_written_spends_no_code(server, tmp_path, capsys):
    (tmp_path / "not-a-folder").write_text("a file where the config's folder should be")
    config_path = tmp_path / "not-a-folder" / "kiosk.toml"

    status, _out, err = run_main(kiosk_main, ["provision", enrollment_string(server.url, server.issue_code()),
                                         "--config", str(config_path)], capsys)

    assert status == 1 and f"cannot write {config_path}" in err and "sudo" in err
    assert [row["used_at"] for row in code_rows(server)] == [None]


def test_provisioning_state_says_what_is_missing(tmp_path):
    config_path = write_terminal_config(tmp_path, 'url = "https://hailong.example.vn"\n')
    state = provisioning_state(load_config(config_path))
    assert not state.provisioned and not state.token_present
    assert "device token" in state.words and "kiosk provision --force" in state.words
    (tmp_path / "device.token").write_text("hl_dev_x\n")
    assert provisioning_state(load_config(config_path)).provisioned
    state = provisioning_state(load_config(write_terminal_config(tmp_path)))
    assert not state.provisioned and state.server_url == "" and state.words.startswith("Not provisioned")


def test_under_sudo_the_token_goes_to_the_terminal_user_and_the_config_keeps_its_mode(server, tmp_path, capsys):
    import os

    if os.geteuid() != 0 and not in_ci():
        pytest.skip("needs root (as `sudo kiosk provision` runs, and as CI runs) to hand files to another user")
    terminal_user = 4321  # the `hailong` user: owns the data folder (systemd's StateDirectory)
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, terminal_user, terminal_user)
    config_path = tmp_path / "kiosk.toml"
    config_path.write_text(f'[storage]\npath = "{data / "kiosk.db"}"\n[server]\n'
                           f'token_file = "{data / "device.token"}"\n', encoding="utf-8")
    os.chown(config_path, 0, terminal_user)
    os.chmod(config_path, 0o640)  # root:hailong, readable by the terminal, not by everyone

    status, out, err = run_main(kiosk_main, ["provision", enrollment_string(server.url, server.issue_code()),
                                        "--config", str(config_path)], capsys)

    assert status == 0, err
    token = (data / "device.token").stat()
    assert (token.st_uid, stat.S_IMODE(token.st_mode)) == (terminal_user, 0o600)
    config = config_path.stat()
    assert (config.st_uid, config.st_gid, stat.S_IMODE(config.st_mode)) == (0, terminal_user, 0o640)
    assert f"readable only by user {terminal_user}" in out


def test_a_release_key_is_written_to_updates(server, tmp_path, capsys):
    from release.signing import new_key_pair, public_key_text

    config_path = write_terminal_config(tmp_path)
    key = tmp_path / "hai-long-release.pub"
    key.write_text(public_key_text(new_key_pair()[1]) + "\n")
    [string] = issue_strings(server, capsys)
    status, out, err = run_main(kiosk_main, ["provision", string, "--config", str(config_path),
                                             "--release-key", str(key)], capsys)
    assert status == 0, err
    assert load_config(config_path).updates.public_key == key.read_text().strip()
    assert "release public key" in out and "technician's note" in config_path.read_text(encoding="utf-8")

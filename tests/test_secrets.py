"""Suite 10 of issue 10, dependencies and secrets: no pinned dependency with a known vulnerability; tokens,
enrolment codes and dashboard session ids stored only as hashes (the real database files are scanned); the
terminal's token file 0600 whatever was in its folder; TLS verified by default; plain http only to loopback.

What other files already prove is not repeated here: a private CA refused until configured
(tests/test_sync_tls.py, tests/test_provision.py, tests/test_admin_pull_cli.py, tests/test_admin_report_server.py),
``check_server_url`` (tests/test_sync.py), the token's owner under sudo (tests/test_provision.py).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import requests
import tomlkit

from cli_helpers import run_main, write_terminal_config
from dashboard_fixtures import log_in
from kiosk.cli import main as kiosk_main
from reliability import record, scale
from server.accounts import secret_hash
from server.cli import main as server_main
from server_fixtures import *  # noqa: F403
from sync.enrollment import enroll, enrollment_string
from sync.errors import EnrollmentError
from sync.uploader import make_session
from test_sync_tls import TlsLiveServer, openssl

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "HAILONG_SOAK=1 .venv/bin/python -m pytest -m reliability tests/test_secrets.py"
SESSION_KEY = "s" * 20 + "-a-long-random-key-0123456789"
PYPI = "https://pypi.org/pypi"

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def figures():
    """The suite's figures, added to by each test and recorded once at the end."""
    tally = {"cases": 0, "vulnerabilities": 0, "plaintext_secrets": 0, "unaudited": 0}
    yield tally
    if tally["cases"]:
        record("Dependencies and secrets", command=COMMAND, **tally)


# -- dependencies ---------------------------------------------------------------------------------------------

def pinned_requirements() -> list[str]:
    """Every ``name==version`` of pyproject.toml, the extras included (each pinned exactly: checked)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = sorted({*project["dependencies"], *(p for extra in project["optional-dependencies"].values() for p in extra)})
    loose = [pin for pin in pins if not re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[^=<>~!,;\s]+", pin)]
    assert loose == [], f"dependencies must be pinned exactly (==): {loose}"
    return pins


def test_the_pinned_dependencies_have_no_known_vulnerability(tmp_path, figures):
    """pip-audit with PyPI's vulnerability service (the only registry CI reaches) over every pin.

    pip-audit asks PyPI per version (``/pypi/NAME/VERSION/json``). Where a registry answers only the project's
    page (``/pypi/NAME/json``, as the one this project's machines reach does), pip-audit skips the pin and still
    says "No known vulnerabilities found" with exit status 0: so a skip is never taken as a pass. The project's
    page lists the vulnerabilities of the latest release, so a pin that is the latest release is audited from
    it; an older pin that nothing could audit is counted as ``unaudited`` in the figures and named.
    """
    pins = pinned_requirements()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(pins) + "\n", encoding="utf-8")
    audit = subprocess.run([sys.executable, "-m", "pip_audit", "--vulnerability-service", "pypi", "--no-deps",
                            "--disable-pip", "--requirement", str(requirements), "--format", "json",
                            "--progress-spinner", "off"], capture_output=True, text=True, timeout=600)
    assert audit.returncode in (0, 1), audit.stderr  # 1: vulnerabilities found (counted below)
    report = {dep["name"].lower(): dep for dep in json.loads(audit.stdout)["dependencies"]}
    versions = {re.split(r"[\[=]", pin)[0].lower(): pin.split("==")[1] for pin in pins}
    assert set(report) == set(versions)

    found: dict[str, list[str]] = {}
    unaudited: list[str] = []
    http = requests.Session()
    for name, dep in sorted(report.items()):
        if "skip_reason" not in dep:
            found[name] = [v["id"] for v in dep["vulns"]]
            continue
        assert "not found on PyPI" in dep["skip_reason"], dep["skip_reason"]
        page = http.get(f"{PYPI}/{name}/json", timeout=60)
        page.raise_for_status()
        project = page.json()
        assert versions[name] in project["releases"], f"{name}=={versions[name]} is not on PyPI"
        if project["info"]["version"] == versions[name]:
            found[name] = [v["id"] for v in project["vulnerabilities"] if not v.get("withdrawn")]
        else:
            unaudited.append(f"{name}=={versions[name]} (latest {project['info']['version']})")
    vulnerable = {name: ids for name, ids in found.items() if ids}
    figures["cases"] += len(pins)
    figures["vulnerabilities"] += sum(len(ids) for ids in vulnerable.values())
    figures["unaudited"] += len(unaudited)
    if unaudited:
        print(f"\npip-audit: not auditable from this registry (not the latest release): {', '.join(unaudited)}")
    assert len(found) + len(unaudited) == len(pins)
    assert vulnerable == {}, f"pinned dependencies with known vulnerabilities (upgrade the pins): {vulnerable}"


# -- secrets stored as hashes ----------------------------------------------------------------------------------

def database_files(server) -> list[Path]:
    """The SQLite file and its WAL and shared-memory files (every byte the server wrote)."""
    database = Path(server.engine.url.database)
    return [path for path in database.parent.iterdir() if path.name.startswith(database.name)]


def every_stored_value(server) -> str:
    """Every value of every table, as one text (both backends)."""
    from sqlalchemy import select

    from server.schema import metadata

    with server.engine.connect() as conn:
        return "\n".join(repr(tuple(row)) for table in metadata.sorted_tables
                         for row in conn.execute(select(table)))


def test_tokens_codes_session_ids_and_passwords_are_stored_only_as_hashes(start_server, figures, capsys):
    from itsdangerous import URLSafeTimedSerializer

    server = start_server(dashboard_secret=SESSION_KEY, alert_check_interval_s=0)
    db_url = server.engine.url.render_as_string(hide_password=False)
    n = scale(3, 30)
    secrets: list[str] = []
    passwords: list[str] = []
    for i in range(n):  # as an administrator makes them: the real commands
        person = server.person(f"phong.{i}", password=f"mật khẩu bí mật của phòng số {i}")
        passwords.append(person.password)
        status, out, err = run_main(server_main, ["admin-token", "--account", f"phong.{i}", "--db", db_url], capsys)
        assert status == 0, err
        secrets.append(out.strip())
        status, out, err = run_main(server_main, ["enroll-code", "--site", TERMINAL_SITE, "--count", "2",
                                                  "--db", db_url], capsys)
        assert status == 0, err
        used, unused = out.split()
        secrets += [used, unused]
        answer = server.post("/api/v1/enroll", json={"code": used, "app_version": "0.1.0"})
        assert answer.status_code == 201, answer.text
        secrets.append(answer.json()["device_token"])
        cookie = log_in(server, person).cookies["hl_session"]
        session_id = URLSafeTimedSerializer(SESSION_KEY, salt="hailong-dashboard-session").loads(cookie)["s"]
        secrets.append(session_id)
    assert len(set(secrets)) == 5 * n and all(len(secret) >= 20 for secret in secrets)

    stored = every_stored_value(server)
    files = b"".join(path.read_bytes() for path in database_files(server)) if server.engine.dialect.name == "sqlite" \
        else b""
    # The scans see what is there: each secret's hash is found (in the rows, and in the files on SQLite).
    assert all(secret_hash(secret) in stored for secret in secrets)
    assert not files or all(secret_hash(secret).encode() in files for secret in secrets)
    # Passwords: Argon2 hashes, salted, so not found by hashing again; their text is nowhere.
    assert stored.count("$argon2id$") == n
    leaked = [secret for secret in secrets + passwords
              if secret in stored or (files and secret.encode() in files)]
    figures["cases"] += len(secrets) + len(passwords)
    figures["plaintext_secrets"] += len(leaked)
    assert leaked == []


# -- the terminal's token file ---------------------------------------------------------------------------------

@pytest.mark.parametrize("server_db_url", ["sqlite"], indirect=True)
def test_the_token_file_is_0600_and_provisioning_never_writes_through_a_planted_link(server, tmp_path, capsys,
                                                                                    figures):
    """The data folder belongs to the terminal's user and ``sudo kiosk provision`` runs as root: a token file
    left readable by everyone is replaced by a 0600 one, and a link planted at the temporary name (to a file
    the terminal's user must not touch) is neither followed nor handed over."""
    data = tmp_path / "data"
    data.mkdir()
    victim = tmp_path / "shadow"
    victim.write_text("root:secret\n")
    os.chmod(victim, 0o640)
    (data / "device.token").write_text("hl_dev_old\n")
    os.chmod(data / "device.token", 0o644)
    (data / "device.token.tmp").symlink_to(victim)
    config_path = tmp_path / "kiosk.toml"
    config_path.write_text(f'[storage]\npath = "{data / "kiosk.db"}"\n[server]\n'
                           f'token_file = "{data / "device.token"}"\n', encoding="utf-8")
    (tmp_path / "kiosk.toml.tmp").symlink_to(victim)
    terminal_user = None
    if os.geteuid() == 0:  # as under sudo: the folder is the terminal user's, the victim root's
        terminal_user = 4321
        os.chown(data, terminal_user, terminal_user)

    status, out, err = run_main(kiosk_main, ["provision", enrollment_string(server.url, server.issue_code()),
                                             "--config", str(config_path), "--force"], capsys)

    assert status == 0, err
    token = (data / "device.token").stat()
    assert not (data / "device.token").is_symlink() and stat.S_IMODE(token.st_mode) == 0o600
    assert terminal_user is None or token.st_uid == terminal_user
    device_token = (data / "device.token").read_text().strip()
    assert [row["token_hash"] for row in server.rows("terminals")] == [secret_hash(device_token)]
    assert victim.read_text() == "root:secret\n" and stat.S_IMODE(victim.stat().st_mode) == 0o640
    assert victim.stat().st_uid == os.geteuid()
    assert tomlkit.parse(config_path.read_text(encoding="utf-8"))["server"]["url"] == server.url
    figures["cases"] += 1


# -- TLS and plain http ----------------------------------------------------------------------------------------

@pytest.fixture
def self_signed(tmp_path):
    """A certificate for 127.0.0.1 signed by itself (no CA at all), as a hurried installation would make."""
    (tmp_path / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out", "self.pem", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", cwd=tmp_path)
    return tmp_path / "self.pem", tmp_path / "self.key"


def test_a_self_signed_server_is_refused_unless_its_certificate_is_configured(self_signed, tmp_path, figures):
    from server import Settings, create_app

    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'server.db'}"))
    live = TlsLiveServer(app, *self_signed)
    harness = ServerHarness(app, live)
    try:
        with pytest.raises(EnrollmentError, match="TLS certificate was refused"):
            enroll(live.url, harness.issue_code(), session=make_session(), app_version="0.1.0")
        assert harness.count("terminals") == 0
        receipt = enroll(live.url, harness.issue_code(), session=make_session(ca_bundle=str(self_signed[0])),
                         app_version="0.1.0")
        assert [row["id"] for row in harness.rows("terminals")] == [receipt.terminal_id]
    finally:
        harness.http.close()
        live.stop()
        app.state.engine.dispose()
    figures["cases"] += 2


def test_no_code_turns_certificate_checks_off():
    """TLS verification is the default everywhere and nothing in the product disables it."""
    sources = [path for package in ("kiosk", "sync", "admin", "server") for path in (ROOT / package).rglob("*.py")]
    turned_off = [f"{path.relative_to(ROOT)}:{n}" for path in sources
                  for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                  if re.search(r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context",
                               line)]
    assert turned_off == []
    assert make_session().verify is True


@pytest.mark.parametrize("server_db_url", ["sqlite"], indirect=True)
def test_plain_http_to_another_machine_is_refused_before_any_connection(server, tmp_path, capsys, figures):
    """An enrolment string or a config naming http:// on another machine: refused in one sentence, nothing
    written, no code spent (``.invalid`` never resolves: nothing could be sent even if it were tried)."""
    config_path = write_terminal_config(tmp_path)
    before = config_path.read_text(encoding="utf-8")
    code = server.issue_code()
    status, _out, err = run_main(kiosk_main, ["provision", enrollment_string("http://hailong.invalid:8080", code),
                                              "--config", str(config_path)], capsys)
    assert status != 0 and "http://" in err and "allow_http" in err and "Traceback" not in err
    assert config_path.read_text(encoding="utf-8") == before and not (tmp_path / "device.token").exists()
    assert server.rows("enrollment_codes")[0]["used_at"] is None

    (tmp_path / "other").mkdir()
    configured = write_terminal_config(tmp_path / "other", 'url = "http://hailong.invalid:8080"\n')
    status, _out, err = run_main(kiosk_main, ["status", "--config", str(configured)], capsys)
    assert status == 2 and "[server] url" in err and "allow_http" in err
    figures["cases"] += 2

"""The log: plain lines for the journal under systemd, a size-capped rotating file, last errors read back."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from kiosk.cli import cli
from kiosk.logs import log_path, recent_errors, setup_logging, under_systemd
from kiosk.store import RatingStore


@pytest.fixture(autouse=True)
def restore_logging():
    yield
    logging.basicConfig(level=logging.WARNING, force=True)


@pytest.mark.parametrize(("environ", "expected"), [
    ({"JOURNAL_STREAM": "8:12345"}, True), ({"INVOCATION_ID": "abc"}, True), ({}, False),
])
def test_systemd_is_recognised(environ, expected):
    assert under_systemd(environ) is expected


@pytest.mark.parametrize(("systemd", "stamped"), [(True, False), (False, True)])
def test_stderr_lines_are_plain_for_the_journal(capfd, tmp_path, systemd, stamped):
    setup_logging("INFO", under_systemd=systemd)
    logging.getLogger("kiosk.t").warning("hello journal")
    err = capfd.readouterr().err.strip()
    assert err.endswith("WARNING kiosk.t: hello journal")
    assert err.startswith("20") is stamped


def test_the_file_rotates_and_stays_capped(tmp_path):
    path = setup_logging("INFO", log_file=tmp_path / "kiosk.log", max_kb=4, count=2)
    log = logging.getLogger("kiosk.t")
    for n in range(400):
        log.info("line %d %s", n, "x" * 60)
    files = sorted(tmp_path.glob("kiosk.log*"))
    assert [f.name for f in files] == ["kiosk.log", "kiosk.log.1", "kiosk.log.2"]
    assert all(f.stat().st_size <= 4 * 1024 for f in files)
    assert "line 399" in path.read_text()


def test_last_errors_are_read_back_across_rotation(tmp_path):
    path = setup_logging("INFO", log_file=tmp_path / "kiosk.log", max_kb=1, count=3)
    log = logging.getLogger("kiosk.t")
    for n in range(8):
        log.error("failure %d", n)
        log.info("filler %s", "y" * 300)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("with a traceback")
    errors = recent_errors(path, limit=3)
    assert [e["message"] for e in errors] == ["failure 6", "failure 7", "with a traceback"]
    assert all(e["level"] == "ERROR" for e in errors)


def test_no_file_when_the_folder_cannot_be_written(tmp_path, capfd):
    (tmp_path / "blocked").write_text("a file, not a folder")
    assert setup_logging("INFO", log_file=tmp_path / "blocked" / "kiosk.log") is None
    assert "logging to stderr only" in capfd.readouterr().err


def test_kiosk_status_shows_the_last_errors(tmp_path):
    db = tmp_path / "kiosk.db"
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[storage]\npath = "{db}"\n', encoding="utf-8")
    RatingStore(db, terminal_id="t").close()
    from kiosk.config import load_config

    setup_logging("INFO", log_file=log_path(load_config(config)))
    logging.getLogger("kiosk.t").error("cannot reach the server (no route)")
    logging.basicConfig(level=logging.WARNING, force=True)  # close the file
    result = CliRunner().invoke(cli, ["status", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "Last errors and warnings (kiosk.log):" in result.output
    assert "cannot reach the server (no route)" in result.output
    as_json = CliRunner().invoke(cli, ["status", "--json", "--config", str(config)])
    import json

    assert json.loads(as_json.output)["recent_errors"][-1]["message"] == "cannot reach the server (no route)"

"""The `kiosk` command as a technician uses it."""

import json

import pytest

from kiosk import __version__
from kiosk.cli import main
from kiosk.service_pin import check_pin
from kiosk.store import RatingStore


def run_kiosk(args, capsys):
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr()


@pytest.fixture
def config_path(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[terminal]\nid = "hd-phucla-01"\nsite = "UBND phường Phúc La"\n'
                    f'[storage]\npath = "{tmp_path / "kiosk.db"}"\n', encoding="utf-8")
    return path


@pytest.fixture
def filled(config_path, tmp_path):
    store = RatingStore(tmp_path / "kiosk.db", terminal_id="hd-phucla-01")
    for rating in ["very_satisfied", "very_satisfied", "satisfied"]:
        store.record_press(rating, source="button")
    store.record_press("satisfied", source="button", filtered=True, filter_cause="repeat")
    store.record_press("very_satisfied", source="button", filtered=True, filter_cause="service")
    store.record_press("dissatisfied", source="touch", ask_reason=True)
    store.mark_started()
    store.close()
    return config_path


def test_version(capsys):
    code, out = run_kiosk(["--version"], capsys)
    assert code == 0 and out.out.strip() == f"kiosk, version {__version__}"


def test_status_in_words(filled, capsys):
    code, out = run_kiosk(["status", "--config", str(filled)], capsys)
    assert code == 0
    text = out.out
    assert "Terminal hd-phucla-01 — UBND phường Phúc La" in text
    assert ("Today: 4 ratings: very_satisfied 2, satisfied 1, dissatisfied 1 "
            "(filtered presses 2: too soon after the last 1, during service 1)") in text
    assert "Waiting for a reason: 1; waiting to upload: 5" in text
    assert "Last start: 20" in text and "Clock: " in text


def test_status_json(filled, capsys, tmp_path):
    code, out = run_kiosk(["status", "--json", "--config", str(filled)], capsys)
    info = json.loads(out.out)
    assert code == 0
    assert info["terminal_id"] == "hd-phucla-01" and info["site"] == "UBND phường Phúc La"
    assert info["total"] == {"very_satisfied": 2, "satisfied": 1, "dissatisfied": 1, "filtered": 2, "counted": 4,
                             "filtered_by_cause": {"repeat": 1, "busy": 0, "service": 1, "signin": 0,
                                                   "dossier_repeat": 0, "unknown": 0}}
    assert info["today"]["counted"] == 4
    assert (info["unsealed"], info["pending"]) == (1, 5)
    assert info["database"]["path"] == str(tmp_path / "kiosk.db") and info["database"]["size_bytes"] > 0
    assert info["last_start"] and isinstance(info["clock"]["synced"], bool)


def test_status_without_a_database_says_what_to_do(config_path, capsys):
    code, out = run_kiosk(["status", "--config", str(config_path)], capsys)
    assert code == 1 and "kiosk run" in out.err and "Traceback" not in out.err


def test_status_leaves_a_corrupt_database_where_it_is(config_path, tmp_path, capsys):
    db = tmp_path / "kiosk.db"
    db.write_bytes(b"garbage" * 1000)
    code, out = run_kiosk(["status", "--config", str(config_path)], capsys)
    assert code == 1 and "cannot be read" in out.err and "move it aside" in out.err
    assert db.read_bytes() == b"garbage" * 1000
    assert list(tmp_path.glob("kiosk.db.corrupt-*")) == []


def test_pin_hash_prints_a_config_line(capsys):
    code, out = run_kiosk(["pin-hash", "--pin", "482913"], capsys)
    line = out.out.strip()
    assert code == 0 and line.startswith('pin_hash = "pbkdf2_sha256$')
    assert check_pin("482913", line.split('"')[1]) and not check_pin("482914", line.split('"')[1])


def test_pin_hash_refuses_a_short_pin(capsys):
    code, out = run_kiosk(["pin-hash", "--pin", "12"], capsys)
    assert code == 1 and "at least 4 digits" in out.err


def test_unknown_command_is_a_usage_error(capsys):
    code, out = run_kiosk(["frobnicate"], capsys)
    assert code == 2 and "No such command" in out.err


def test_status_says_what_the_running_terminal_uses_mock_pins(config_path, tmp_path, capsys):
    """The demo: `kiosk run --mock-pins` is running; `kiosk status` (which has no --mock-pins) must not say
    "no GPIO" but what that terminal drives."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "KIVY_HOME": str(tmp_path / "kivy"), "SDL_VIDEODRIVER": "offscreen",
           "KIVY_NO_ARGS": "1"}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config_path), "--mock-pins",
                             "--windowed"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        for line in proc.stderr:
            lines.append(line)
            if "first frame drawn" in line or time.monotonic() > deadline:
                break
        assert any("first frame drawn" in line for line in lines), "".join(lines[-20:])
        code, out = run_kiosk(["status", "--config", str(config_path)], capsys)
        code_json, out_json = run_kiosk(["status", "--json", "--config", str(config_path)], capsys)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    assert code == 0 and code_json == 0
    assert "OK      gpio: Mock pins (--mock-pins)" in out.out and "No buttons" not in out.out
    assert "Buttons: mock pins driven by keys 1-9 and 0: very_satisfied on GPIO17" in out.out
    info = json.loads(out_json.out)
    [gpio] = [c for c in info["checks"] if c["name"] == "gpio"]
    assert gpio["level"] == "ok" and gpio["message"].startswith("Mock pins")
    assert info["hardware"].startswith("mock pins")

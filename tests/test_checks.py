"""Startup checks, each triggered for real: a read-only and a tiny filesystem (tmpfs
mounts, which stop root too), a file where the database folder should be, no pin factory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import tmpfs
from kiosk.checks import (FAIL, OK, WARN, check_clock, check_database, check_disk, check_gpio,
                          check_renderer, pi_model, startup_checks)
from kiosk.config import parse_config

REPO = Path(__file__).resolve().parent.parent


def run_kiosk(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def write_config(tmp_path: Path, db: Path, **extra) -> Path:
    config = tmp_path / "kiosk.toml"
    lines = [f'[storage]\npath = "{db}"']
    for key, value in extra.items():
        lines.append(f"{key} = {value}")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


# -- database ------------------------------------------------------------------

def test_a_writable_folder_passes(tmp_path):
    check = check_database(tmp_path / "data" / "kiosk.db")
    assert check.level == OK
    assert not list((tmp_path / "data").glob(".hai-long*"))  # the probe is removed


def test_a_read_only_filesystem_fails_even_for_root(tmp_path):
    with tmpfs(tmp_path / "ro", read_only=True) as folder:
        check = check_database(folder / "kiosk.db")
    assert check.level == FAIL
    assert "read-only" in check.message and "[storage] path" in check.message


def test_kiosk_run_stops_with_a_sentence_on_a_read_only_folder(tmp_path):
    with tmpfs(tmp_path / "ro", read_only=True) as folder:
        config = write_config(tmp_path, folder / "kiosk.db")
        done = run_kiosk("run", "--config", str(config), "--mock-pins")
    assert done.returncode == 1
    assert "kiosk: cannot start: The database folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_file_in_place_of_the_folder_fails(tmp_path):
    (tmp_path / "data").write_text("not a folder")
    check = check_database(tmp_path / "data" / "kiosk.db")
    assert check.level == FAIL and "cannot be written" in check.message


def test_a_database_file_that_cannot_be_written_fails(tmp_path):
    # The folder is fine; the file is a folder (SQLite cannot open it for writing).
    (tmp_path / "kiosk.db").mkdir()
    check = check_database(tmp_path / "kiosk.db")
    assert check.level == FAIL and "kiosk.db" in check.message


# -- disk room ---------------------------------------------------------------------

def test_a_tiny_filesystem_warns_below_the_minimum(tmp_path):
    with tmpfs(tmp_path / "tiny", size="1m") as folder:
        low = check_disk(folder / "kiosk.db", 50)
        enough = check_disk(folder / "kiosk.db", 0)
    assert low.level == WARN and "min_free_mb = 50" in low.message
    assert enough.level == OK


def test_a_full_disk_fails_the_write_check(tmp_path):
    with tmpfs(tmp_path / "tiny", size="256k") as folder:
        filler = folder / "filler"
        with open(filler, "wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        check = check_database(folder / "kiosk.db")
        status = run_kiosk("status", "--json", "--config", str(write_config(tmp_path, folder / "kiosk.db")))
    assert check.level == FAIL and "disk is full" in check.message
    assert status.returncode == 1 and "FAILED  database" in status.stderr


def test_min_free_mb_is_a_config_key():
    assert parse_config({"storage": {"min_free_mb": 10}}).storage.min_free_mb == 10
    with pytest.raises(ValueError, match=r"\[storage\] min_free_mb"):
        parse_config({"storage": {"min_free_mb": -1}})


# -- GPIO -------------------------------------------------------------------------

def test_no_pin_factory_means_touch_only():
    import hardware

    def probe():
        return hardware.probe_gpio()

    os.environ["GPIOZERO_PIN_FACTORY"] = "no-such-factory"
    try:
        from gpiozero import Device

        Device.pin_factory = None
        check = check_gpio(probe=probe)
    finally:
        del os.environ["GPIOZERO_PIN_FACTORY"]
    assert check.level == WARN and "touch only" in check.message and "gpio group" in check.message


def test_kiosk_status_names_missing_gpio(tmp_path):
    db = tmp_path / "kiosk.db"
    config = write_config(tmp_path, db)
    env = {"GPIOZERO_PIN_FACTORY": "no-such-factory", "SDL_VIDEODRIVER": "offscreen"}
    from kiosk.store import RatingStore

    RatingStore(db, terminal_id="t").close()
    done = run_kiosk("status", "--json", "--config", str(config), env=env)
    assert done.returncode == 0, done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["gpio"]["level"] == WARN and "touch only" in checks["gpio"]["message"]
    assert set(checks) == {"database", "disk", "gpio", "renderer", "clock"}


def test_a_mock_factory_and_mock_pins_pass():
    import hardware
    from gpiozero.pins.mock import MockFactory

    assert check_gpio(probe=lambda: hardware.probe_gpio(MockFactory())).level == OK
    assert check_gpio(mock_pins=True).level == OK


# -- renderer, clock -------------------------------------------------------------------

@pytest.mark.parametrize("renderer", ["llvmpipe (LLVM 15.0.6, 128 bits)", "softpipe"])
def test_a_software_renderer_on_a_pi_warns(renderer):
    check = check_renderer(renderer, pi_model="Raspberry Pi 5 Model B Rev 1.0")
    assert check.level == WARN and "vc4-kms-v3d" in check.message


def test_the_pi_gpu_passes_and_other_machines_are_named():
    assert check_renderer("V3D 4.2.14.0", pi_model="Raspberry Pi 4 Model B").level == OK
    other = check_renderer("llvmpipe", pi_model=None)
    assert other.level == OK and "Not a Raspberry Pi" in other.message


def test_pi_model_reads_the_device_tree(tmp_path):
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.5\0")
    assert pi_model(model) == "Raspberry Pi 4 Model B Rev 1.5"
    model.write_bytes(b"Generic x86\0")
    assert pi_model(model) is None
    assert pi_model(tmp_path / "absent") is None


@pytest.mark.parametrize(("synced", "level"), [(True, OK), (False, WARN)])
def test_clock_state(synced, level):
    check = check_clock(synced)
    assert check.level == level
    assert synced or "timedatectl" in check.message


def test_startup_checks_in_order(tmp_path):
    config = parse_config({"storage": {"path": str(tmp_path / "k.db")}})
    checks = startup_checks(config, mock_pins=True, clock_synced=False, model=None)
    assert [c.name for c in checks] == ["database", "disk", "gpio", "renderer", "clock"]
    assert [c.level for c in checks] == [OK, OK, OK, OK, WARN]

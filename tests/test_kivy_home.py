"""Kivy's config file cut short by a power cut: ``kiosk run`` moves it aside and starts, touch settings kept.

Made for real: deploy/kivy-config.ini, as pi-setup.sh installs it, truncated
mid-file, then the real ``kiosk run --mock-pins`` headless in its own process.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.ui.kivy_home import INPUT_PROVIDERS, config_problem
from cli_helpers import stop_and_collect, wait_for_line

REPO = Path(__file__).resolve().parent.parent
DEPLOY_KIVY_CONFIG = REPO / "deploy" / "kivy-config.ini"


def as_kivy_writes_it() -> bytes:
    """deploy/kivy-config.ini as Kivy rewrites it in place: without its comments."""
    lines = DEPLOY_KIVY_CONFIG.read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("#")).encode("utf-8")


def ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return parser


def test_the_input_put_back_is_the_one_pi_setup_installs():
    assert dict(ini(DEPLOY_KIVY_CONFIG).items("input")) == INPUT_PROVIDERS


def test_the_installed_config_is_sound():
    assert config_problem(DEPLOY_KIVY_CONFIG.read_text(encoding="utf-8")) is None


@pytest.mark.parametrize("cut", [700, -40, -5])  # in [graphics], in [network], in its last line
def test_a_config_cut_short_is_damaged(cut):
    text = as_kivy_writes_it()[:cut].decode("utf-8", "ignore")
    assert config_problem(text) is not None


def test_kiosk_run_with_kivys_config_cut_short_starts_and_keeps_the_touchscreen_alone(tmp_path):
    home = tmp_path / "kivy"
    home.mkdir()
    damaged = as_kivy_writes_it()[:700]  # a power cut while Kivy rewrote it in place
    (home / "config.ini").write_bytes(damaged)
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[terminal]\nid = "hd-phucla-01"\n[storage]\npath = "{tmp_path / "kiosk.db"}"\n',
                      encoding="utf-8")
    env = {**os.environ, "KIVY_HOME": str(home), "SDL_VIDEODRIVER": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config), "--mock-pins",
                             "--windowed"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    lines: list[str] = []
    try:
        wait_for_line(proc, lines, "first frame drawn", 90)
        running = proc.poll() is None
    finally:
        stop_and_collect(proc, lines)
    log = "".join(lines)
    assert running and "first frame drawn (home screen)" in log, log[-3000:]
    assert proc.returncode == 0 and "Traceback" not in log, log[-3000:]
    [aside] = home.glob("config.ini.damaged-*")
    assert aside.read_bytes() == damaged  # kept for a look, never deleted
    assert f"moved aside to {aside.name}" in log
    fresh = ini(home / "config.ini")
    assert dict(fresh.items("input")) == INPUT_PROVIDERS  # a touch still counts once
    assert config_problem((home / "config.ini").read_text(encoding="utf-8")) is None
    installed = ini(DEPLOY_KIVY_CONFIG)
    assert fresh.get("kivy", "config_version") == installed.get("kivy", "config_version")
    # Everything else is Kivy's defaults, as deploy/kivy-config.ini holds them.
    assert {s: dict(fresh.items(s)) for s in fresh.sections() if s != "input"} == \
        {s: dict(installed.items(s)) for s in installed.sections() if s != "input"}

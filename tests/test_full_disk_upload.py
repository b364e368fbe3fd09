"""A terminal started on a full disk uploads by itself once space is back: no restart.

Made for real: ``kiosk run --mock-pins`` headless in its own process on a
tiny tmpfs filled to the last byte, provisioned to a real server on loopback.
The space is freed, tests/kivy_mods/press_keys.py types a press, and the
ratings (those from before and the new one) reach the server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import stop_and_collect, tmpfs, wait_for_line
from server_fixtures import *  # noqa: F401,F403 - server_db_url, start_server
from test_disk_trouble import fill, filled_database

REPO = Path(__file__).resolve().parent.parent
PRESS_KEYS = Path(__file__).parent / "kivy_mods" / "press_keys.py"


@pytest.mark.parametrize("server_db_url", ["sqlite"], indirect=True)
def test_a_terminal_started_on_a_full_disk_uploads_once_space_is_back(tmp_path, start_server):
    server = start_server()
    enrolled = server.enroll()
    token = tmp_path / "device.token"
    token.write_text(enrolled.token, encoding="utf-8")
    with tmpfs(tmp_path / "tiny") as folder:
        filled_database(folder / "kiosk.db", 10)  # closed cleanly: it opens alone on the full disk
        config = tmp_path / "kiosk.toml"
        config.write_text(f'[terminal]\nid = "{enrolled.id}"\n[storage]\npath = "{folder / "kiosk.db"}"\n'
                          f'[server]\nurl = "{server.url}"\ntoken_file = "{token}"\n', encoding="utf-8")
        filler = fill(folder)
        mods = tmp_path / "kivy" / "mods"
        mods.mkdir(parents=True)
        shutil.copy(PRESS_KEYS, mods)
        env = {**os.environ, "KIVY_HOME": str(tmp_path / "kivy"), "SDL_VIDEODRIVER": "offscreen",
               "KCFG_MODULES_PRESS_KEYS": "keys=2,delay=4"}  # "2": satisfied, once the space is freed
        proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config), "--mock-pins",
                                 "--windowed"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        try:
            wait_for_line(proc, lines, "first frame drawn", 60)
            assert any("out of service" in line for line in lines), "".join(lines[-30:])
            assert server.count("ratings") == 0
            filler.unlink()
            wait_for_line(proc, lines, "press_keys: typed 2", 60)
            deadline = time.monotonic() + 60
            while server.count("ratings", terminal_id=enrolled.id) < 11 and time.monotonic() < deadline:
                time.sleep(0.2)
            uploaded = server.count("ratings", terminal_id=enrolled.id)
            assert proc.poll() is None
        finally:
            stop_and_collect(proc, lines)
    log = "".join(lines)
    assert uploaded == 11, log[-3000:]  # the 10 stored before, and the press made after space came back
    assert "uploads start" in log
    assert proc.returncode == 0, log[-3000:]
    assert "Traceback" not in log

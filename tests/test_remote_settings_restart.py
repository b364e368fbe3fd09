"""Remote settings through the real `kiosk run` (issue 13): a set with a key that rebuilds the screens is noted as
applied, the terminal restarts itself in place (same process, exec) and the new process runs the set from its
first frame, reports its version and does not fetch it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from server_fixtures import LiveServer
from settings_server import SettingsServer

REPO = Path(__file__).resolve().parent.parent
TOKEN = "restart-settings-token"


def test_kiosk_run_restarts_itself_for_a_screen_key_and_runs_the_set_after(tmp_path):
    server = SettingsServer(token=TOKEN)
    live = LiveServer(server.app)
    version = server.set_values({"display.large_text": True, "texts.question_vi": "Anh/chị hài lòng không?"})
    (tmp_path / "device.token").write_text(TOKEN)
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[terminal]\nid = "t-restart-01"\n[storage]\npath = "{tmp_path / "kiosk.db"}"\n'
                      f'[display]\nkiosk = false\n[server]\nurl = "{live.url}"\n'
                      f'token_file = "{tmp_path / "device.token"}"\n', encoding="utf-8")
    env = {**os.environ, "KIVY_HOME": str(tmp_path / "kivy")}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config), "--mock-pins"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        frames = 0
        for line in proc.stderr:
            lines.append(line)
            frames += "first frame drawn" in line
            if frames >= 2 or time.monotonic() > deadline:
                break
        log = "".join(lines)
        assert frames == 2, log[-3000:]
        assert f"remote settings {version} applied" in log and "restarting:" in log
        # The second start runs the set from its first frame.
        second = log[log.index("restarting:"):]
        assert f"+ remote settings {version}" in second
        deadline = time.monotonic() + 20
        while (server.last_health() or {}).get("settings_version") != version and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.last_health()["settings_version"] == version
        assert server.fetches == [None]  # fetched once, not again after the restart
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        live.stop()
    assert proc.returncode == 0, rest[-2000:]

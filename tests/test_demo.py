"""`make demo`'s script: server, enrolled terminal and kiosk window together, stopped together."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_runs_the_whole_system_and_stops_it(tmp_path):
    port = free_port()
    env = {**os.environ, "BIN": str(Path(sys.executable).parent), "DEMO_PORT": str(port),
           "DEMO_VAR": str(tmp_path), "SDL_VIDEODRIVER": "offscreen", "KIVY_NO_ARGS": "1"}
    demo = subprocess.Popen(["bash", str(ROOT / "deploy" / "demo.sh")], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=open(tmp_path / "demo.err", "w"), start_new_session=True)
    try:
        token = None
        deadline = time.monotonic() + 60
        for line in demo.stdout:
            found = re.search(r"admin token\s*:\s*(\S+)", line)
            if found:
                token = found.group(1)
                break
            assert time.monotonic() < deadline
        assert token and token.startswith("hl_adm_")
        url = f"http://127.0.0.1:{port}"
        # The terminal enrolled itself and reports to the server (its first heartbeat).
        terminals = []
        while time.monotonic() < deadline and not any(t.get("last_seen_at") for t in terminals):
            answer = requests.get(f"{url}/api/v1/terminals", headers={"Authorization": f"Bearer {token}"},
                                  timeout=5)
            assert answer.status_code == 200
            terminals = answer.json()["terminals"]
            time.sleep(0.2)
        assert len(terminals) == 1 and terminals[0]["site"] == "UBND phường Phúc La"
        assert terminals[0]["last_seen_at"]
        assert (tmp_path / "kiosk.db").exists() and (tmp_path / "device.token").exists()
        # Closing the kiosk (as its window's close button or systemd would) ends the demo.
        children = subprocess.run(["pgrep", "-P", str(demo.pid)], capture_output=True, text=True).stdout.split()
        kiosk = [pid for pid in children
                 if b"run" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
        assert len(kiosk) == 1
        os.kill(int(kiosk[0]), signal.SIGTERM)
        demo.wait(30)
    finally:
        if demo.poll() is None:
            processes = subprocess.run(["ps", "-o", "pid,stat,etime,args", "--ppid", str(demo.pid)],
                                       capture_output=True, text=True).stdout
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
            for log in ("demo.err", "demo-server.log"):
                path = tmp_path / log
                print(f"--- {log} ---\n" + (path.read_text(errors="replace")[-6000:] if path.exists() else "(none)"))
            print("--- still running ---\n" + processes)
    # Stopping the demo stopped the server too.
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0

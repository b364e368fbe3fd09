"""`make demo`'s script: server, enrolled terminal and kiosk window together, stopped together."""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
#: The demo's accounts: user name → (role, the code of its scope node or None for the whole server, as printed).
DEMO_ACCOUNTS = {"demo.admin": ("province_admin", None, "whole server"),
                 "demo.unit": ("unit_admin", "DEMO-PL", "Phường Phúc La"),
                 "demo.viewer": ("viewer", "DEMO-PL", "Phường Phúc La"),
                 "demo.tech": ("technician", "DEMO-HC", "Phường Hà Cầu"),
                 "demo.inspector": ("inspector", None, "whole server")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pasted(export: str, command: str, folder: Path) -> subprocess.CompletedProcess:
    """``command`` as a person pastes it, after the banner's ``export`` line, in another folder and shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_")}
    return subprocess.run(["bash", "-c", f"{export}\n{command}"], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120)


def check_the_banners_commands(commands: list[str], token: str, url: str, var: Path) -> None:
    assert commands, "the banner printed no commands to copy and paste"
    export, *rest = commands
    assert export.startswith("export HAILONG_DB_URL=sqlite:///") and f"HAILONG_ADMIN_TOKEN={token}" in export
    elsewhere = var / "elsewhere"
    elsewhere.mkdir()
    by_word = {next(w for w in ("tree", "terminals", "enroll-code", "pull", "report") if f" {w}" in c): c
               for c in rest}
    tree = pasted(export, by_word["tree"], elsewhere)
    assert tree.returncode == 0 and "Phường Hà Cầu  [unit DEMO-HC]" in tree.stdout, tree.stdout + tree.stderr
    enrolled = pasted(export, by_word["enroll-code"], elsewhere)
    assert enrolled.returncode == 0, enrolled.stderr
    string = enrolled.stdout.strip()
    assert string.startswith("hailong1:")
    from sync.enrollment import enroll, parse_enrollment_string

    server_url, code = parse_enrollment_string(string)
    assert server_url == url
    assert enroll(url, code, session=requests.Session(), app_version="demo-test").terminal_id  # not a 401
    listed = pasted(export, by_word["terminals"], elsewhere)
    assert listed.returncode == 0 and listed.stdout.count("Phường Phúc La") == 2, listed.stdout + listed.stderr
    pulled = pasted(export, by_word["pull"], elsewhere)
    assert pulled.returncode == 0, pulled.stderr
    reported = pasted(export, by_word["report"], elsewhere)
    assert reported.returncode == 0 and reported.stdout.startswith("Báo cáo"), reported.stderr  # of the pulled file
    assert not (elsewhere / "var").exists()  # nothing made a database of its own


def check_the_province_and_its_accounts(db: Path, table: dict, url: str) -> None:
    """The demo's tree (deploy/demo-tree.csv) and its five accounts are in the server's database, as printed, and
    each logs in with the password the banner printed."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        nodes = {code: (kind, name, parent) for code, kind, name, parent in conn.execute(
            "SELECT n.code, n.kind, n.name, p.code FROM nodes n LEFT JOIN nodes p ON p.id = n.parent_id")}
        accounts = {username: (role, code) for username, role, code in conn.execute(
            "SELECT a.username, a.role, n.code FROM accounts a LEFT JOIN nodes n ON n.id = a.scope_node_id")}
    assert [code for code, (kind, _, _) in nodes.items() if kind == "province"] == ["01"]
    units = {code: name for code, (kind, name, parent) in nodes.items() if kind == "unit" and parent == "01"}
    assert units == {"DEMO-PL": "Phường Phúc La", "DEMO-HC": "Phường Hà Cầu"}
    for unit in units:
        offices = [code for code, (kind, _, parent) in nodes.items() if kind == "office" and parent == unit]
        assert len(offices) == 1 and nodes[offices[0]][1].startswith("Bộ phận Một cửa")
        assert any(kind == "counter" and parent == offices[0] for kind, _, parent in nodes.values())
    assert {user: accounts.get(user) for user in DEMO_ACCOUNTS} == {
        user: (role, code) for user, (role, code, _) in DEMO_ACCOUNTS.items()}
    assert {user: (role, scope) for user, (role, _, scope) in table.items()} == {
        user: (role, scope) for user, (role, _, scope) in DEMO_ACCOUNTS.items()}
    for user, (_, password, _) in table.items():
        browser = requests.Session()
        form = browser.get(f"{url}/login", timeout=5).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        answer = browser.post(f"{url}/login", data={"username": user, "password": password, "csrf": csrf},
                              allow_redirects=False, timeout=30)
        assert answer.status_code == 303 and answer.headers["Location"] == "/", user


def test_demo_runs_the_whole_system_and_stops_it(tmp_path):
    port = free_port()
    env = {**os.environ, "BIN": str(Path(sys.executable).parent), "DEMO_PORT": str(port),
           "DEMO_VAR": str(tmp_path), "SDL_VIDEODRIVER": "offscreen", "KIVY_NO_ARGS": "1"}
    demo = subprocess.Popen(["bash", str(ROOT / "deploy" / "demo.sh")], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=open(tmp_path / "demo.err", "w"), start_new_session=True)
    try:
        token, commands, table, pasting = None, [], {}, False
        deadline = time.monotonic() + 60
        for line in demo.stdout:
            found = re.search(r"admin token\s*:\s*(\S+)", line)
            if found:
                token = found.group(1)
            found = re.fullmatch(r"    (demo\.\w+)\s+(\w+)\s+(demo-[0-9a-f]{12})\s+(.+)", line.rstrip("\n"))
            if found:  # the accounts' table: user name, role, password, scope
                table[found.group(1)] = (found.group(2), found.group(3), found.group(4))
            pasting = pasting or line.startswith("  In another terminal")
            if pasting and line.startswith("    "):  # the commands to copy and paste
                commands.append(line.strip())
            if "kiosk-admin report" in line:  # the banner's last command
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
        assert len(terminals) == 1 and (terminals[0]["site"], terminals[0]["counter"]) == ("Phường Phúc La", "Quầy 1")
        check_the_province_and_its_accounts(tmp_path / "demo-server.db", table, url)
        assert terminals[0]["last_seen_at"]
        assert (tmp_path / "kiosk.db").exists() and (tmp_path / "device.token").exists()
        check_the_banners_commands(commands, token, url, tmp_path)
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


def test_leaving_kiosk_mode_ends_the_demo_normally(tmp_path):
    # `kiosk run` ending with status 4 ("Leave kiosk mode" on the service screen, kiosk/restart.py) is
    # stood in for by a `kiosk` that runs the real one for everything but `run`: driving the service
    # screen's PIN pad is tests/test_ui_service.py's job.
    real = Path(sys.executable).parent
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("kiosk-server", "kiosk-admin"):
        (bin_dir / name).symlink_to(real / name)
    # Not a symlink: a venv's python found through a link in another folder is the bare interpreter (no
    # pyvenv.cfg beside it), without the project's libraries (deploy/demo_officers.py draws with Pillow).
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec "{real / "python"}" "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    kiosk = bin_dir / "kiosk"
    kiosk.write_text(f'#!/bin/sh\n[ "$1" = run ] && exit 4\nexec "{real / "kiosk"}" "$@"\n', encoding="utf-8")
    kiosk.chmod(0o755)
    port = free_port()
    env = {**os.environ, "BIN": str(bin_dir), "DEMO_PORT": str(port), "DEMO_VAR": str(tmp_path / "var"),
           "SDL_VIDEODRIVER": "offscreen", "KIVY_NO_ARGS": "1"}
    printed = []
    for _ in range(2):  # a second run on the same database: the tree unchanged, the accounts' passwords reset
        done = subprocess.run(["bash", str(ROOT / "deploy" / "demo.sh")], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "left kiosk mode" in done.stdout
        printed.append(dict(re.findall(r"^    (demo\.\w+)\s+\w+\s+(demo-[0-9a-f]{12})\s", done.stdout, re.M)))
    assert sorted(printed[0]) == sorted(printed[1]) == sorted(DEMO_ACCOUNTS)
    assert all(printed[0][user] != printed[1][user] for user in DEMO_ACCOUNTS)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # the server stopped with it

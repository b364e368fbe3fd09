"""deploy/: the systemd units pass `systemd-analyze verify`, agree with the CLIs,
and deploy/pi-setup.sh sets up a temporary root folder in its dry-run mode,
idempotently.

In CI (CI=true) a missing systemd-analyze, systemctl or shellcheck fails the
test instead of skipping it; .ci/run installs them.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.cli import SYSTEM_CONFIG
from kiosk.config import parse_config
from kiosk.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SETUP = DEPLOY / "pi-setup.sh"
APT_PACKAGES = ["libgl1", "libgl1-mesa-dri", "libegl1", "libegl-mesa0", "libgles2", "libgbm1", "libdrm2", "libmtdev1",
                "libasound2"]
GROUPS = ["gpio", "input", "render", "video", "audio"]


def need_tool(name: str) -> str:
    """The tool's path; in CI its absence fails, elsewhere it skips."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt package: {'shellcheck' if name == 'shellcheck' else 'systemd'})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; .ci/run must install it")
        pytest.skip(message)
    return path


def unit_settings(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            name, value = line.split("=", 1)
            settings.setdefault(name.strip(), []).append(value.strip())
    return settings


# -- systemd-analyze verify ----------------------------------------------------

def verify_problems(unit: Path, tmp_path: Path, dropins: list[Path] = ()) -> list[str]:
    """What `systemd-analyze verify` says about ``unit`` (empty: clean).

    The copy's ExecStart points at an existing program (/opt/hai-long is not on
    this machine); everything else is verified as written.
    """
    analyze = need_tool("systemd-analyze")
    folder = tmp_path / "units"
    folder.mkdir(exist_ok=True)
    copy = folder / unit.name
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={shutil.which('true')}", unit.read_text(encoding="utf-8"), flags=re.M)
    copy.write_text(text, encoding="utf-8")
    for dropin in dropins:
        target = folder / f"{unit.name}.d" / dropin.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy(dropin, target)
    done = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True,
                          cwd=folder, timeout=60)
    said = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line or unit.stem in line]
    if done.returncode != 0:
        said.append(f"exit status {done.returncode}: {done.stderr.strip()}")
    return said


@pytest.mark.parametrize("name", ["kiosk.service", "kiosk-server.service"])
def test_unit_passes_systemd_analyze_verify(name, tmp_path):
    assert verify_problems(DEPLOY / name, tmp_path) == []


@pytest.mark.parametrize(("line", "said"), [
    ("Restrt=always", "Unknown key"),
    ("Restart=sometimes", "restart specifier"),
    ("ExecStartPre=not-a-path", "not executable"),
])
def test_verify_check_catches_a_broken_unit(tmp_path, line, said):
    broken = tmp_path / "broken.service"
    broken.write_text((DEPLOY / "kiosk.service").read_text(encoding="utf-8").replace(
        "[Service]\n", f"[Service]\n{line}\n"), encoding="utf-8")
    problems = verify_problems(broken, tmp_path)
    assert any(said in problem for problem in problems), problems


def systemd_version() -> int:
    out = subprocess.run([need_tool("systemctl"), "--version"], capture_output=True, text=True).stdout
    return int(out.split()[1])


def test_backoff_dropin_is_for_systemd_254_and_later(tmp_path):
    problems = verify_problems(DEPLOY / "kiosk.service", tmp_path, [DEPLOY / "kiosk.service.d" / "backoff.conf"])
    if systemd_version() >= 254:
        assert problems == []
    else:
        # Bookworm's 252 does not know the keys: why pi-setup.sh installs the drop-in only on 254+.
        assert problems and all("Unknown key" in p and ("RestartSteps" in p or "RestartMaxDelaySec" in p)
                                for p in problems), problems


# -- what the units say ----------------------------------------------------------

def test_terminal_unit_waits_for_the_clock_never_for_the_network():
    unit = unit_settings(DEPLOY / "kiosk.service")
    ordering = " ".join(unit.get("After", []) + unit.get("Wants", []) + unit.get("Requires", []))
    assert "time-set.target" in ordering.split()
    assert "network" not in ordering and "time-sync.target" not in ordering
    assert unit["Restart"] == ["always"] and unit["StartLimitIntervalSec"] == ["0"]
    assert "2" in unit["RestartPreventExitStatus"][0].split()
    # "Leave kiosk mode" (the service screen) exits with this status: neither restarted nor a failure.
    from kiosk.restart import LEFT_KIOSK_STATUS

    assert str(LEFT_KIOSK_STATUS) in unit["RestartPreventExitStatus"][0].split()
    assert str(LEFT_KIOSK_STATUS) in unit["SuccessExitStatus"][0].split()
    assert "Environment" in unit and "SDL_VIDEODRIVER=kmsdrm" in unit["Environment"]
    # Kivy's config is where pi-setup.sh writes it, and SDL does not double the touches.
    assert "KIVY_HOME=/var/lib/hai-long/kivy" in unit["Environment"]
    assert "SDL_TOUCH_MOUSE_EVENTS=0" in unit["Environment"]
    assert set(unit["SupplementaryGroups"][0].split()) == set(GROUPS)


def test_terminal_unit_runs_a_command_the_cli_accepts():
    from kiosk.cli import cli

    (exec_start,) = unit_settings(DEPLOY / "kiosk.service")["ExecStart"]
    program, command, *args = exec_start.split()
    # The launcher picks the A/B slot and hands its arguments to `kiosk` (deploy/hai-long-launch).
    assert program == "/opt/hai-long/bin/hai-long-launch" and command == "run"
    assert 'exec "$root/$slot/kiosk/kiosk" "$@"' in (DEPLOY / "hai-long-launch").read_text()
    context = cli.commands["run"].make_context("run", args)
    assert context.params["config_path"] == str(SYSTEM_CONFIG)


def test_server_unit_listens_on_loopback_as_its_own_user_with_its_state_directory():
    from server.cli import DB_ENV, cli

    unit = unit_settings(DEPLOY / "kiosk-server.service")
    (exec_start,) = unit["ExecStart"]
    program, command, *args = exec_start.split()
    assert program.endswith("/kiosk-server") and command == "serve"
    params = cli.commands["serve"].make_context("serve", args).params
    assert params["host"] == "127.0.0.1"
    assert unit["User"] not in (["root"], []) and unit["User"] == unit["Group"]
    (state,) = unit["StateDirectory"]
    (db,) = [e for e in unit["Environment"] if e.startswith(f"{DB_ENV}=")]
    assert db == f"{DB_ENV}=sqlite:////var/lib/{state}/server.db"
    assert unit["EnvironmentFile"][0].startswith("-/etc/")  # optional overrides and secrets
    assert unit["ProtectSystem"] == ["strict"] and unit["ReadWritePaths"] == [f"/var/lib/{state}"]
    assert unit["NoNewPrivileges"] == ["yes"]


# -- Kivy's config for the terminal's user ----------------------------------------------

def kivy_config(home: Path) -> tuple[str, list[tuple[str, str]], dict[str, list[str]]]:
    """Let the installed Kivy read KIVY_HOME=home: its config_version, [input], options."""
    script = (
        "import json; from kivy.config import Config, KIVY_CONFIG_VERSION as v; "
        "print(json.dumps([v, Config.items('input'), {s: Config.options(s) for s in Config.sections()}]))"
    )
    env = {**os.environ, "KIVY_HOME": str(home), "KIVY_NO_FILELOG": "1", "KIVY_NO_CONSOLELOG": "1",
           "KIVY_NO_ARGS": "1", "KIVY_NO_ENV_CONFIG": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    import json

    version, items, options = json.loads(done.stdout.strip().splitlines()[-1])
    return version, [tuple(item) for item in items], options


def test_kivy_config_keeps_the_touchscreen_as_the_only_touch_provider(tmp_path):
    home = tmp_path / "kivy"
    home.mkdir()
    shutil.copy(DEPLOY / "kivy-config.ini", home / "config.ini")
    version, inputs, options = kivy_config(home)
    parser = configparser.RawConfigParser()
    parser.read(DEPLOY / "kivy-config.ini", encoding="utf-8")
    assert parser.getint("kivy", "config_version") == version, "regenerate deploy/kivy-config.ini for this Kivy"
    assert inputs == [("touchscreen_%(name)s", "probesysfs,provider=hidinput")]
    # Kivy found nothing to upgrade, so it left the file as installed.
    assert (home / "config.ini").read_bytes() == (DEPLOY / "kivy-config.ini").read_bytes()
    # Every option of Kivy's own defaults is there (Kivy would fail on a missing one).
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _, default_inputs, defaults = kivy_config(fresh)
    assert ("mouse", "mouse") in default_inputs  # what the file replaces
    for section, names in defaults.items():
        if section != "input":
            assert set(names) <= set(options[section]), section


ROTATED_WINDOW = """
import json, sys
from kiosk.config import parse_config
from kiosk.ui.launch import configure_kivy
configure_kivy(parse_config({"display": {"rotation": int(sys.argv[1])}}), windowed=True)
from kivy.core.window import Window
print(json.dumps([Window.rotation, list(Window.size), list(Window.system_size)]))
"""


@pytest.mark.parametrize(("rotation", "portrait"), [(0, False), (90, True), (180, False), (270, True)])
def test_rotation_from_config_turns_kivys_window(tmp_path, rotation, portrait):
    # A real (offscreen) Kivy window in its own process: Kivy makes one window per process.
    import json

    env = {**os.environ, "SDL_VIDEODRIVER": "offscreen", "KIVY_NO_ARGS": "1", "KIVY_NO_FILELOG": "1",
           "KIVY_NO_CONSOLELOG": "1", "KIVY_HOME": str(tmp_path / "kivy")}
    done = subprocess.run([sys.executable, "-c", ROTATED_WINDOW, str(rotation)], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    got_rotation, size, system_size = json.loads(done.stdout.strip().splitlines()[-1])
    assert got_rotation == rotation
    assert size == (system_size[::-1] if portrait else system_size)


def test_a_bad_rotation_names_the_key():
    with pytest.raises(ConfigError, match=r"\[display\] rotation: expected one of 0, 90, 180, 270, got 45"):
        parse_config({"display": {"rotation": 45}})


# -- deploy/pi-setup.sh ------------------------------------------------------------

def setup(root: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", str(SETUP), "--root", str(root), "--dry-run", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root: its mode and its content (or link target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            found[str(path.relative_to(root))] = ("link", os.readlink(path))
        elif path.is_dir():
            found[str(path.relative_to(root))] = ("dir", oct(info.st_mode & 0o7777))
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[str(path.relative_to(root))] = ("file", oct(info.st_mode & 0o7777), digest)
    return found


@pytest.fixture
def pi_root(tmp_path):
    """A fresh Pi's root folder: only its kernel command line."""
    root = tmp_path / "pi"
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/cmdline.txt").write_text(
        "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 fsck.repair=yes rootwait\n")
    return root


def test_setup_script_is_valid_bash_and_passes_shellcheck():
    subprocess.run(["bash", "-n", str(SETUP)], check=True)
    done = subprocess.run([need_tool("shellcheck"), str(SETUP)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_setup_plan_names_the_packages_the_groups_and_the_unit(pi_root):
    need_tool("systemctl")
    out = setup(pi_root).stdout
    apt_line = next(line for line in out.splitlines() if "would run:" in line and "apt-get install" in line)
    assert set(APT_PACKAGES + ["python3-venv"]) <= set(apt_line.split())
    assert f"--groups {','.join(GROUPS)} hailong" in out
    assert "would run: /opt/hai-long/venv/bin/pip install" in out
    assert "+ enabled kiosk.service" in out
    left = out.split("Left to do:")[1]
    assert "kiosk provision" in left and "kiosk pin-hash" in left and "kiosk selftest" in left


def test_setup_files_land_where_expected_with_their_modes(pi_root):
    need_tool("systemctl")
    setup(pi_root)
    files = snapshot(pi_root)

    def file_like(system_path: str, source: Path, mode: str):
        kind, got_mode, digest = files[system_path.lstrip("/")]
        assert (kind, got_mode) == ("file", mode), system_path
        assert digest == hashlib.sha256(source.read_bytes()).hexdigest(), system_path

    file_like(str(SYSTEM_CONFIG), DEPLOY / "kiosk.example.toml", "0o640")
    file_like("/etc/systemd/system/kiosk.service", DEPLOY / "kiosk.service", "0o644")
    file_like("/var/lib/hai-long/kivy/config.ini", DEPLOY / "kivy-config.ini", "0o640")
    assert files["var/lib/hai-long"] == ("dir", "0o750")
    assert files["opt/hai-long/bin/kiosk"] == ("link", "/opt/hai-long/venv/bin/kiosk")
    assert files["usr/local/bin/kiosk"] == ("link", "/opt/hai-long/bin/kiosk")
    assert files["etc/systemd/system/multi-user.target.wants/kiosk.service"] == (
        "link", "/etc/systemd/system/kiosk.service")
    # Bookworm's systemd (252): no back-off drop-in.
    assert "etc/systemd/system/kiosk.service.d/backoff.conf" not in files
    cmdline = (pi_root / "boot/firmware/cmdline.txt").read_text()
    assert cmdline.count("consoleblank=0") == 1 and cmdline.startswith("console=serial0") and cmdline.count("\n") == 1


def test_setup_twice_changes_nothing_the_second_time(pi_root):
    need_tool("systemctl")
    setup(pi_root)
    before = snapshot(pi_root)
    out = setup(pi_root).stdout
    assert snapshot(pi_root) == before
    changed = [line for line in out.splitlines() if line.startswith("+ ")
               and not line.startswith(("+ apt packages", "+ group", "+ user", "+ installed kiosk"))]
    assert changed == []  # what remains are commands a dry run cannot carry out
    assert "= /etc/hai-long/kiosk.toml exists (left as it is)" in out
    assert "= kiosk.service is enabled" in out


def test_setup_keeps_an_existing_config_and_fixes_consoleblank(pi_root):
    config = pi_root / "etc/hai-long/kiosk.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[terminal]\nid = "hd-phucla-07"\n')
    cmdline = pi_root / "boot/firmware/cmdline.txt"
    cmdline.write_text("console=tty1 consoleblank=600 rootwait\n")
    setup(pi_root)
    assert config.read_text() == '[terminal]\nid = "hd-phucla-07"\n'
    assert cmdline.read_text() == "console=tty1 rootwait consoleblank=0\n"


def test_setup_adds_an_existing_user_to_the_missing_groups(pi_root):
    etc = pi_root / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("hailong:x:998:998::/var/lib/hai-long:/usr/sbin/nologin\n")
    (etc / "group").write_text("gpio:x:997:hailong\ninput:x:105:\nrender:x:106:hailong\nvideo:x:44:pi\naudio:x:29:hailong\n"
                               "hailong:x:998:\n")
    out = setup(pi_root).stdout
    assert "useradd" not in out and "groupadd" not in out
    assert "would run: usermod --append --groups input hailong" in out
    assert "would run: usermod --append --groups video hailong" in out
    assert "--groups gpio hailong" not in out and "--groups render hailong" not in out
    assert "--groups audio hailong" not in out


def test_setup_from_a_bundle(pi_root, tmp_path):
    bundle = tmp_path / "dist/kiosk"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "kiosk").write_text("#!/bin/sh\necho kiosk, version 0.1.0\n")
    (bundle / "kiosk").chmod(0o755)
    (bundle / "_internal/base_library.zip").write_bytes(b"zip")
    out = setup(pi_root, "--bundle", str(bundle)).stdout
    # The first bundle goes into slot a of the A/B layout of signed updates, `current` pointing at it.
    assert (pi_root / "opt/hai-long/a/kiosk/_internal/base_library.zip").read_bytes() == b"zip"
    assert os.readlink(pi_root / "opt/hai-long/current") == "a"
    assert os.readlink(pi_root / "opt/hai-long/bin/kiosk") == "/opt/hai-long/current/kiosk/kiosk"
    launcher = pi_root / "opt/hai-long/bin/hai-long-launch"
    assert launcher.read_bytes() == (DEPLOY / "hai-long-launch").read_bytes() and os.access(launcher, os.X_OK)
    assert stat.S_IMODE((pi_root / "opt/hai-long").stat().st_mode) == 0o775  # the terminal's user writes slots
    assert "pip" not in out and "python3-venv" not in out
    assert "would run: chown -R hailong:hailong /opt/hai-long/a" in out
    out = setup(pi_root, "--bundle", str(bundle)).stdout
    assert "= /opt/hai-long/a/kiosk (the current slot) is the same as" in out
    # A different bundle later (by hand) goes into the other slot, and becomes the current one.
    (bundle / "_internal/base_library.zip").write_bytes(b"zip2")
    out = setup(pi_root, "--bundle", str(bundle)).stdout
    assert (pi_root / "opt/hai-long/b/kiosk/_internal/base_library.zip").read_bytes() == b"zip2"
    assert os.readlink(pi_root / "opt/hai-long/current") == "b"


def test_setup_script_and_launcher_pass_shellcheck():
    done = subprocess.run([need_tool("shellcheck"), str(DEPLOY / "hai-long-launch")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_setup_installs_the_backoff_on_systemd_254(pi_root):
    setup(pi_root, env={"PI_SETUP_SYSTEMD_VERSION": "254"})
    installed = pi_root / "etc/systemd/system/kiosk.service.d/backoff.conf"
    assert installed.read_bytes() == (DEPLOY / "kiosk.service.d/backoff.conf").read_bytes()


@pytest.mark.parametrize(("args", "said"), [
    (["--dry-run"], "--dry-run needs --root DIR"),
    (["--root", "/tmp/x"], "--root is only for --dry-run"),
    (["--root", "/tmp/x", "--dry-run", "--bundle", "/nonexistent"], "make bundle"),
    (["--frobnicate"], "unknown option --frobnicate"),
])
def test_setup_refuses_bad_options_in_one_sentence(args, said):
    done = subprocess.run(["bash", str(SETUP), *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert said in done.stderr

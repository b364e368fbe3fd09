"""The PyInstaller bundle (kiosk.spec): built once, then its executable run as a technician would.

The bundle is built by ``make bundle`` (``.ci/run`` does it before the tests,
so a failed build fails CI by itself); the ``bundle`` fixture builds it here
too when dist/kiosk/kiosk is missing or older than the sources, under a lock
so that parallel test runs do not build it twice.

The headless run types a key with tests/kivy_mods/press_keys.py, a Kivy
module loaded from ``$KIVY_HOME/mods`` and switched on by an environment
variable: the frozen command under test is the one shipped, unchanged.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SLOWDOWN

from kiosk import __version__
from kiosk.prompts import PROMPTS

REPO = Path(__file__).resolve().parent.parent
DIST = REPO / "dist" / "kiosk"
EXECUTABLE = DIST / "kiosk"
INTERNAL = DIST / "_internal"
SOURCES = ["kiosk.spec", "pyproject.toml", "kiosk", "hardware", "sync", "assets"]
PRESS_KEYS = Path(__file__).parent / "kivy_mods" / "press_keys.py"

#: What the README's apt command installs on the Pi for the bundle (and deploy/pi-setup.sh too).
RUNTIME_PACKAGES = ["libgl1", "libgl1-mesa-dri", "libegl1", "libegl-mesa0", "libgles2", "libgbm1", "libdrm2",
                    "libmtdev1", "libasound2"]
#: Always there: the C libraries, and udev's library (systemd's; SDL asks it for input devices).
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libudev1"}


def newest_source_mtime() -> float:
    newest = 0.0
    for name in SOURCES:
        path = REPO / name
        files = [path] if path.is_file() else path.rglob("*")
        for file in files:
            rel = file.relative_to(REPO).as_posix()
            if file.is_file() and "__pycache__" not in rel:
                newest = max(newest, file.stat().st_mtime)
    return newest


def bundle_is_fresh() -> bool:
    return EXECUTABLE.exists() and EXECUTABLE.stat().st_mtime >= newest_source_mtime()


@pytest.fixture(scope="session")
def bundle() -> Path:
    """dist/kiosk/kiosk, built from the current sources (once per session at most)."""
    lock_path = REPO / "build" / ".bundle.lock"
    lock_path.parent.mkdir(exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be building it right now
        if not bundle_is_fresh():
            pyinstaller = Path(sys.executable).with_name("pyinstaller")
            done = subprocess.run([str(pyinstaller), "kiosk.spec", "--noconfirm"], cwd=REPO, capture_output=True,
                                  text=True, timeout=1800)
            assert done.returncode == 0, f"the bundle did not build:\n{done.stderr[-4000:]}"
            EXECUTABLE.touch()  # its mtime now says "built from these sources"
    assert bundle_is_fresh()
    return EXECUTABLE


def frozen_env(tmp_path: Path, **extra: str) -> dict:
    """A clean environment: no venv on PATH, no PYTHONPATH, SDL offscreen, Kivy's files under tmp_path; sound
    through the system's ALSA library, as on a Pi, into ALSA's null device (a CI machine has no sound card)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", "SDL_VIDEODRIVER": "offscreen",
           "KIVY_HOME": str(tmp_path / "kivy"), "KCFG_GRAPHICS_WIDTH": "800", "KCFG_GRAPHICS_HEIGHT": "480",
           "SDL_AUDIODRIVER": "alsa", "AUDIODEV": "null"}
    return {**env, **extra}


def write_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[terminal]\nid = "bundle-01"\nsite = "UBND phường Phúc La"\n\n'
                      f'[storage]\npath = "{tmp_path / "data" / "kiosk.db"}"\n{extra}\n'
                      f'[display]\nkiosk = false\n', encoding="utf-8")
    return config


def run_bundle(bundle: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(bundle), *args], cwd=tmp_path, env=frozen_env(tmp_path), capture_output=True,
                          text=True, timeout=60 * SLOWDOWN)


def test_version(bundle, tmp_path):
    done = run_bundle(bundle, tmp_path, "--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"kiosk, version {__version__}"), done.stderr


def test_a_bad_config_line_exits_2_naming_the_key(bundle, tmp_path):
    config = write_config(tmp_path, extra="pathh = 3")
    done = run_bundle(bundle, tmp_path, "status", "--config", str(config))
    assert done.returncode == 2, done.stderr
    assert "[storage] pathh" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_only_the_terminal_and_its_kivy_providers_are_bundled(bundle):
    from PyInstaller.archive.readers import CArchiveReader

    package = CArchiveReader(str(bundle))
    modules = set(package.open_embedded_archive("PYZ.pyz").toc)  # the pure-Python ones
    modules |= {str(so.relative_to(INTERNAL)).split(".")[0].replace("/", ".")  # and the extensions
                for so in INTERNAL.rglob("*.cpython-*.so")}
    for needed in ("kiosk.cli", "kiosk.ui.app", "hardware.panel", "hardware.keyboard", "sync.uploader",
                   "sync.protocol", "sync.enrollment", "gpiozero.pins.mock", "kivy.core.window.window_sdl2",
                   "kivy.core.text.text_sdl2", "kivy.core.image.img_sdl2", "kivy.core.audio.audio_sdl2",
                   "requests", "pydantic", "sqlite_utils"):
        assert needed in modules, needed
    unwanted = ("server", "admin", "reports", "fastapi", "uvicorn", "sqlalchemy", "psycopg", "openpyxl",
                "selenium", "pytest", "tkinter", "docutils", "pygments", "PIL", "kivy.core.camera",
                "kivy.core.video", "kivy.core.spelling", "kivy.lib.gstplayer")
    found = sorted(m for m in modules if m.split(".")[0] in unwanted or m.startswith(unwanted))
    assert found == [], found[:20]
    # The data the code looks for beside its modules when frozen.
    kv = {p.name for p in (INTERNAL / "kiosk" / "ui").glob("*.kv")}
    assert kv == {p.name for p in (REPO / "kiosk" / "ui").glob("*.kv")}
    faces = {p.name for p in (INTERNAL / "assets" / "faces").glob("*.png")}
    assert faces == {p.name for p in (REPO / "assets" / "faces").glob("*.png")} and faces


def loaded_libraries(pid: int) -> set[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return set(re.findall(r"(/\S+\.so[.\d]*)$", maps, flags=re.M))


def test_headless_run_stores_a_key_press_and_stops_on_sigterm(bundle, tmp_path):
    config = write_config(tmp_path)
    mods = tmp_path / "kivy" / "mods"
    mods.mkdir(parents=True)
    shutil.copy(PRESS_KEYS, mods)
    env = frozen_env(tmp_path, KCFG_MODULES_PRESS_KEYS="keys=2,delay=0.3")
    db = tmp_path / "data" / "kiosk.db"
    proc = subprocess.Popen([str(bundle), "run", "--config", str(config), "--mock-pins"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows, outside = [], set()
    try:
        deadline = time.monotonic() + 60 * SLOWDOWN  # (`make arm64`: about 45 s to the first frame under qemu)
        lines = []
        for line in proc.stderr:  # the log: first frame, then the stored press
            lines.append(line)
            if "press_keys: typed 2" in line or time.monotonic() > deadline:
                break
        assert any("first frame drawn (home screen)" in line for line in lines), "".join(lines[-30:])
        while time.monotonic() < deadline and not rows:
            with sqlite3.connect(db) as conn:
                rows = conn.execute("SELECT rating, source, sealed FROM ratings").fetchall()
            time.sleep(0.1)
        outside = {lib for lib in loaded_libraries(proc.pid) if not lib.startswith(str(DIST))}
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=20 * SLOWDOWN)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = "".join(lines) + rest
    assert proc.returncode == 0, log[-3000:]
    assert rows == [("satisfied", "button", 1)]
    assert "terminal bundle-01 stopped" in log
    # The spoken prompts came with the bundle and SDL_mixer loaded them, through the system's ALSA.
    assert f"voice: {len(PROMPTS)} prompts ready in vi" in log, log[-3000:]
    for sign in ("Traceback", "Error loading", "Unable to"):  # e.g. a face image or .kv not found in the bundle
        assert sign not in log, log[-3000:]
    # The same database, read by the bundle's own status command: a good config is accepted.
    done = run_bundle(bundle, tmp_path, "status", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "bundle-01" in done.stdout
    # What the bundle loaded from the system comes from the packages the README tells technicians to install.
    assert_provided_by_runtime_packages(outside | linked_outside_the_bundle())


def linked_outside_the_bundle() -> set[str]:
    """Libraries that the bundle's ELF files link to but do not carry (``ldd``)."""
    libs = set()
    search = f"{INTERNAL}:{INTERNAL / 'Kivy.libs'}"
    for path in [EXECUTABLE, *INTERNAL.rglob("*.so*")]:
        if not path.is_file():
            continue
        done = subprocess.run(["ldd", str(path)], capture_output=True, text=True,
                              env={"LD_LIBRARY_PATH": search, "PATH": "/usr/bin:/bin"})
        for found in re.findall(r"=> (/\S+)", done.stdout):
            if not found.startswith(str(DIST)):
                libs.add(found)
        assert "not found" not in done.stdout, f"{path}: {done.stdout}"
    return libs


def package_of(path: str) -> str:
    for candidate in (path, os.path.realpath(path), path.replace("/usr/lib/", "/lib/", 1),
                      os.path.realpath(path).replace("/usr/lib/", "/lib/", 1)):
        done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.split(":")[0].strip()
    return f"(no package owns {path})"


def depends_closure(packages) -> set[str]:
    seen, todo = set(), list(packages)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        done = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", name], capture_output=True,
                              text=True)
        for alternative in done.stdout.split(","):
            dep = alternative.split("|")[0].split("(")[0].split(":")[0].strip()
            if dep:
                todo.append(dep)
    return seen


def assert_provided_by_runtime_packages(libs: set[str]) -> None:
    if shutil.which("dpkg") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("dpkg is missing: CI runs on Debian")
        return  # not a Debian machine: nothing to map the libraries to
    provided = depends_closure(RUNTIME_PACKAGES) | BASE_PACKAGES
    owners = {lib: package_of(lib) for lib in libs}
    missing = {lib: owner for lib, owner in owners.items() if owner not in provided}
    assert missing == {}, f"the bundle needs these libraries that the documented apt packages do not bring: {missing}"


def test_pi_setup_installs_the_runtime_packages():
    setup = (REPO / "deploy" / "pi-setup.sh").read_text(encoding="utf-8")
    listed = re.search(r"apt_packages=\((.*?)\)", setup, flags=re.S).group(1)
    words = set(re.sub(r"#.*", "", listed).split())
    assert set(RUNTIME_PACKAGES) <= words, set(RUNTIME_PACKAGES) - words


def test_assets_resolve_from_the_bundle_when_frozen(monkeypatch, tmp_path):
    import assets

    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert assets.path("faces/satisfied.png") == str(tmp_path / "assets" / "faces" / "satisfied.png")
    monkeypatch.delattr(sys, "_MEIPASS")
    assert Path(assets.path("faces/satisfied.png")).is_file()

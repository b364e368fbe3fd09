"""The aarch64 bundle, checked where it was built: in the arm64 root of ``make arm64`` (qemu-user emulation).

Not collected by ``make test`` (tests/conftest.py leaves it out unless ``HAILONG_ARM64=1``, which
deploy/arm64/build.sh sets in the root); tests/test_bundle.py runs in the same root first, on the same
bundle. What only an arm64 build can show:

- the executable and its extensions are AArch64 code;
- lgpio is inside: its Python module, gpiozero's lgpio factory, and the C library (``liblgpio``, linked
  statically into lgpio's ``_lgpio`` extension by its aarch64 wheel);
- on a machine that is no Pi (the emulated root has no Pi revision, no /dev/gpiochip*), the frozen
  terminal tries lgpio (it imports: no "No module named 'lgpio'") and says in one sentence why there are
  no buttons;
- the terminal draws its first frame with Mesa's llvmpipe and stores a press; the times are written to
  ``tests/output/arm64-run.json`` for the build's summary.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

from conftest import SLOWDOWN
from test_bundle import DIST, INTERNAL, PRESS_KEYS, REPO, frozen_env, write_config
from test_bundle import bundle  # noqa: F401 - the fixture

EM_AARCH64 = 0xB7  # ELF e_machine
OUTPUT = REPO / "tests" / "output" / "arm64-run.json"


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(header[18:20], "little")


def record(**figures) -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(OUTPUT.read_text()) if OUTPUT.exists() else {}
    OUTPUT.write_text(json.dumps({**known, **figures}, indent=2))


def test_built_for_aarch64(bundle):
    assert platform.machine() == "aarch64"
    assert elf_machine(bundle) == EM_AARCH64
    extensions = list(INTERNAL.rglob("*.cpython-311-aarch64-linux-gnu.so"))
    assert extensions and not list(INTERNAL.rglob("*x86_64*.so"))
    files = [p for p in DIST.rglob("*") if p.is_file() and not p.is_symlink()]  # (PyInstaller links some libs)
    record(bundle_mb=round(sum(p.stat().st_size for p in files) / 2**20, 1), files=len(files))


def test_the_bundle_holds_lgpio(bundle):
    from PyInstaller.archive.readers import CArchiveReader

    modules = set(CArchiveReader(str(bundle)).open_embedded_archive("PYZ.pyz").toc)
    assert {"lgpio", "gpiozero.pins.lgpio", "hardware.board"} <= modules
    [extension] = INTERNAL.glob("_lgpio.cpython-311-aarch64-linux-gnu.so")
    assert elf_machine(extension) == EM_AARCH64
    # liblgpio itself: the wheel links it into the extension (no liblgpio.so.1 to find on the Pi).
    assert b"lgGpiochipOpen" in extension.read_bytes()
    record(lgpio=str(extension.relative_to(DIST)))


def test_no_pi_here_the_frozen_terminal_says_why_in_one_sentence(bundle, tmp_path):
    config = write_config(tmp_path)

    def selftest(**env):
        return subprocess.run([str(bundle), "selftest", "--config", str(config), "--timeout", "1"], cwd=tmp_path,
                              env=frozen_env(tmp_path, **env), capture_output=True, text=True,
                              timeout=120 * SLOWDOWN)

    done = selftest()
    assert done.returncode != 0
    assert done.stdout.startswith("Board: not a Raspberry Pi"), done.stdout
    assert done.stderr.strip() == (  # gpiozero's four fallback warnings folded into one sentence
        "kiosk: no GPIO on this machine that gpiozero can drive: this machine is not a Raspberry Pi (gpiozero "
        "finds no Pi revision in /proc/device-tree or /proc/cpuinfo). On a Raspberry Pi, check that lgpio is "
        "installed and that this user may use /dev/gpiochip*; elsewhere try --mock-pins"), done.stderr
    # lgpio asked for by name: the frozen module imports and gpiozero gets as far as the Pi revision (without
    # lgpio in the bundle it would say "No module named 'lgpio'").
    done = selftest(GPIOZERO_PIN_FACTORY="lgpio")
    assert done.returncode != 0
    assert done.stderr.startswith("kiosk: cannot set up the pins: unable to locate Pi revision"), done.stderr


def test_first_frame_on_llvmpipe_and_a_stored_press(bundle, tmp_path):
    config = write_config(tmp_path)
    mods = tmp_path / "kivy" / "mods"
    mods.mkdir(parents=True)
    shutil.copy(PRESS_KEYS, mods)
    env = frozen_env(tmp_path, KCFG_MODULES_PRESS_KEYS="keys=1,delay=0.3", LIBGL_ALWAYS_SOFTWARE="1")
    db = tmp_path / "data" / "kiosk.db"
    started = time.monotonic()
    proc = subprocess.Popen([str(bundle), "run", "--config", str(config), "--mock-pins"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first_frame = stored = None
    lines: list[str] = []
    rows: list = []
    try:
        for line in proc.stderr:  # the log, as it comes
            lines.append(line)
            if first_frame is None and "first frame drawn (home screen)" in line:
                first_frame = time.monotonic() - started
            if "press_keys: typed 1" in line or time.monotonic() - started > 60 * SLOWDOWN:
                break
        while not rows and time.monotonic() - started < 60 * SLOWDOWN:
            with sqlite3.connect(db) as conn:
                rows = conn.execute("SELECT rating, source FROM ratings").fetchall()
            time.sleep(0.1)
        stored = time.monotonic() - started
        proc.terminate()
        _, rest = proc.communicate(timeout=30 * SLOWDOWN)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = "".join(lines) + rest
    assert first_frame is not None, log[-3000:]
    assert rows == [("very_satisfied", "button")], log[-3000:]
    renderer = re.search(r"llvmpipe \([^)]*\)", log)  # what the terminal logs of its GL renderer
    assert renderer, log[-3000:]
    record(first_frame_s=round(first_frame, 1), press_stored_s=round(stored, 1), renderer=renderer[0],
           stored=rows)
    print(f"\narm64: first frame after {first_frame:.1f} s, press stored after {stored:.1f} s ({rows[0][0]})")

"""Small helpers shared by the tests that call the command-line entry points in-process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest


def write_terminal_config(tmp_path: Path, text: str = "") -> Path:
    """A terminal config with a technician's comment, its database and token under ``tmp_path``; ``text`` is
    appended inside ``[server]`` (or after it, as new sections)."""
    path = tmp_path / "kiosk.toml"
    path.write_text(
        "# Phúc La ward, counter 1 — technician's note\n[storage]\n"
        f'path = "{tmp_path / "kiosk.db"}"\n[server]\ntoken_file = "{tmp_path / "device.token"}"\n' + text,
        encoding="utf-8")
    return path


def run_main(main, args, capsys) -> tuple[int, str, str]:
    """Call a click ``main`` in-process: (exit status, stdout, stderr)."""
    try:
        main(args)
        status = 0
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@contextmanager
def tmpfs(folder: Path, *, size: str = "1m", read_only: bool = False):
    """A real tmpfs at ``folder`` (needs root, as in CI); read-only or tiny."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        why = f"cannot mount a tmpfs at {folder} ({done.stderr.strip()}): these tests need root"
        if os.environ.get("CI"):  # in CI a missing mount fails, never skips
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def wait_for_line(proc, lines: list[str], text: str, timeout: float) -> None:
    """Read ``proc``'s stderr into ``lines`` until a line holds ``text`` (or ``timeout`` passes); assert it came."""
    deadline = time.monotonic() + timeout
    for line in proc.stderr:
        lines.append(line)
        if text in line or time.monotonic() > deadline:
            break
    assert any(text in line for line in lines), f"no {text!r} in:\n" + "".join(lines[-30:])


def stop_and_collect(proc, lines: list[str]) -> None:
    """SIGTERM ``proc`` if it still runs and add the rest of its stderr to ``lines``; kill it if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, rest = proc.communicate(timeout=20)
        lines.append(rest)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()

"""Small helpers shared by the tests that call the command-line entry points in-process."""

from __future__ import annotations

from pathlib import Path


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

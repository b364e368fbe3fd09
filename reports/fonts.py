"""Finding installed font files: the official report's serif (and the server's enrolment sheets' DejaVu Sans).

Fonts are taken from the distribution at run time, not shipped; each caller says which package to install.
"""

from __future__ import annotations

from pathlib import Path


def font_files(files: dict[str, str], folders) -> tuple[dict[str, str], list[str]]:
    """The path of each of ``files`` (role -> file name), from the first of ``folders`` holding it; and the
    names found in none of them.

        >>> font_files({"regular": "NoSuchFont.ttf"}, ["/nonexistent"])
        ({}, ['NoSuchFont.ttf'])
    """
    found = {}
    for role, name in files.items():
        for folder in folders:
            candidate = Path(folder) / name
            if candidate.is_file():
                found[role] = str(candidate)
                break
    return found, [name for role, name in files.items() if role not in found]

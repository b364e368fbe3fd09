"""Kivy's own config file, ``$KIVY_HOME/config.ini``, checked before Kivy reads it (``kiosk run`` only).

Kivy rewrites this file in place at a first start and after an upgrade; a power
cut then can leave it cut short, and Kivy stops at its first missing option
(``NoOptionError``) at every start. A file that does not parse or lacks a
section Kivy writes is moved aside as ``config.ini.damaged-<UTC time>``; Kivy
writes a fresh one, and the terminal's own input settings (those of
deploy/kivy-config.ini) are put back into it.

    >>> config_problem("[kivy]\\nconfig_version = 27\\n")
    'it lacks [graphics], [input], [postproc], [widgets], [modules], [network]'
"""

from __future__ import annotations

import configparser
import logging
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

#: The sections Kivy writes, all read at its start.
KIVY_SECTIONS = ("kivy", "graphics", "input", "postproc", "widgets", "modules", "network")

#: deploy/kivy-config.ini's [input]: the touchscreen is the only touch provider, so a touch counts once
#: (Kivy's default also probes every touch device beside its mouse provider, and SDL turns touches into clicks).
INPUT_PROVIDERS = {"touchscreen_%(name)s": "probesysfs,provider=hidinput"}


def config_problem(text: str) -> str | None:
    """Why Kivy cannot start from a config file holding ``text`` (a sentence), or None when it can."""
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        return f"it does not parse ({str(exc).splitlines()[0]})"
    missing = [section for section in KIVY_SECTIONS if not parser.has_section(section)]
    if missing:
        return "it lacks " + ", ".join(f"[{section}]" for section in missing)
    try:
        parser.getint("kivy", "config_version")
    except (configparser.Error, ValueError):
        return "its [kivy] config_version is missing or not a number"
    if not text.endswith("\n"):  # Kivy ends every line: a last line without one was cut
        return "its last line is cut short"
    return None


def repair_kivy_config(path: Path) -> Path | None:
    """Move a damaged Kivy config at ``path`` aside and let Kivy write a fresh one with our [input];
    the name it was moved to, or None when the file was sound (or absent: Kivy writes it itself).

    Imports Kivy when the file was damaged: call it where Kivy may be imported (``kiosk run``), after its
    environment is set.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"it cannot be read ({exc})"
    else:
        problem = config_problem(text)
    if problem is None:
        return None
    when = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    moved_to = path.with_name(f"{path.name}.damaged-{when}")
    path.rename(moved_to)
    log.warning("Kivy's config %s was damaged (%s), e.g. by a power cut while Kivy rewrote it; moved aside to "
                "%s, a fresh one is written", path, problem, moved_to.name)
    from kivy.config import Config  # Kivy finds no file, and writes its defaults

    # Kivy's default [input] would count every touch twice: ours replaces it, in the file and for this run.
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # keep "%(name)s" as written
    parser.read(path, encoding="utf-8")
    parser.remove_section("input")
    parser.add_section("input")
    for option in Config.options("input"):
        Config.remove_option("input", option)
    for option, value in INPUT_PROVIDERS.items():
        parser.set("input", option, value)
        Config.set("input", option, value)
    with open(path, "w", encoding="utf-8") as file:
        parser.write(file)
    return moved_to

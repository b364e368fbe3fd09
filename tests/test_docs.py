"""The docs are tested: README names every command, option and config key,
and the files in deploy/ agree with the code.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click
import pytest

from kiosk.cli import SYSTEM_CONFIG, cli
from kiosk.config import SCHEMA, Key, load_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
DEPLOY = ROOT / "deploy"

COMMANDS = sorted(cli.commands)
COMMAND_OPTIONS = [
    (name, opt)
    for name, command in sorted(cli.commands.items())
    for param in command.params
    if isinstance(param, click.Option) and not param.hidden
    for opt in param.opts
]
GROUP_OPTIONS = [opt for param in cli.params if isinstance(param, click.Option) for opt in param.opts]
CONFIG_KEYS = [(section, name) for section, keys in SCHEMA.items() for name in keys]


def section(markdown: str, heading: str) -> str:
    """The text under ``## heading``, up to the next heading of that level."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"README has no '## {heading}' section"
    return match.group(1)


def config_rows(markdown: str) -> dict[tuple[str, str], list[str]]:
    """The config table: (section, key) -> the cells after the key."""
    rows = {}
    for line in markdown.splitlines():
        match = re.match(r"^\| `\[(\w+)\] (\w+)` \|(.*)\|\s*$", line)
        if match:
            rows[(match[1], match[2])] = [cell.strip() for cell in match[3].split("|")]
    return rows


def documented_default(key: Key) -> str | None:
    """How README's table writes ``key``'s default; None where it is said in words."""
    value = key.default
    if value is None:
        return "unwired"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, int):
        return f"`{value}`"
    if value == []:
        return "`[]`"
    return None


# -- commands and options ------------------------------------------------

@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_readme(name):
    assert f"kiosk {name}" in README


@pytest.mark.parametrize(("name", "opt"), COMMAND_OPTIONS)
def test_every_option_is_in_readme_with_its_command(name, opt):
    # On one line with its command, as in the synopsis: `kiosk run [--config PATH] ...`.
    lines = [line for line in README.splitlines() if f"kiosk {name}" in line]
    assert any(re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", line) for line in lines), (
        f"README has no line with `kiosk {name}` and {opt}"
    )


@pytest.mark.parametrize("opt", GROUP_OPTIONS)
def test_every_top_level_option_is_in_readme(opt):
    assert f"kiosk {opt}" in README


def test_the_walk_finds_the_commands_and_options():
    # Guards the checks above against walking nothing.
    assert {"run", "status", "selftest", "pin-hash"} <= set(COMMANDS)
    assert ("run", "--mock-pins") in COMMAND_OPTIONS and ("status", "--json") in COMMAND_OPTIONS
    assert "--version" in GROUP_OPTIONS


# -- config keys -----------------------------------------------------------

@pytest.mark.parametrize(("section_name", "name"), CONFIG_KEYS)
def test_every_config_key_has_a_row_in_readme(section_name, name):
    rows = config_rows(README)
    assert (section_name, name) in rows, f"README's config table has no row for `[{section_name}] {name}`"
    expected = documented_default(SCHEMA[section_name][name])
    if expected is not None:
        assert rows[(section_name, name)][1] == expected, f"default of [{section_name}] {name}"


def test_readme_documents_no_key_that_does_not_exist():
    assert set(config_rows(README)) - set(CONFIG_KEYS) == set()


# -- quick start and make targets ----------------------------------------

def test_quick_start_is_make_demo_and_make_test():
    quick_start = section(README, "Quick start")
    assert "make demo" in quick_start
    assert "make test" in quick_start


def make_targets(makefile: str) -> set[str]:
    # `name:` rules, not `NAME := value` assignments.
    return {m[1] for m in re.finditer(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", makefile, re.M)}


def mentioned_make_targets(markdown: str) -> set[str]:
    in_code = re.findall(r"`make ([\w-]+)`", markdown)
    in_blocks = re.findall(r"^make ([\w-]+)", markdown, re.M)
    return set(in_code) | set(in_blocks)


def test_every_make_target_in_readme_exists():
    mentioned = mentioned_make_targets(README)
    assert {"demo", "test", "install"} <= mentioned
    assert mentioned - make_targets(MAKEFILE) == set()


# -- deploy/ ---------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(DEPLOY.glob("*.toml")), ids=lambda p: p.name)
def test_every_deploy_config_loads(path):
    load_config(path)


def test_example_config_is_a_production_config():
    path = DEPLOY / "kiosk.example.toml"
    config = load_config(path)
    assert config.storage.path == "/var/lib/hai-long/kiosk.db"
    assert config.display.kiosk is True
    # Every key is written out (and commented), so a technician sees them all.
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    written = {(section_name, name) for section_name, keys in data.items() for name in keys}
    assert set(CONFIG_KEYS) - written == set()


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            name, value = line.split("=", 1)
            settings.setdefault(name.strip(), []).append(value.strip())
    return settings


def test_systemd_unit_agrees_with_the_code_and_the_example_config():
    unit = unit_settings((DEPLOY / "kiosk.service").read_text(encoding="utf-8"))
    (exec_start,) = unit["ExecStart"]
    # deploy/hai-long-launch picks the A/B slot and runs its `kiosk` with these arguments.
    assert exec_start == f"/opt/hai-long/bin/hai-long-launch run --config {SYSTEM_CONFIG}"
    (state_dir,) = unit["StateDirectory"]
    (working_dir,) = unit["WorkingDirectory"]
    assert working_dir == f"/var/lib/{state_dir}"
    example = load_config(DEPLOY / "kiosk.example.toml")
    assert str(Path(example.storage.path).parent) == working_dir
    assert unit["Restart"] == ["always"]
    assert unit["User"] == ["hailong"]


# -- the server's and the administrators' commands -------------------------

def _other_commands():
    from server.cli import cli as server_cli
    from admin.cli import cli as admin_cli

    found = []
    for program, group in (("kiosk-server", server_cli), ("kiosk-admin", admin_cli)):
        for name, command in sorted(group.commands.items()):
            options = [opt for param in command.params
                       if isinstance(param, click.Option) and not param.hidden for opt in param.opts]
            found.append((f"{program} {name}", options))
    return found


@pytest.mark.parametrize(("command", "options"), _other_commands(), ids=lambda value: str(value)[:40])
def test_server_and_admin_commands_are_in_readme_with_their_options(command, options):
    lines = [line for line in README.splitlines() if command in line]
    assert lines, f"README does not mention `{command}`"
    missing = [opt for opt in options
               if not any(re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", line) for line in lines)]
    assert not missing, f"README's lines with `{command}` do not show {missing}"


# -- links and pictures ----------------------------------------------------

def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_inside_the_readme_leads_to_a_heading():
    anchors = {github_anchor(m[1]) for m in re.finditer(r"^#{1,6} (.+)$", README, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", README))
    assert len(links) >= 10
    assert links - anchors == set()


def test_every_file_and_picture_the_readme_points_to_exists():
    targets = {t for t in re.findall(r"\]\(([^)#]+)\)", README) if not re.match(r"https?://", t)}
    pictures = {t for t in targets if t.endswith(".png")}
    assert {"docs/screens/home-800x480.png", "docs/screens/service-status-800x480.png",
            "docs/screens/overview-desktop.png"} <= pictures
    assert [t for t in targets if not (ROOT / t).is_file()] == []


def test_the_readme_pictures_are_the_ones_the_tests_make():
    # `make screenshots` copies them from the tests' output folders: each must be named there.
    copied = set()
    for names, folder in re.findall(r"for name in ([\w -]+); do cp (tests/output/\w+)/", MAKEFILE):
        suffix = "-800x480" if folder.endswith("screens") else ""
        copied |= {f"docs/screens/{name}{suffix}.png" for name in names.split()}
    pictures = set(re.findall(r"\]\((docs/screens/[^)]+\.png)\)", README))
    assert pictures and pictures <= copied
    tests = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py"))
    for name in ("service-status", "overview-desktop", "fleet-desktop", "overview-phone"):
        assert name in tests


# -- the server's settings ---------------------------------------------------

def test_readme_has_the_servers_settings_table_as_the_code_makes_it():
    from server.settings import SPECS, markdown_table

    table = markdown_table()
    assert len(table.splitlines()) == 2 + len(SPECS)
    assert table in README, "README's settings table is stale: paste markdown_table() from server/settings.py"


# -- SECURITY.md: the rotation commands it gives exist, with the options it shows -----------------

def _all_commands() -> dict[str, set[str]]:
    """'kiosk provision' -> its options, for the three programs."""
    from admin.cli import cli as admin_cli
    from server.cli import cli as server_cli

    return {f"{program} {name}": {opt for param in command.params if isinstance(param, click.Option)
                                  for opt in param.opts}
            for program, group in (("kiosk", cli), ("kiosk-server", server_cli), ("kiosk-admin", admin_cli))
            for name, command in group.commands.items()}


def test_every_command_in_security_md_exists_with_its_options():
    security = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    commands = _all_commands()
    used = re.findall(r"`(?:sudo )?(?:[A-Z_]+=\S+ )*(kiosk(?:-server|-admin)? [a-z-]+)([^`]*)`", security)
    assert len(used) >= 10  # the rotation steps name the commands
    for command, rest in used:
        assert command in commands, f"SECURITY.md names `{command}`, which does not exist"
        unknown = set(re.findall(r"(?<![\w-])--[a-z-]+", rest)) - commands[command]
        assert not unknown, f"SECURITY.md gives `{command}` options it does not have: {unknown}"

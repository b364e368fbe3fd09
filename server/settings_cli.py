"""``kiosk-server settings show|set|history|rollback``: the terminals' remote settings from the command line.

    kiosk-server settings show [--node ID | --terminal ID] [--json]
    kiosk-server settings set [--node ID | --terminal ID] KEY=VALUE ... [--unset KEY ...] [--note TEXT]
    kiosk-server settings history [--node ID | --terminal ID] [--limit N]
    kiosk-server settings rollback CHANGE_ID [--note TEXT]

No scope option: the whole fleet. ``--node`` takes a node's code or ``#id``. A VALUE is read as a TOML value,
and a bare word as text: ``feedback.thanks_s=5``, ``feedback.reasons=["staff_attitude"]``,
``terminal.language=en``. A bad key or value exits 2 with a sentence naming the key, and nothing is stored.
Each change is recorded in the audit trail as the CLI's (``kiosk-server CLI (user@host)``).

    >>> parse_assignment('feedback.reasons=["staff_attitude"]'), parse_assignment("terminal.language=en")
    (('feedback.reasons', ['staff_attitude']), ('terminal.language', 'en'))
"""

from __future__ import annotations

import json
import sys
import time
import tomllib
from typing import Any

import click

from sync.plain_text import one_line

from .audit_cli import cli_actor
from .cli import _echo_table, _open, cli, setting_options


def parse_value(text: str) -> Any:
    """A TOML value (``5``, ``true``, ``"text"``, ``["a", "b"]``), else the text itself as a string.

        >>> parse_value("5"), parse_value("true"), parse_value("Anh/chị hài lòng không?")
        (5, True, 'Anh/chị hài lòng không?')
    """
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignment(text: str) -> tuple[str, Any]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise ValueError(f"{text}: expected KEY=VALUE, e.g. feedback.thanks_s=5")
    return name.strip(), parse_value(value.strip())


def _refuse(message: str, *, changing: bool = True) -> None:
    """The sentence on stderr, exit 2 (a bad key or value, or an unknown node, terminal or change)."""
    click.echo(one_line(f"kiosk-server settings: {message}" + ("; nothing was stored" if changing else "")), err=True)
    sys.exit(2)


def _scope_options(command):
    command = click.option("--terminal", "terminal", default=None, metavar="ID", help="one terminal (its id)")(command)
    return click.option("--node", "node", default=None, metavar="ID",
                        help="a node of the tree: its code or #id (none: the whole fleet)")(command)


@cli.group("settings")
def settings() -> None:
    """The terminals' remote settings: per fleet, node or terminal, the nearest winning (see README)."""


@settings.command("show")
@_scope_options
@click.option("--json", "as_json", is_flag=True, help="print the scope's own and effective sets as JSON")
@setting_options("db_url")
def show(node: str | None, terminal: str | None, as_json: bool, db_url: str | None) -> None:
    """Show a scope's own settings and the effective set its terminals get (with where each value comes from)."""
    from .routes.terminal_settings import shown
    from .terminal_settings import SettingsRefused, resolve_scope

    engine = _open({"db_url": db_url})
    try:
        with engine.connect() as conn:
            try:
                scope = resolve_scope(conn, node=node, terminal=terminal)
            except SettingsRefused as exc:
                _refuse(str(exc), changing=False)
            found = shown(conn, scope)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2, sort_keys=True))
        return
    click.echo(f"{scope.words()}: own settings (version {found['own']['version']})")
    for name, value in sorted(found["own"]["values"].items()):
        click.echo(one_line(f"  {name} = {json.dumps(value, ensure_ascii=False)}"))
    if not found["own"]["values"]:
        click.echo("  (none)")
    click.echo(f"effective for its terminals (version {found['effective']['version']})")
    for name, value in sorted(found["effective"]["values"].items()):
        source = found["effective"]["sources"][name]
        click.echo(one_line(f"  {name} = {json.dumps(value, ensure_ascii=False)}    from {source}"))
    if not found["effective"]["values"]:
        click.echo("  (none: the terminals' local files)")


@settings.command("set")
@click.argument("assignments", nargs=-1, metavar="KEY=VALUE...")
@_scope_options
@click.option("--unset", "unset", multiple=True, metavar="KEY", help="a key this scope no longer sets (repeatable)")
@click.option("--note", default=None, metavar="TEXT", help="why, for the history")
@setting_options("db_url")
def set_command(assignments: tuple[str, ...], node: str | None, terminal: str | None, unset: tuple[str, ...],
                note: str | None, db_url: str | None) -> None:
    """Set KEY=VALUE (and remove --unset KEY) for the fleet, a --node or a --terminal: one new change."""
    from .db import write_transaction
    from .settings_actions import set_settings
    from .terminal_settings import SettingsRefused, check_unset, check_values, resolve_scope

    values: dict[str, Any] = {}
    try:
        for text in assignments:
            name, value = parse_assignment(text)
            values[name] = value
        check_values(values)  # before the database is opened: a typo is named at once
        check_unset(unset)
    except (ValueError, SettingsRefused) as exc:
        _refuse(str(exc))
    engine = _open({"db_url": db_url})
    try:
        with engine.connect() as conn, write_transaction(conn):
            scope = resolve_scope(conn, node=node, terminal=terminal)
            done = set_settings(conn, None, scope, set_values=values, unset=unset, note=note, now_ns=time.time_ns(),
                                actor=cli_actor())
    except SettingsRefused as exc:
        _refuse(str(exc))
    finally:
        engine.dispose()
    click.echo(f"change {done.id}: {scope.words()} now sets {len(done.values)} key(s) (version {done.version}); "
               "terminals get it at their next heartbeat")


@settings.command("history")
@_scope_options
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200), help="most changes listed")
@setting_options("db_url")
def history_command(node: str | None, terminal: str | None, limit: int, db_url: str | None) -> None:
    """List the changes (of one scope, or of every one), newest first: the CHANGE_ID to roll back to."""
    from .terminal_settings import SettingsRefused, history, resolve_scope

    engine = _open({"db_url": db_url})
    try:
        with engine.connect() as conn:
            try:
                scope = resolve_scope(conn, node=node, terminal=terminal) if node or terminal else None
            except SettingsRefused as exc:
                _refuse(str(exc), changing=False)
            listed = history(conn, [scope.key] if scope else None, limit=limit)
    finally:
        engine.dispose()
    if not listed:
        click.echo("no settings change yet (make one with `kiosk-server settings set KEY=VALUE`)")
        return
    table = [("change", "at", "scope", "by", "version", "values", "note")]
    for change in listed:
        note = change.note or ""
        if change.restores_id is not None and not note:
            note = f"restores {change.restores_id}"
        table.append((str(change.id), change.changed_at, change.scope, change.changed_by, change.version,
                      json.dumps(change.values, ensure_ascii=False, sort_keys=True), note))
    _echo_table(table)


@settings.command("rollback")
@click.argument("change_id", type=int, metavar="CHANGE_ID")
@click.option("--note", default=None, metavar="TEXT", help="why, for the history")
@setting_options("db_url")
def rollback(change_id: int, note: str | None, db_url: str | None) -> None:
    """Restore the values change CHANGE_ID left for its scope, as a new change (the history stays)."""
    from .db import write_transaction
    from .settings_actions import roll_back
    from .terminal_settings import Scope, SettingsRefused

    engine = _open({"db_url": db_url})
    try:
        with engine.connect() as conn, write_transaction(conn):
            done = roll_back(conn, None, change_id, note=note, now_ns=time.time_ns(), actor=cli_actor())
    except SettingsRefused as exc:
        _refuse(str(exc))
    finally:
        engine.dispose()
    click.echo(f"change {done.id}: {Scope.from_key(done.scope).words()} restored to change {change_id}'s settings "
               f"(version {done.version})")

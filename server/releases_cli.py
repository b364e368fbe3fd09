"""``kiosk-server release``: upload signed releases of the terminal and roll them out (see :mod:`server.rollouts`).

    kiosk-server release upload ARCHIVE [--sig FILE]
    kiosk-server release list
    kiosk-server release rollout VERSION [--node ID] [--wave PCT]
    kiosk-server release status [VERSION]
    kiosk-server release stop VERSION [--reason TEXT]

Each also takes ``--db URL``, ``--releases-dir DIR`` and ``--release-public-key KEY`` (or their ``HAILONG_*``
variables). Bad input (an archive that is not the one signed, an unknown version, a wave outside 1–100) prints one
plain sentence and exits 2; nothing is stored. The changes are in the audit trail as the CLI's actor.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from sync.plain_text import one_line

from .audit_cli import cli_actor
from .cli import _echo_table, _open, _settings, cli, setting_options

_SETTINGS = ("db_url", "releases_dir", "release_public_key")


def _refuse(message: str) -> None:
    click.echo(f"kiosk-server: {one_line(message)}", err=True)
    sys.exit(2)


@cli.group()
def release() -> None:
    """Upload signed releases of the terminal and roll them out, all at once or in waves."""


@release.command("upload")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sig", "sig_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="the release statement (default: ARCHIVE.sig beside the archive)")
@setting_options(*_SETTINGS)
def upload(archive: Path, sig_path: Path | None, **given: str | None) -> None:
    """Keep a signed release ARCHIVE (hai-long-kiosk-VERSION-ARCH.tar.gz) and its statement on the server."""
    from .db import write_transaction
    from .releases import ReleaseRefused, add_release, discard_archive
    from .release_statement import StatementError, parse_statement
    from .settings import releases_folder

    sig_path = sig_path or archive.with_name(archive.name + ".sig")
    for path, what in ((archive, "the archive"), (sig_path, "the statement (--sig)")):
        if not path.is_file():
            _refuse(f"{what}: there is no file at {path}")
    settings = _settings(given)
    folder = releases_folder(settings)
    sig = sig_path.read_bytes()
    engine = _open(given)
    try:
        with engine.connect() as conn:
            try:
                with write_transaction(conn):
                    done = add_release(conn, folder, archive, sig, actor=cli_actor(), now_ns=time.time_ns(),
                                       public_key=settings.release_public_key)
            except ReleaseRefused as exc:
                _refuse(str(exc))
            except BaseException:
                try:
                    statement = parse_statement(sig)
                    discard_archive(folder, conn, statement.version, statement.archive)
                except StatementError:
                    pass
                raise
    finally:
        engine.dispose()
    checked = "signature checked" if done.signature_checked else "signature not checked (no --release-public-key)"
    click.echo(f"release {done.version} ({done.arch}, {done.size} bytes, sha256 {done.sha256}) kept in "
               f"{folder / done.archive}; {checked}")


@release.command("list")
@setting_options(*_SETTINGS)
def list_command(**given: str | None) -> None:
    """List the uploaded releases, the newest first."""
    from .releases import list_releases

    engine = _open(given)
    with engine.connect() as conn:
        found = list_releases(conn)
    engine.dispose()
    if not found:
        click.echo("no releases yet (upload one with `kiosk-server release upload ARCHIVE`)")
        return
    table = [("version", "arch", "size", "sha256", "signature", "uploaded at", "by")]
    for item in found:
        table.append((item.version, item.arch, str(item.size), item.sha256[:16] + "…",
                      "checked" if item.signature_checked else "not checked", item.uploaded_at, item.uploaded_by))
    _echo_table(table)


def _show(statuses: list[dict]) -> None:
    if not statuses:
        click.echo("no rollouts yet (start one with `kiosk-server release rollout VERSION`)")
        return
    for s in statuses:
        wave = s["first_wave"]
        line = (f"#{s['id']} {s['version']} to {s['target']}: {s['state']}"
                + (f", first wave {s['wave_pct']}% = {wave['terminals']} terminal(s) ({wave['updated']} updated, "
                   f"{wave['updating']} updating, {wave['failed']} failed)" if s["wave_pct"] < 100 else "")
                + f"; all: {s['updated']}/{s['terminals']} updated, {s['updating']} updating, {s['failed']} failed"
                + f"; started {s['started_at']} by {s['started_by']}")
        if s["stopped_reason"]:
            line += f"; stopped {s['ended_at']} by {s['stopped_by']}: {s['stopped_reason']}"
        click.echo(one_line(line))


def _change(given: dict, change) -> list[dict] | dict:
    from .db import write_transaction
    from .releases import UnknownRelease
    from .rollouts import RolloutRefused

    engine = _open(given)
    try:
        with engine.connect() as conn, write_transaction(conn):
            return change(conn)
    except (RolloutRefused, UnknownRelease) as exc:
        _refuse(str(exc))
    finally:
        engine.dispose()


@release.command("rollout")
@click.argument("version")
@click.option("--node", default=None, help="the node (its code or #id) whose terminals get it (default: the fleet)")
@click.option("--wave", "wave_pct", default=100, show_default=True, type=int,
              help="the first wave's share of the terminals, in %; the rest once it is healthy (100: all at once)")
@setting_options(*_SETTINGS)
def rollout(version: str, node: str | None, wave_pct: int, **given: str | None) -> None:
    """Roll release VERSION out to the fleet (or --node), all at once or a first wave (--wave) then the rest."""
    from .rollouts import start_rollout

    _show([_change(given, lambda conn: start_rollout(conn, version, node=node, wave_pct=wave_pct,
                                                      actor=cli_actor(), caller=None, now_ns=time.time_ns()))])


@release.command("status")
@click.argument("version", required=False)
@setting_options(*_SETTINGS)
def status(version: str | None, **given: str | None) -> None:
    """Show the rollouts (of VERSION) with their state and wave counts, the newest first."""
    from .releases import UnknownRelease, find_release
    from .rollouts import rollout_status

    engine = _open(given)
    try:
        with engine.connect() as conn:
            if version is not None:
                try:
                    find_release(conn, version)
                except UnknownRelease as exc:
                    _refuse(str(exc))
            found = rollout_status(conn, version=version)
    finally:
        engine.dispose()
    _show(found)


@release.command("stop")
@click.argument("version")
@click.option("--reason", default=None, help="why, for the record")
@setting_options(*_SETTINGS)
def stop(version: str, reason: str | None, **given: str | None) -> None:
    """Stop every running rollout of VERSION: no terminal is offered it any more (those that run it keep it)."""
    from .rollouts import stop_rollout

    _show(_change(given, lambda conn: stop_rollout(conn, version, actor=cli_actor(), caller=None,
                                                    now_ns=time.time_ns(), reason=reason)))

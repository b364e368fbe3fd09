"""``kiosk-server audit``: check, list and export the audit trail (see :mod:`server.audit`).

Each command also takes ``--db URL`` (added by :mod:`server.cli`, like every command's).

    kiosk-server audit verify [--anchor ID:HASH]
    kiosk-server audit list [--limit N] [--action A] [--actor TEXT]
    kiosk-server audit export [--since DATE] [--format csv|json] [--output FILE]

``verify`` exits 0 with "N entries, chain intact" and the head to write
down, or 1 naming the first broken entry and what is wrong with it.
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import socket
import sys

import click
from sqlalchemy import func, select

from reports.spreadsheet_text import csv_row
from sync.plain_text import one_line

from .audit import ACTIONS, ENTRY_FIELDS, Actor, details_text, list_entries, record, utc_bound
from .schema import audit_log


def cli_actor() -> Actor:
    """``kiosk-server CLI (user@host)``: the operating-system account that ran the command, and through sudo, who."""
    user = pwd.getpwuid(os.geteuid()).pw_name
    via = os.environ.get("SUDO_USER")
    return Actor(f"kiosk-server CLI ({user}@{socket.gethostname()}{f', sudo by {via}' if via else ''})", role="cli")


def _open(db_url: str | None):
    from .cli import _open as open_database  # the one way every command finds the database

    return open_database({"db_url": db_url})


def _settings(db_url: str | None):
    from .cli import _settings as resolve

    return resolve({"db_url": db_url})


@click.group()
def audit() -> None:
    """Check, list and export the audit trail (logins, pulls, exports, enrolments, moves, revocations, tokens,
    accounts, tree imports)."""


@audit.command()
@click.option("--anchor", default=None, metavar="ID:HASH",
              help="a head printed by an earlier verify: also check that entry is still there, unchanged "
                   "(shows that the last entries were deleted)")
def verify(anchor: str | None, db_url: str | None) -> None:
    """Check the hash chain: exit 0 if intact, 1 naming the first broken entry."""
    from .audit_verify import parse_anchor, verify_chain

    try:
        anchored = parse_anchor(anchor) if anchor is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--anchor") from None
    engine = _open(db_url)
    with engine.connect() as conn:
        verdict = verify_chain(conn, anchor=anchored)
    engine.dispose()
    if verdict.broken is not None:
        click.echo(f"kiosk-server: audit trail broken at entry {verdict.broken.entry_id} ({verdict.broken.kind}): "
                   f"{verdict.broken.message}; {verdict.count} entries before it are intact", err=True)
        sys.exit(1)
    click.echo(f"{verdict.count} entries, chain intact")
    if verdict.head_id:
        click.echo(f"head: {verdict.head_id}:{verdict.head_hash}  (write it down or keep it elsewhere; "
                   "`audit verify --anchor` with it later shows whether the last entries were deleted)")


@audit.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="newest entries shown")
@click.option("--action", default=None, type=click.Choice(sorted(ACTIONS)), help="only this action")
@click.option("--actor", default=None, help="only actors whose name contains this text")
def list_command(limit: int, action: str | None, actor: str | None, db_url: str | None) -> None:
    """Show the newest entries, newest first."""
    engine = _open(db_url)
    with engine.connect() as conn:
        entries = list_entries(conn, action=action, actor=actor, limit=limit, newest_first=True)
    engine.dispose()
    if not entries:
        click.echo("no audit entries" + (" match" if action or actor else " yet"))
        return
    for e in entries:
        parts = [str(e["id"]), e["at"], e["action"], e["actor"], e["subject"] or "",
                 "" if e["rows"] is None else f"{e['rows']} rows", e["address"] or ""]
        click.echo(one_line("  ".join(part for part in parts if part)))


@audit.command()
@click.option("--since", default=None, help="only entries from this local date (2026-12-01) or time with offset")
@click.option("--format", "fmt", default="csv", show_default=True, type=click.Choice(["csv", "json"]))
@click.option("--output", default="-", show_default=True, type=click.File("w", encoding="utf-8", lazy=True),
              help="the file to write (- : standard output)")
def export(since: str | None, fmt: str, output, db_url: str | None) -> None:
    """Write the entries (all, or since a date) as CSV or JSON; the export is itself recorded."""
    from .db import write_transaction

    try:
        since_utc = utc_bound(since, _settings(db_url).timezone) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    engine = _open(db_url)
    with engine.connect() as conn:
        matching = select(func.count()).select_from(audit_log)
        if since_utc:
            matching = matching.where(audit_log.c.at >= since_utc)
        with write_transaction(conn):
            count = conn.execute(matching).scalar_one()
            head = record(conn, actor=cli_actor(), action="export", subject="audit", rows=count,
                          details={"format": fmt, "since": since_utc}).id
        _write(conn, output, fmt, since_utc, head)
    engine.dispose()
    click.echo(f"{count} audit entries written as {fmt}" + (f" (since {since_utc})" if since else ""), err=True)


def _write(conn, output, fmt: str, since: str | None, head: int) -> None:
    """Entries up to ``head`` (the export's own entry excluded), in pages, so a long trail is not held in memory."""
    after, first = 0, True
    writer = csv.writer(output, lineterminator="\r\n") if fmt == "csv" else None
    if writer is not None:
        output.write("\ufeff")
        writer.writerow(ENTRY_FIELDS)
    else:
        output.write("[")
    while True:
        page = list_entries(conn, after=after, before=head, since=since, limit=5000)
        for e in page:
            if writer is not None:
                writer.writerow(csv_row(details_text(e[f]) if f == "details" else e[f] for f in ENTRY_FIELDS))
            else:
                output.write(("\n" if first else ",\n") + json.dumps(e, ensure_ascii=False))
                first = False
        if len(page) < 5000:
            break
        after = page[-1]["id"]
    if writer is None:
        output.write("\n]\n")

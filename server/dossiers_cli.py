"""``kiosk-server purge-dossiers``: blank the dossier codes past their retention now (the server does it hourly).

    kiosk-server purge-dossiers [--dossier-retention-days DAYS] [--db URL]

The ratings and invitations stay; only their dossier code is blanked. Recorded in the audit trail.
"""

from __future__ import annotations

import time

import click

from .audit_cli import cli_actor
from .cli import _open, _settings, cli, setting_options


@cli.command("purge-dossiers")
@setting_options("db_url", "dossier_retention_days")
def purge_dossiers_command(db_url: str | None, dossier_retention_days: str | None) -> None:
    """Blank the dossier codes of ratings and invitations older than --dossier-retention-days (default 365)."""
    from .dossiers import DossierRetention

    given = {"db_url": db_url, "dossier_retention_days": dossier_retention_days}
    days = _settings(given).dossier_retention_days
    engine = _open(given)
    try:
        done = DossierRetention(engine, days, time.time_ns).purge(actor=cli_actor())
    finally:
        engine.dispose()
    click.echo(f"kiosk-server: dossier codes older than {days} days (before {done['cutoff']}) blanked: "
               f"{done['ratings']} ratings, {done['invitations']} invitations")

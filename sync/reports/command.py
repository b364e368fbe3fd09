"""``kiosk-admin report`` (being built)."""

import click


@click.command()
def report() -> None:
    """Print a report of the ratings."""
    raise click.ClickException("not built yet")

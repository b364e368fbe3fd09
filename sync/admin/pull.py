"""``kiosk-admin pull`` (being built)."""

import click


@click.command()
def pull() -> None:
    """Fetch every rating not yet pulled and append it to a file."""
    raise click.ClickException("not built yet")

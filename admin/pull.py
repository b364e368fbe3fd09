"""``kiosk-admin pull``: fetch every rating not yet pulled and append it to a file.

    kiosk-admin pull --server https://hailong.example.vn --out ratings.db
    HAILONG_ADMIN_TOKEN=… kiosk-admin pull --server URL --out ratings.csv

The command only parses, calls :func:`admin.pulling.pull_ratings` and
prints: a progress bar on a terminal (quiet otherwise), then one line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

from sync.addresses import check_server_url
from sync.errors import SyncConfigError
from .client import PAGE_SIZE, TOKEN_ENV, PullError, make_session
from .pulled import EXTENSIONS, extension_rule
from .pulling import PullInterrupted, pull_ratings


def _check_out(ctx, param, value: Path) -> Path:
    if value.suffix.lower() not in EXTENSIONS:
        raise click.BadParameter(f"{extension_rule(value.name)} (the format follows the extension)")
    return value


@click.command()
@click.option("--server", "server_url", required=True, metavar="URL",
              help="The central server, e.g. https://hailong.example.vn")
@click.option("--token", required=True, envvar=TOKEN_ENV, show_envvar=True, metavar="TOKEN",
              help=f"An admin token (kiosk-server admin-token); better from ${TOKEN_ENV}, out of shell history.")
@click.option("--out", "out", required=True, metavar="FILE", callback=_check_out,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The file to append to: .db (SQLite), .csv, .xlsx or .jsonl.")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), metavar="PATH",
              help="Certificates to trust for the server's TLS (default: the system's).")
@click.option("--allow-http", is_flag=True, help="Allow plain http to another machine (a trusted network only).")
@click.option("--page-size", type=click.IntRange(1, 100_000), default=PAGE_SIZE, show_default=True,
              help="Ratings asked for per request (the server caps it).")
def pull(server_url: str, token: str, out: Path, ca_bundle: str | None, allow_http: bool, page_size: int) -> None:
    """Fetch every rating not yet pulled and append it to FILE.

    Run it again later for what arrived since: no rating is written twice,
    and a pull stopped part way continues where it stopped.
    """
    try:
        server_url = check_server_url(server_url, allow_http=allow_http)
    except SyncConfigError as exc:
        if urlsplit(server_url).scheme == "http":
            exc = "plain http to another machine: use https, or pass --allow-http if this network is trusted"
        raise click.BadParameter(str(exc), param_hint="'--server'") from None
    from tqdm import tqdm

    bar = tqdm(unit=" ratings", unit_scale=True, disable=not sys.stderr.isatty(), file=sys.stderr,
               desc=out.name, dynamic_ncols=True)
    try:
        with make_session(ca_bundle=ca_bundle) as session:
            summary = pull_ratings(out, server_url, token.strip(), session=session, page_size=page_size,
                                   when_page=bar.update)
    except PullInterrupted as exc:
        bar.close()
        click.echo(exc.summary.line(), err=True)
        if exc.cancelled:
            click.echo("Interrupted: run the same command again to continue.", err=True)
            sys.exit(130)
        click.echo(f"Error: {exc}; run the same command again to continue.", err=True)
        sys.exit(1)
    except PullError as exc:
        bar.close()
        click.echo(f"Error: {exc}.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        bar.close()
        click.echo("Interrupted before anything was saved.", err=True)
        sys.exit(130)
    bar.close()
    click.echo(summary.line())

"""``kiosk-admin report``: a period's report from a pulled file or from the server, in four formats.

    kiosk-admin report --db ratings.db --period quarter --on 2026-11-25 --by site --format xlsx --out q4.xlsx
    kiosk-admin report --server https://hl.example.vn --period half --format summary

Bad options exit 2 (a bad date or filter with one sentence naming the option); a missing or foreign file, or a server that refuses, exits 1 with one sentence.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import click

from sync.addresses import check_server_url
from sync.errors import SyncConfigError
from .errors import FilterError, PeriodError, ReportError
from .filters import check_filters
from .figures import GROUPINGS, TREND_UNITS, build_report
from .periods import DEFAULT_TZ, PERIOD_KINDS, parse_period
from .sources import sqlite_source

TOKEN_ENV = "HAILONG_ADMIN_TOKEN"
FORMATS = ("table", "csv", "xlsx", "summary")
_SUFFIX_FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".txt": "table"}


@click.command()
@click.option("--db", "db_file", type=click.Path(dir_okay=False, path_type=Path),
              help="a pulled ratings file (kiosk-admin pull --out ratings.db)")
@click.option("--server", metavar="URL", help="ask the server instead of a pulled file")
@click.option("--token", envvar=TOKEN_ENV, metavar="TOKEN", help=f"admin token for --server (or ${TOKEN_ENV})")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), default=None,
              help="with --server: the private certificate authority that signed its certificate")
@click.option("--allow-http", is_flag=True, help="with --server: allow plain http:// to another machine")
@click.option("--period", type=click.Choice(PERIOD_KINDS), default=None,
              help="day, week, month (default), quarter, half (six months), year, or range (--from/--to)")
@click.option("--on", "on", metavar="DATE", help="a date inside the period, e.g. 2026-11-25 (default: today)")
@click.option("--from", "start", metavar="DATE", help="first day of a range (inclusive)")
@click.option("--to", "end", metavar="DATE", help="last day of a range (inclusive)")
@click.option("--by", "group_by", type=click.Choice((*GROUPINGS, "unit", "office", "none")), default=None,
              help="one row per site (the default), counter or terminal; with --server also per unit or office "
                   "of the organisation tree (with --node: the level below the node by default)")
@click.option("--node", type=click.IntRange(min=1), default=None,
              help="with --server: report on this node of the organisation tree (an id from kiosk-server tree)")
@click.option("--site", help="only this site")
@click.option("--counter", help="only this counter")
@click.option("--terminal", help="only this terminal id")
@click.option("--trend", type=click.Choice(TREND_UNITS), default=None,
              help="trend per day, week or month (default: from the period's length)")
@click.option("--tz", metavar="ZONE", default=None,
              help=f"time zone of the periods and hours (default {DEFAULT_TZ}; the server's own with --server)")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="table (default), csv, xlsx or summary (the paragraph in Vietnamese); else from --out")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write to this file, not the screen")
def report(db_file, server, token, ca_bundle, allow_http, period, on, start, end, group_by, node, site, counter,
           terminal, trend, tz, fmt, out) -> None:
    """Print a period's report: counts, percentages, satisfaction rate, reasons, filtered presses."""
    if (db_file is None) == (server is None):
        raise click.UsageError("give either --db FILE (a pulled file) or --server URL")
    if db_file is not None and (node is not None or group_by in ("unit", "office")):
        # One sentence, like every other refusal: a pulled file keeps names, not the tree.
        what = "--node" if node is not None else f"--by {group_by}"
        click.echo(f"kiosk-admin: {what}: a pulled file has no organisation tree; use --server, or --by site, "
                   "counter or terminal", err=True)
        sys.exit(2)
    if server and not token:
        raise click.UsageError(f"--server needs an admin token: --token or ${TOKEN_ENV}")
    if server:
        try:  # the admin token never travels in clear to another machine unless asked
            server = check_server_url(server, allow_http=allow_http)
        except SyncConfigError as exc:
            raise click.BadParameter(str(exc).replace("set [server] allow_http = true", "pass --allow-http"),
                                     param_hint="'--server'") from None
    if start is not None or end is not None:
        if period not in (None, "range"):
            raise click.UsageError(f"--from/--to make a range; leave out --period {period}")
        period = "range"
    period = period or "month"
    fmt = fmt or (_SUFFIX_FORMATS.get(out.suffix.lower(), "table") if out else "table")
    if fmt == "xlsx" and out is None:
        raise click.UsageError("--format xlsx needs --out FILE.xlsx")
    try:
        check_filters(site=site, counter=counter, terminal=terminal)
        chosen = parse_period(period, on=on, start=start, end=end, tz=tz or DEFAULT_TZ)
    except (FilterError, PeriodError) as exc:
        option = {"on": "--on", "start": "--from", "end": "--to", "tz": "--tz", "site": "--site",
                  "counter": "--counter", "terminal": "--terminal"}.get(exc.field, "--period")
        # One sentence naming the option, like every other refusal of this command, never a usage screen.
        click.echo(f"kiosk-admin: {option}: {str(exc).split(': ', 1)[-1]}", err=True)
        sys.exit(2)
    if group_by is None and node is None:
        group_by = "site"
    by = None if group_by == "none" else group_by
    try:
        if server:
            from .remote import fetch_report

            figures = fetch_report(server, token, {
                "period": period, "on": on, "start": start, "end": end, "group_by": group_by, "node": node,
                "site": site,
                "counter": counter, "terminal": terminal, "trend": trend, "tz": tz}, verify=ca_bundle or True)
        else:
            figures = build_report(sqlite_source(db_file), chosen, group_by=by, site=site, counter=counter,
                                   terminal=terminal, trend=trend)
        _emit(figures, fmt, out)
    except ReportError as exc:
        click.echo(f"kiosk-admin: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:  # the output file cannot be written
        click.echo(f"kiosk-admin: cannot write {out}: {exc.strerror or exc}", err=True)
        sys.exit(1)


def _emit(figures, fmt: str, out: Path | None) -> None:
    from .render import render_table, summary_vi, write_csv, write_xlsx

    if fmt == "xlsx":
        write_xlsx(figures, out)
    elif fmt == "csv":
        if out is None:
            text = io.StringIO()
            write_csv(figures, text)
            sys.stdout.flush()
            sys.stdout.buffer.write(text.getvalue().encode("utf-8"))  # the BOM, whatever the locale
            sys.stdout.buffer.flush()
        else:
            write_csv(figures, out)
    else:
        text = render_table(figures) if fmt == "table" else summary_vi(figures) + "\n"
        if out is None:
            click.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
    if out is not None:
        click.echo(f"wrote {out}", err=True)

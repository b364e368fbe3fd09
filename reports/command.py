"""``kiosk-admin report``: a period's report from a pulled file or from the server, in four formats.

    kiosk-admin report --db ratings.db --period quarter --on 2026-11-25 --by site --format xlsx --out q4.xlsx
    kiosk-admin report --server https://hl.example.vn --period half --format summary
    kiosk-admin report --db ratings.db --period quarter --pdf bao-cao.pdf --issuer "UBND phường Hà Đông" \
        --signer-title "TM. ỦY BAN NHÂN DÂN; CHỦ TỊCH" --recipient "UBND thành phố" --recipient "Lưu: VT"

Bad options exit 2 (a bad date or filter with one sentence naming the option); a missing or foreign file, or a server that refuses, exits 1 with one sentence.
"""

from __future__ import annotations

import io
import sys
from datetime import date
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
@click.option("--pdf", "pdf", type=click.Path(dir_okay=False, path_type=Path),
              help="also (or, without --format/--out, only) write the official report for signing to this PDF")
@click.option("--issuer", help="with --pdf: the issuing body (cơ quan ban hành), e.g. 'UBND phường Hà Đông'")
@click.option("--parent-body", help="with --pdf: the body above it (cơ quan chủ quản), e.g. 'UBND thành phố Hà Nội'")
@click.option("--issuer-code", help="with --pdf: its abbreviation in the symbol, e.g. UBND for 'Số: …/BC-UBND'")
@click.option("--number", help="with --pdf: the document's number (default: room to write it by hand)")
@click.option("--place", help="with --pdf: the place on the date line (default Hà Nội)")
@click.option("--issued-on", metavar="DATE", help="with --pdf: the date on the date line (default: today)")
@click.option("--signer-title", help="with --pdf: the signer's capacity and title, lines split by ';', "
                                     "e.g. 'KT. CHỦ TỊCH; PHÓ CHỦ TỊCH'")
@click.option("--signer-name", help="with --pdf: the signer's full name (default: a blank line)")
@click.option("--recipient", "recipients", multiple=True, help="with --pdf: one line of 'Nơi nhận:' (repeat it)")
def report(db_file, server, token, ca_bundle, allow_http, period, on, start, end, group_by, node, site, counter,
           terminal, trend, tz, fmt, out, pdf, issuer, parent_body, issuer_code, number, place, issued_on,
           signer_title, signer_name, recipients) -> None:
    """Print a period's report: counts, percentages, satisfaction rate, reasons, filtered presses.

    With --pdf, also the official report for signing (Decree 30/2020/NĐ-CP's form)."""
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
    letterhead_options = {"issuer": issuer, "parent_body": parent_body, "issuer_code": issuer_code, "number": number,
                          "place": place, "issued_on": issued_on, "signer_title": signer_title,
                          "signer_name": signer_name, "recipients": recipients or None}
    given = [name for name, value in letterhead_options.items() if value is not None]
    if given and pdf is None:
        raise click.UsageError(f"--{given[0].replace('_', '-').rstrip('s')} goes with --pdf FILE")
    letterhead, signed_on = _letterhead(letterhead_options) if pdf else (None, None)
    text_output = pdf is None or fmt is not None or out is not None
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
        if pdf is not None:
            _write_pdf(figures, pdf, letterhead, signed_on)
        if text_output:
            _emit(figures, fmt, out)
    except ReportError as exc:
        click.echo(f"kiosk-admin: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:  # the output file cannot be written
        click.echo(f"kiosk-admin: cannot write {out}: {exc.strerror or exc}", err=True)
        sys.exit(1)


def _letterhead(options: dict):
    """The PDF's letterhead from the options (defaults for those not given), and the date line's date;
    a field that cannot be printed exits 2 naming its option."""
    from .official_pdf import Letterhead, LetterheadError

    signed_on = None
    if options["issued_on"] is not None:
        try:
            signed_on = date.fromisoformat(options["issued_on"])
        except ValueError:
            _refuse("--issued-on", f"{options['issued_on']!r} is not a date such as 2026-12-02")
    fields = {"issuing_body": options["issuer"], "parent_body": options["parent_body"],
              "issuer_code": options["issuer_code"], "number": options["number"], "place": options["place"],
              "signer_title": options["signer_title"], "signer_name": options["signer_name"],
              "recipients": options["recipients"]}
    try:
        return Letterhead.from_lines(**fields), signed_on
    except LetterheadError as exc:
        option = {"issuing_body": "--issuer", "recipients": "--recipient"}.get(
            exc.field, "--" + (exc.field or "issuer").replace("_", "-"))
        _refuse(option, str(exc).split(": ", 1)[-1])


def _write_pdf(figures, pdf: Path, letterhead, signed_on) -> None:
    from .official_pdf import write_official_pdf

    try:
        pages = write_official_pdf(figures, pdf, letterhead=letterhead, issued_on=signed_on)
    except OSError as exc:
        click.echo(f"kiosk-admin: cannot write {pdf}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote {pdf} ({pages} {'page' if pages == 1 else 'pages'})", err=True)


def _refuse(option: str, reason: str):
    click.echo(f"kiosk-admin: {option}: {reason}", err=True)
    sys.exit(2)


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

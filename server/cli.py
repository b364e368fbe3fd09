"""``kiosk-server``: run the central server and administer it.

    kiosk-server serve [--db URL] [--host H] [--port P] [every setting: see server/settings.py] [--no-access-log]
    kiosk-server enroll-code --node CODE | --site S [--counter C] [--expires 7d] [--server URL] [--count N] [--qr FILE.png] [--pdf FILE.pdf]
    kiosk-server admin-token (--account USERNAME | --name N)
    kiosk-server revoke TERMINAL_ID
    kiosk-server revoke-admin --name N
    kiosk-server terminals
    kiosk-server tree [--csv] | import-tree FILE.csv | move TERMINAL_ID NODE
    kiosk-server audit verify|list|export   (see server/audit_cli.py)
    kiosk-server purge-dossiers             (see server/dossiers_cli.py)
    kiosk-server release upload|list|rollout|status|stop   (see server/releases_cli.py)
    kiosk-server create-admin USERNAME [--name NAME] [--password-stdin]
    kiosk-server create-account USERNAME --role ROLE [--scope NODE] [--name NAME] [--sees-officers] [--password-stdin]
    kiosk-server accounts
    kiosk-server reset-password USERNAME [--password-stdin] [--drop-totp]
    kiosk-server disable-account USERNAME | enable-account USERNAME

``serve``'s options are made from the settings table (:mod:`server.settings`),
and each setting can also come from ``HAILONG_<NAME>``. Every command finds the
database the same way: ``--db URL``, else ``HAILONG_DB_URL`` (or the older
``HAILONG_SERVER_DB``), else ``sqlite:///var/server.db``; only ``serve`` creates
a SQLite file that is not there. Bad options and settings exit 2; known
failures print one plain sentence and exit 1.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import sys
import time
from pathlib import Path

import click

from sync.names import name_problem
from sync.plain_text import OneLineFormatter, one_line

from .audit import record
from .audit_cli import audit, cli_actor
from .errors import ServerError, SettingsError
from .settings import SPECS, SPECS_BY_NAME, Settings, setting_source, settings_from

DB_ENV = SPECS_BY_NAME["db_url"].env  # HAILONG_DB_URL
PUBLIC_URL_ENV = "HAILONG_PUBLIC_URL"
#: Most codes one ``enroll-code`` issues at once (a sheet of 100 cards is 20 pages).
MAX_CODES_AT_ONCE = 500


def setting_options(*names: str):
    """Decorate a command with the options of the settings ``names`` (all when none), made from the table.

    Each option is read as text (None when not given): :func:`settings_from` then reads the
    environment for the rest, so a bad value is named by where it came from.
    """
    specs = [SPECS_BY_NAME[name] for name in names] if names else list(SPECS)

    def decorate(command):
        for spec in reversed(specs):
            envs = ", ".join((spec.env, *spec.env_aliases))
            command = click.option(spec.option, spec.name, default=None, metavar=spec.metavar,
                                   help=f"{spec.help}  [default: {spec.shown_default}; env: {envs}]")(command)
        return command
    return decorate


def _settings(given: dict[str, str | None]) -> Settings:
    try:
        return settings_from(given, os.environ)
    except SettingsError as exc:
        source, _, reason = str(exc).partition(": ")
        raise click.BadParameter(reason, param_hint=source) from None


def _open(given: dict[str, str | None], *, create: bool = False):
    """The engine of the database every command shares; a SQLite file that is not there is refused
    (it would be a new, empty database, not the server's) unless ``create``."""
    from sqlalchemy.engine import make_url

    from .db import open_engine

    settings = _settings(given)
    url = make_url(settings.db_url)
    if not create and url.get_backend_name() == "sqlite" and not Path(url.database).expanduser().is_file():
        where = setting_source("db_url", given, os.environ)
        raise SettingsError(f"there is no database at {Path(url.database).expanduser().resolve()} "
                            f"({where if where != 'the default' else 'the default --db'}): give the server's "
                            f"own with --db URL or HAILONG_DB_URL (only `kiosk-server serve` creates one)")
    return open_engine(settings)


def _parse_duration(value: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", value or "")
    if not match or int(match.group(1)) == 0:
        raise click.BadParameter(f"{value!r} is not a duration such as 7d, 12h or 30m")
    return int(match.group(1)) * {"d": 86400, "h": 3600, "m": 60}[match.group(2)]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Hài Lòng central server: receives ratings from the terminals, serves them to administrators."""


@cli.command()
@setting_options()
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="log every request")
def serve(access_log: bool, **given: str | None) -> None:
    """Run the server (one process) until interrupted."""
    import uvicorn

    from .app import create_app

    settings = _settings(given)
    app = create_app(settings)
    # What start-up built (FastAPI, SQLAlchemy, pydantic schemas) lives as long as the process: keep
    # it out of the cyclic garbage collector, whose full passes over it stalled every request for
    # 50-80 ms under load (bench/fleet.py); young objects are still collected as usual.
    gc.collect()
    gc.freeze()
    host, port = settings.host, settings.port
    click.echo(f"kiosk-server: listening on http://{host}:{port} (database {_shown(settings.db_url)}); "
               f"dashboard at http://{host}:{port}/", err=True)
    log_to_stderr()
    # Forwarded headers only from the configured proxies (never uvicorn's own reading of the environment):
    # a client that reaches the port directly cannot claim HTTPS, nor another address for the login lock-out.
    proxies = [address.strip() for address in settings.trusted_proxies.split(",") if address.strip()]
    uvicorn.run(app, host=host, port=port, workers=1, access_log=access_log, log_level="info",
                timeout_graceful_shutdown=10, proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None)


def log_to_stderr() -> logging.Handler:
    """Send the server's own log lines (``hailong.*``: alerts, refused logins, database trouble) to stderr, at INFO,
    each message on one line (:class:`sync.plain_text.OneLineFormatter`): a site's name or an error text quoted in
    one cannot forge a second line. uvicorn logs its own lines as before. Returns the handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("hailong")
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


@cli.command("enroll-code")
@click.option("--node", "node_ref", default=None,
              help="where the terminal will stand: the code (or #id) of a counter or an office of the tree "
                   "(see `kiosk-server tree`)")
@click.option("--site", default=None, help="instead of --node, the unit's name, e.g. 'UBND phường Phúc La' "
                                           "(found or added in the tree)")
@click.option("--counter", default=None, help="with --site, the counter, e.g. 'Quầy 1'")
@click.option("--expires", "expires", default="7d", show_default=True, help="lifetime: 7d, 12h, 30m")
@click.option("--server", "server_url", default=None, envvar=PUBLIC_URL_ENV, show_envvar=True,
              help="the address terminals reach this server at, e.g. https://hailong.example.vn: "
                   "print enrolment strings (hailong1:...) that hold it and the code")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, MAX_CODES_AT_ONCE),
              help="how many codes (one per terminal)")
@click.option("--qr", "qr_path", default=None, type=click.Path(dir_okay=False, writable=True),
              help="also write the enrolment string as a QR code PNG (one code; needs --server)")
@click.option("--pdf", "pdf_path", default=None, type=click.Path(dir_okay=False, writable=True),
              help="also write an A4 sheet of cards to print and cut, one per code (needs --server)")
@setting_options("db_url")
def enroll_code(node_ref: str | None, site: str | None, counter: str | None, expires: str, server_url: str | None,
                count: int, qr_path: str | None, pdf_path: str | None, db_url: str) -> None:
    """Print one-time enrolment codes for new terminals, one a line.

    With --server, each line is an enrolment string (server address and code in one, for
    `kiosk provision STRING`), and --qr / --pdf write it as a QR code and a printable sheet.
    """
    from .accounts import code_label, issue_enrollment_code
    from .db import write_transaction

    try:
        ttl_s = _parse_duration(expires)
    except click.BadParameter as exc:
        exc.param_hint = "--expires"
        raise
    if node_ref is not None and (site is not None or counter is not None):
        raise click.BadParameter("give either --node or --site/--counter, not both", param_hint="--node")
    if node_ref is None and site is None:
        raise click.BadParameter("say where the terminal will stand: --node CODE (see `kiosk-server tree`), "
                                 "or --site NAME [--counter NAME]", param_hint="--node")
    if node_ref is None and not site.strip():
        raise click.BadParameter("must not be empty", param_hint="--site")
    for value, option in ((site, "--site"), (counter, "--counter")):
        problem = name_problem(value.strip()) if value is not None else None
        if problem is not None:
            raise click.BadParameter(f"the name {problem}", param_hint=option)
    if server_url is not None:
        server_url = _public_url(server_url)
    for path, option in ((qr_path, "--qr"), (pdf_path, "--pdf")):
        if path is not None and server_url is None:
            raise click.BadParameter(f"needs --server URL (or {PUBLIC_URL_ENV}): the code alone cannot "
                                     "enrol a terminal", param_hint=option)
        if path is not None and not Path(path).resolve().parent.is_dir():
            raise click.BadParameter(f"the folder {Path(path).resolve().parent} does not exist", param_hint=option)
    if qr_path is not None and count != 1:
        raise click.BadParameter("writes one code; for a batch use --pdf", param_hint="--qr")
    fonts = None
    if pdf_path is not None:
        from .enrollment_cards import find_fonts

        fonts = find_fonts()  # before any code is issued
    timezone = _settings({"db_url": db_url}).timezone
    engine = _open({"db_url": db_url})
    now_ns = time.time_ns()
    from .org_tree import TreeError, UnknownNode, find_node, placement

    try:
        with engine.connect() as conn, write_transaction(conn):
            node_id = find_node(conn, node_ref).id if node_ref is not None else None
            codes = [issue_enrollment_code(conn, site=site, counter=counter, node_id=node_id, ttl_s=ttl_s,
                                           now_ns=now_ns) for _ in range(count)]
            place = placement(conn, find_node(conn, node_ref).id) if node_ref is not None else None
            shown = (place["site"], place["counter"]) if place is not None else (site, counter)
            record(conn, actor=cli_actor(), action="enroll_code", subject=_where(*shown), scope=node_id, rows=count,
                   details={"site": shown[0].strip(), "counter": (shown[1] or "").strip() or None,
                            "node": node_ref, "expires_s": ttl_s, "codes": [code_label(code) for code in codes]},
                   now_ns=now_ns)
    except (TreeError, UnknownNode) as exc:
        raise click.BadParameter(str(exc), param_hint="--node") from None
    finally:
        engine.dispose()
    if place is not None:
        site, counter = place["site"], place["counter"]
    where = one_line(_where(site, counter))
    until = _local_time(now_ns + ttl_s * 1_000_000_000, timezone)
    if server_url is None:
        for code in codes:
            click.echo(code)
        click.echo(f"{_codes(count)} for {where}, valid for {expires} (until {until}): "
                   f"on the terminal run  kiosk provision --server URL --code CODE", err=True)
        return
    from sync.enrollment import enrollment_string

    strings = [enrollment_string(server_url, code) for code in codes]
    for text in strings:
        click.echo(text)
    click.echo(f"{_codes(count)} for {where} at {server_url}, valid for {expires} (until {until}): "
               f"on the terminal run  kiosk provision STRING", err=True)
    if qr_path is not None:
        from .enrollment_cards import write_qr_png

        write_qr_png(strings[0], qr_path)
        click.echo(f"QR code written to {qr_path}", err=True)
    if pdf_path is not None:
        from .enrollment_cards import EnrollmentCard, write_sheet_pdf

        cards = [EnrollmentCard(site=site.strip(), counter=(counter or "").strip() or None, string=text,
                                server_url=server_url, code=code, expires=until)
                 for text, code in zip(strings, codes)]
        pages = write_sheet_pdf(cards, pdf_path, fonts=fonts)
        click.echo(f"{len(cards)} card(s) on {pages} A4 page(s) written to {pdf_path}: print, cut, and keep "
                   "them safe until used (each enrols one terminal)", err=True)


def _where(site: str, counter: str | None) -> str:
    return f"{site.strip()}{' / ' + counter.strip() if counter and counter.strip() else ''}"


def _codes(count: int) -> str:
    return "one-time code" if count == 1 else f"{count} one-time codes"


def _public_url(value: str) -> str:
    from sync.addresses import check_server_url
    from sync.errors import SyncConfigError

    try:
        return check_server_url(value.strip(), allow_http=True)
    except SyncConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--server") from None


def _local_time(ns: int, timezone: str = Settings.timezone) -> str:
    """``ns`` as the sites' wall-clock time, e.g. '2026-12-02 16:30 (Asia/Ho_Chi_Minh)'."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return f"{datetime.fromtimestamp(ns / 1e9, ZoneInfo(timezone)):%Y-%m-%d %H:%M} ({timezone})"


@cli.command("admin-token")
@click.option("--account", "username", default=None,
              help="the account the token acts as, with its role and scope (see `kiosk-server accounts`)")
@click.option("--name", default=None, help="who or what will use it, e.g. 'Phòng Nội vụ' (without --account: the "
                                          "token acts as the account of that user name, made as a province admin "
                                          "with no password if there is none)")
@setting_options("db_url")
def admin_token(username: str | None, name: str | None, db_url: str) -> None:
    """Print a new admin token (it is shown only this once)."""
    from .accounts import caller_for_token, code_label, issue_admin_token
    from .db import write_transaction

    if username is None and name is None:
        raise click.UsageError("give --account USERNAME (or --name N)")
    if name is not None:
        if not name.strip():
            raise click.BadParameter("must not be empty", param_hint="--name")
        problem = name_problem(name.strip())
        if problem is not None:  # the name is shown on the dashboard and printed here
            raise click.BadParameter(f"the name {problem}", param_hint="--name")
    engine = _open({"db_url": db_url})
    now_ns = time.time_ns()
    with engine.connect() as conn, write_transaction(conn):
        account = None
        if username is not None:
            account = _account(conn, username, "--account")
        token = issue_admin_token(conn, name=name or account.username, now_ns=now_ns,
                                  account_id=account.id if account else None)
        caller, why = caller_for_token(conn, token)
        record(conn, actor=cli_actor(), action="token_issue", subject=(name or account.username).strip(),
               details={"token": code_label(token), "account": caller.username if caller else None}, now_ns=now_ns)
    engine.dispose()
    click.echo(token)
    if caller is None:  # a disabled account: the token is made, but refused until the account is enabled
        click.echo(f"warning: {why}", err=True)
        return
    click.echo(f"admin token of the account {one_line(caller.username)} ({caller.role}"
               f"{', whole server' if caller.whole_server else f', scope node {caller.scope_node_id}'}): "
               "keep it secret; it is shown only this once", err=True)


def _account(conn, username: str, param_hint: str):
    """The account of ``username``, or the usage error naming it (exit 2)."""
    from .people import find_account

    account = find_account(conn, username=username)
    if account is None:
        raise click.BadParameter(f"no account has the user name {username!r} (see `kiosk-server accounts`)",
                                 param_hint=param_hint)
    return account


def _new_password(password_stdin: bool, username: str) -> str:
    """The password typed twice at a prompt, or one line of standard input; checked against the rule."""
    from .passwords import password_problem

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt="password again", err=True)
    problem = password_problem(password, username=username)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="password")
    return password


@cli.command("create-admin")
@click.argument("username")
@click.option("--name", "display_name", default=None, help="the person's name as the dashboard shows it")
@click.option("--password-stdin", is_flag=True, help="read the password from one line of standard input")
@setting_options("db_url")
def create_admin(username: str, display_name: str | None, password_stdin: bool, db_url: str) -> None:
    """Make a province administrator (the first account): prompts for the password twice."""
    from .accounts_cli import make_account

    made = make_account(username, role="province_admin", scope_ref=None, display_name=display_name,
                        password_stdin=password_stdin, db_url=db_url)
    click.echo(f"province admin {one_line(made.username)} ({one_line(made.display_name)}) created: log in on the "
               "dashboard; more accounts are made there (Người dùng)")


@cli.command("accounts")
@setting_options("db_url")
def accounts_command(db_url: str) -> None:
    """List the accounts: role, scope, state, second factor."""
    from .people import list_accounts, locked_for_s

    engine = _open({"db_url": db_url})
    with engine.connect() as conn:
        rows = list_accounts(conn)
    engine.dispose()
    locked = {row.id: locked_for_s(row, time.time_ns()) for row in rows}
    if not rows:
        click.echo("no accounts yet (make the first with `kiosk-server create-admin USERNAME`)")
        return
    table = [("username", "name", "role", "scope", "password", "totp", "state")]
    for row in rows:
        password = "none (tokens only)" if not row.has_password else (
            "one-time" if row.must_change_password else "set")
        state = (f"disabled {row.disabled_at}" if row.disabled_at else
                 f"locked {locked[row.id]} s" if locked[row.id] else "active")
        table.append((row.username, row.display_name, row.role,
                      "whole server" if row.scope_node_id is None else f"node {row.scope_node_id}", password,
                      "on" if row.totp_on else "off", state))
    _echo_table(table)


def _echo_table(table: list[tuple[str, ...]]) -> None:
    """Lines of cells in aligned columns, each cell on one line without escapes (names come from people)."""
    table = [tuple(one_line(cell) for cell in line) for line in table]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


@cli.command("disable-account")
@click.argument("username")
@setting_options("db_url")
def disable_account(username: str, db_url: str) -> None:
    """Disable an account: its dashboard sessions end and its admin tokens are refused at once."""
    _set_disabled(username, True, db_url)


@cli.command("enable-account")
@click.argument("username")
@setting_options("db_url")
def enable_account(username: str, db_url: str) -> None:
    """Enable a disabled account again (its tokens that were not revoked work again)."""
    _set_disabled(username, False, db_url)


def _set_disabled(username: str, disabled: bool, db_url: str) -> None:
    from .account_audit import record_account
    from .db import write_transaction
    from .people import set_disabled

    engine = _open({"db_url": db_url})
    try:
        with engine.connect() as conn, write_transaction(conn):
            account = _account(conn, username, "USERNAME")
            now_ns = time.time_ns()
            done = set_disabled(conn, account.id, disabled, now_ns=now_ns)
            record_account(conn, actor=cli_actor(), action="account_change", account=done,
                           details={"disabled": disabled, "was_disabled": account.disabled_at is not None},
                           now_ns=now_ns)
    finally:
        engine.dispose()
    click.echo(f"account {one_line(done.username)} " + (f"disabled since {done.disabled_at}" if disabled else "enabled"))


@cli.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="set the password read from one line of standard input (else: print a one-time password)")
@click.option("--drop-totp", is_flag=True, help="also turn the second factor off (the phone was lost)")
@setting_options("db_url")
def reset_password_command(username: str, password_stdin: bool, drop_totp: bool, db_url: str) -> None:
    """Reset an account's password and lift its lock-out; its sessions end. Prints a one-time password that
    must be changed at the next login, unless --password-stdin sets one."""
    from .account_audit import record_account
    from .db import write_transaction
    from .people import reset_password, set_password

    engine = _open({"db_url": db_url})
    try:
        with engine.connect() as conn:
            account = _account(conn, username, "USERNAME")
        chosen = _new_password(password_stdin, account.username) if password_stdin else None
        with engine.connect() as conn, write_transaction(conn):
            now_ns = time.time_ns()
            one_time = reset_password(conn, account.id, now_ns=now_ns, drop_totp=drop_totp)
            if chosen is not None:
                set_password(conn, account.id, chosen, now_ns=now_ns, one_time=False)
            record_account(conn, actor=cli_actor(), action="password_reset", account=account, now_ns=now_ns,
                           details={"one_time": chosen is None, "drop_totp": drop_totp})
    finally:
        engine.dispose()
    if chosen is None:
        click.echo(one_time)
    click.echo(f"password of {one_line(account.username)} reset"
               f"{'' if chosen is not None else ' (one-time: it must be changed at the next login)'}"
               f"{', second factor off' if drop_totp else ''}; its lock-out lifted, its sessions ended", err=True)


@cli.command("revoke-admin")
@click.option("--name", required=True, help="the name the token(s) were issued to")
@setting_options("db_url")
def revoke_admin(name: str, db_url: str) -> None:
    """Revoke every admin token of NAME: the API and the dashboard refuse them at once."""
    from .accounts import revoke_admin_tokens
    from .db import write_transaction

    engine = _open({"db_url": db_url})
    now_ns = time.time_ns()
    with engine.connect() as conn, write_transaction(conn):
        count = revoke_admin_tokens(conn, name, now_ns=now_ns)
        if count:
            record(conn, actor=cli_actor(), action="token_revoke", subject=name.strip(), rows=count, now_ns=now_ns)
    engine.dispose()
    if not count:
        raise ServerError(f"no live admin token has the name {name!r}")
    click.echo(f"{count} admin token(s) of {one_line(name.strip())} revoked")


@cli.command()
@click.argument("terminal_id")
@setting_options("db_url")
def revoke(terminal_id: str, db_url: str) -> None:
    """Cut a terminal off: its device token stops working at once (its ratings stay)."""
    from .accounts import revoke_terminal
    from .db import write_transaction
    from .timekeeping import iso_from_ns

    engine = _open({"db_url": db_url})
    now_ns = time.time_ns()
    with engine.connect() as conn, write_transaction(conn):
        revoked_at = revoke_terminal(conn, terminal_id, now_ns=now_ns)
        record(conn, actor=cli_actor(), action="revoke", subject=terminal_id,
               details={"revoked_at": revoked_at, "already": revoked_at != iso_from_ns(now_ns)}, now_ns=now_ns)
    engine.dispose()
    click.echo(f"terminal {terminal_id} revoked at {revoked_at}")


@cli.command()
@setting_options("db_url")
def terminals(db_url: str) -> None:
    """List the terminals: last seen, version and update, backlog, clock offset, last error."""
    from sync.vocabulary import round_half_up

    from .accounts import kept_aside_causes_words, list_terminals

    engine = _open({"db_url": db_url})
    with engine.connect() as conn:
        rows = list_terminals(conn)
    engine.dispose()
    if not rows:
        click.echo("no terminals yet (enrol one with `kiosk-server enroll-code`)")
        return
    header = ("id", "site", "counter", "last seen", "version", "update", "pending", "kept aside", "clock offset",
              "state")
    table = [header]
    for row in rows:
        offset = "" if row["clock_offset_s"] is None else f"{round_half_up(row['clock_offset_s'], 1):+.1f} s"
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else (row["last_error"] or "ok")
        table.append((row["id"], row["site"], row["counter"] or "", row["last_seen_at"] or "never",
                      row["app_version"] or "", " ".join(filter(None, (row["update_state"], row["update_version"]))),
                      "" if row["pending"] is None else str(row["pending"]),
                      str(row["kept_aside"] or 0), offset, state))
    # What a terminal said about itself (its error, its version) is on one line, without escapes.
    _echo_table(table)
    for row in rows:  # the causes under the table: one line per terminal that keeps ratings aside
        if row["kept_aside"]:
            click.echo(one_line(f"{row['id']} keeps {row['kept_aside']} rating(s) aside, not sent: "
                                f"{kept_aside_causes_words(row['kept_aside_causes'])}"))
        if row["update_error"]:  # its last update failure, kept after it is idle again (issue 13)
            click.echo(one_line(f"{row['id']}'s last update failed: {row['update_error']}"))


for _command in audit.commands.values():  # each finds the database like every other command
    setting_options("db_url")(_command)
cli.add_command(audit)


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


from . import accounts_cli, dossiers_cli, releases_cli, settings_cli, tree_cli  # noqa: E402,F401  (their commands join `cli`)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: known errors become one line on stderr and exit status 1."""
    try:
        cli.main(args=argv, prog_name="kiosk-server", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("kiosk-server: aborted", err=True)
        sys.exit(1)
    except SettingsError as exc:  # a setting no option names (e.g. no database where it points)
        click.echo(f"kiosk-server: {exc}", err=True)
        sys.exit(2)
    except ServerError as exc:
        click.echo(f"kiosk-server: {exc}", err=True)
        sys.exit(1)
    except ValueError as exc:  # a value the library refused (e.g. an empty site)
        click.echo(f"kiosk-server: {exc}", err=True)
        sys.exit(2)
    sys.exit(0)

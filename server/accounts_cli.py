"""``kiosk-server create-account``: an account of any role, from the command line (scripts, the demo).

    kiosk-server create-account USERNAME --role ROLE [--scope NODE] [--name NAME] [--sees-officers] [--password-stdin]

``--scope`` is a node of the tree (its code, or #id); province admins and
inspectors may have none (the whole server), the other roles need one. The
account is recorded in the audit trail (``account_create``), as is the first
province admin that ``create-admin`` makes through the same code.
"""

from __future__ import annotations

import time

import click

from sync.plain_text import one_line

from .access import ROLES
from .cli import _new_password, _open, cli, setting_options

#: Roles whose account may have no scope (it then covers the whole server).
WHOLE_SERVER_ROLES = ("province_admin", "inspector")


def make_account(username: str, *, role: str, scope_ref: str | None, display_name: str | None,
                 password_stdin: bool, db_url: str | None, sees_officers: bool = False):
    """Check the options, read the password, make the account and record it; the account made. Usage errors
    (exit 2) name the option."""
    from .account_audit import record_account
    from .audit_cli import cli_actor
    from .db import write_transaction
    from .org_tree import UnknownNode, find_node
    from .people import AccountRefused, create_account, normal_username, set_role_scope, username_problem

    if role not in ROLES:
        raise click.BadParameter(f"{role!r} is not a role: one of {', '.join(ROLES)}", param_hint="--role")
    if sees_officers and role != "viewer":
        raise click.BadParameter(f"only a viewer needs it: a {role} sees officers already, or never (a technician)",
                                 param_hint="--sees-officers")
    if scope_ref is None and role not in WHOLE_SERVER_ROLES:
        raise click.BadParameter(f"a {role} needs a scope: --scope NODE, the code or #id of a node of the tree "
                                 "(see `kiosk-server tree`)", param_hint="--scope")
    problem = username_problem(normal_username(username))
    if problem is not None:
        raise click.BadParameter(problem, param_hint="USERNAME")
    engine = _open({"db_url": db_url})
    try:
        if scope_ref is not None:
            with engine.connect() as conn:
                try:
                    scope_node_id = find_node(conn, scope_ref).id
                except UnknownNode as exc:
                    raise click.BadParameter(str(exc), param_hint="--scope") from None
        else:
            scope_node_id = None
        password = _new_password(password_stdin, normal_username(username))
        now_ns = time.time_ns()
        with engine.connect() as conn, write_transaction(conn):
            made = create_account(conn, username=username, display_name=display_name or username, role=role,
                                  scope_node_id=scope_node_id, password=password, now_ns=now_ns, one_time=False)
            if sees_officers:
                made = set_role_scope(conn, made.id, role=made.role, scope_node_id=made.scope_node_id,
                                      sees_officers=True)
            record_account(conn, actor=cli_actor(), action="account_create", account=made,
                           details={"role": made.role, "scope": made.scope_node_id,
                                    **({"sees_officers": True} if sees_officers else {})}, now_ns=now_ns)
    except AccountRefused as exc:
        hint = {"display_name": "--name", "role": "--role", "scope": "--scope"}.get(exc.field, "USERNAME")
        raise click.BadParameter(str(exc), param_hint=hint) from None
    finally:
        engine.dispose()
    return made


@cli.command("create-account")
@click.argument("username")
@click.option("--role", required=True, metavar="ROLE", help=f"one of {', '.join(ROLES)}")
@click.option("--scope", "scope_ref", default=None, metavar="NODE",
              help="the node of the tree it is limited to: its code or #id (see `kiosk-server tree`); "
                   f"without it ({', '.join(WHOLE_SERVER_ROLES)} only) the whole server")
@click.option("--name", "display_name", default=None, help="the person's name as the dashboard shows it")
@click.option("--sees-officers", is_flag=True,
              help="a viewer that sees officers' names and results (issue 12); other roles need no flag")
@click.option("--password-stdin", is_flag=True, help="read the password from one line of standard input")
@setting_options("db_url")
def create_account_command(username: str, role: str, scope_ref: str | None, display_name: str | None,
                           sees_officers: bool, password_stdin: bool, db_url: str) -> None:
    """Make an account of any role (prompts for the password twice); recorded in the audit trail."""
    made = make_account(username, role=role, scope_ref=scope_ref, display_name=display_name,
                        password_stdin=password_stdin, db_url=db_url, sees_officers=sees_officers)
    scope = "whole server" if made.scope_node_id is None else f"scope node {made.scope_node_id}"
    click.echo(one_line(f"{made.role} {made.username} ({made.display_name}, {scope}) created: log in on the "
                        "dashboard"))

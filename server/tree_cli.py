"""``kiosk-server tree | import-tree | move``: the organisation tree from the command line.

    kiosk-server tree [--csv]                 the tree, indented (or as a CSV the import takes back)
    kiosk-server import-tree FILE.csv [--dry-run]
    kiosk-server move TERMINAL_ID NODE        stand a terminal at another counter (code or #id)

A bad line of the file is named with what to do, exits 2, and nothing of the file is applied.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import click

from sync.plain_text import one_line

from .audit import record
from .audit_cli import cli_actor
from .cli import _open, cli, setting_options


class _DryRun(Exception):
    """Rolls the import back after counting what it would change."""


@cli.command("import-tree")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="check the file and say what it would change; change nothing")
@setting_options("db_url")
def import_tree(path: Path, dry_run: bool, db_url: str) -> None:
    """Add or update the organisation tree from a CSV: code,name,kind,parent_code (kind: province, unit,
    office, counter). Nodes are matched by code; renaming keeps a node's ratings. All or nothing."""
    from .db import write_transaction
    from .org_tree import TreeError, apply_tree, parse_tree

    try:
        rows = parse_tree(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8",
                                 param_hint=str(path)) from None
    except TreeError as exc:
        raise click.BadParameter(str(exc), param_hint=str(path)) from None
    engine = _open({"db_url": db_url})
    changes = None
    try:
        with engine.connect() as conn, write_transaction(conn):
            now_ns = time.time_ns()
            changes = apply_tree(conn, rows, now_ns=now_ns)
            if dry_run:
                raise _DryRun()
            record(conn, actor=cli_actor(), action="tree_import", subject=path.name, rows=len(rows),
                   details=asdict(changes), now_ns=now_ns)
    except _DryRun:
        pass
    except TreeError as exc:
        raise click.BadParameter(f"{exc}; nothing was imported", param_hint=str(path)) from None
    finally:
        engine.dispose()
    verb = "would change" if dry_run else "imported"
    click.echo(f"{path.name}: {len(rows)} node(s) {verb}: {changes.words()}")


@cli.command()
@click.option("--csv", "as_csv", is_flag=True, help="print it as CSV (code,name,kind,parent_code)")
@setting_options("db_url")
def tree(as_csv: bool, db_url: str) -> None:
    """Print the organisation tree with each node's code and its terminals."""
    from sqlalchemy import func, select

    from .org_tree import KINDS, all_nodes, tree_csv
    from .schema import terminals

    engine = _open({"db_url": db_url})
    with engine.connect() as conn:
        if as_csv:
            click.echo(tree_csv(conn), nl=False)
            engine.dispose()
            return
        nodes = all_nodes(conn)
        standing = dict(conn.execute(select(terminals.c.node_id, func.count()).where(
            terminals.c.revoked_at.is_(None)).group_by(terminals.c.node_id)).all())
    engine.dispose()
    if not nodes:
        click.echo("the tree is empty: import one with `kiosk-server import-tree FILE.csv`")
        return
    children: dict[int | None, list] = {}
    for node in nodes.values():
        children.setdefault(node.parent_id, []).append(node)

    def show(parent_id: int | None, depth: int) -> None:
        for node in sorted(children.get(parent_id, ()), key=lambda one: (KINDS.index(one.kind), one.name)):
            count = standing.get(node.id)
            here = f"  ({count} terminal{'s' if count != 1 else ''})" if count else ""
            click.echo(one_line(f"{'  ' * depth}{node.name}  [{node.kind} {node.code or '#' + str(node.id)}]{here}"))
            show(node.id, depth + 1)

    show(None, 0)


@cli.command()
@click.argument("terminal_id")
@click.argument("node_ref", metavar="NODE")
@setting_options("db_url")
def move(terminal_id: str, node_ref: str, db_url: str) -> None:
    """Stand TERMINAL_ID at another counter NODE (its code, or #id). Ratings already given keep their place."""
    from sqlalchemy import select

    from .db import write_transaction
    from .org_tree import TreeError, UnknownNode, find_node, move_terminal
    from .schema import terminals

    engine = _open({"db_url": db_url})
    try:
        with engine.connect() as conn, write_transaction(conn):
            was = conn.execute(select(terminals.c.node_id).where(terminals.c.id == terminal_id)).scalar()
            to = find_node(conn, node_ref).id
            placed = move_terminal(conn, terminal_id, to)
            record(conn, actor=cli_actor(), action="move", subject=terminal_id, scope=to,
                   details={"from": was, "to": to})
    except (TreeError, UnknownNode) as exc:
        raise click.BadParameter(str(exc), param_hint="NODE") from None
    finally:
        engine.dispose()
    where = placed["site"] + (f" / {placed['counter']}" if placed["counter"] else "")
    click.echo(one_line(f"terminal {terminal_id} now stands at {where}; its next ratings count there"))

"""What administrators do to the tree and the fleet: import the tree, issue enrolment codes, move and revoke
terminals — the same whether asked on the dashboard or through the admin API.

Each action is one function taking the engine, who acts (a :class:`~server.access.Caller`) and the server's
clock; it checks who may (one ``check_may_…`` function per action, asking :func:`server.access.require` and
the caller's scope), does its work in one write transaction and raises an exception whose message says what
to do: :class:`~server.access.Forbidden` (403), :class:`~server.org_tree.TreeError` (422, naming the line of a
tree file), :class:`~server.org_tree.UnknownNode` and :class:`~server.errors.UnknownTerminal` (also for what
lies outside the caller's scope).

    issued = issue_codes(engine, "00001-Q1", count=3, ttl_s=7 * 86400, caller=caller, now_ns=time.time_ns())

Each action that changes something is recorded in the audit trail (:mod:`server.audit`) in its own transaction,
with the caller as actor and ``address``, the client's (None: not over HTTP).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, func, select

from .access import Caller, node_in_scope, require, terminal_in_scope
from .accounts import code_label, issue_enrollment_code, revoke_terminal
from .audit import actor_of, record
from .db import write_transaction
from .errors import UnknownTerminal
from .org_tree import (KINDS, Node, TreeChanges, TreeError, UnknownNode, all_nodes, apply_tree, find_node,
                       SCOPE_COLUMN, lineage_nodes, move_terminal, parse_tree, path_words, placement, subtree_ids,
                       subtree_nodes)
from .schema import nodes, terminals
from .timekeeping import NS_PER_S, iso_from_ns

#: Most enrolment codes one request issues (a sheet of 500 cards is 100 pages).
MAX_CODES_AT_ONCE = 500
#: Longest lifetime of an enrolment code: a year.
MAX_CODE_TTL_S = 366 * 86400
#: Shortest: a minute.
MIN_CODE_TTL_S = 60


# -- who may: one function per action (the vocabulary and the roles' reach are server.access's) -------------
#
# A node or terminal outside the caller's scope is answered like one that does not exist (404/422), so a
# scoped account cannot learn what other units hold; a role without the action is 403 (access.Forbidden).

def check_may_import_tree(caller: Caller) -> None:
    require(caller, "import_tree")


def check_may_enrol(conn: Connection, caller: Caller, node_id: int) -> None:
    require(caller, "enrol")
    _check_node_in_scope(conn, caller, node_id)


def check_may_move(conn: Connection, caller: Caller, terminal_id: str, to_node_id: int) -> None:
    require(caller, "move_terminal")
    _check_terminal_in_scope(conn, caller, terminal_id)
    _check_node_in_scope(conn, caller, to_node_id)


def check_may_revoke(conn: Connection, caller: Caller, terminal_id: str) -> None:
    require(caller, "revoke_terminal")
    _check_terminal_in_scope(conn, caller, terminal_id)


def check_may_see_fleet(conn: Connection, caller: Caller, node_id: int | None) -> int | None:
    """The node the fleet list is narrowed to: ``node_id`` (inside the caller's scope), else its scope."""
    require(caller, "read_fleet")
    if node_id is None:
        return caller.scope_node_id
    _check_node_in_scope(conn, caller, node_id)
    return node_id


def _check_node_in_scope(conn: Connection, caller: Caller, node_id: int) -> None:
    if not node_in_scope(conn, caller, node_id):
        raise UnknownNode(f"no node has the id {node_id} in your part of the tree")


def _check_terminal_in_scope(conn: Connection, caller: Caller, terminal_id: str) -> None:
    if not terminal_in_scope(conn, caller, terminal_id):
        raise UnknownTerminal(f"no terminal has the id {terminal_id!r}")


# -- the tree --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TreeImport:
    """What an import changed (or, in a dry run, would change): the counts and one entry per changed node."""

    rows: int
    changes: TreeChanges
    dry_run: bool
    changed: list[dict] = field(default_factory=list)

    def counts(self) -> dict:
        return {"rows": self.rows, "added": self.changes.added, "renamed": self.changes.renamed,
                "moved": self.changes.moved, "unchanged": self.changes.unchanged,
                "terminals_placed": self.changes.terminals_placed}


class _DryRun(Exception):
    """Rolls an import back once it has been counted."""


def tree_text(data: bytes) -> str:
    """An uploaded tree file as text, or :class:`TreeError` saying how to save it."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TreeError(f"the file is not UTF-8 text (byte {exc.start}); save it as “CSV UTF-8”") from None


def import_tree(engine: Engine, text: str, *, caller: Caller, dry_run: bool, now_ns: int,
                source: str | None = None, address: str | None = None) -> TreeImport:
    """Apply a tree CSV all or nothing (``dry_run``: apply, count, roll back). Raises :class:`TreeError`.
    ``source``: the file's name, for the audit trail (a dry run is not recorded)."""
    check_may_import_tree(caller)
    rows = parse_tree(text)
    found: TreeImport | None = None
    try:
        with engine.connect() as conn, write_transaction(conn):
            before = all_nodes(conn)
            changes = apply_tree(conn, rows, now_ns=now_ns)
            found = TreeImport(len(rows), changes, dry_run, tree_changes(before, all_nodes(conn)))
            if dry_run:
                raise _DryRun()
            counts = found.counts()
            record(conn, actor=actor_of(caller), action="tree_import", subject=source, rows=counts.pop("rows"),
                   details=counts, address=address, now_ns=now_ns)
    except _DryRun:
        pass
    return found


def tree_changes(before: dict[int, Node], after: dict[int, Node]) -> list[dict]:
    """One entry per node added, renamed, moved or given its code, parents first."""
    changed = []
    for one in sorted(after.values(), key=lambda n: (KINDS.index(n.kind), path_words(after, n.id))):
        old = before.get(one.id)
        entry = {"id": one.id, "kind": one.kind, "code": one.code, "name": one.name,
                 "path": path_words(after, one.id)}
        if old is None:
            changed.append({**entry, "change": "added"})
            continue
        if old.name != one.name:
            changed.append({**entry, "change": "renamed", "old_name": old.name})
        if old.parent_id != one.parent_id:
            changed.append({**entry, "change": "moved", "old_path": path_words(before, one.id)})
        if old.code != one.code:
            changed.append({**entry, "change": "coded", "old_code": old.code})
    return changed


def tree_nodes(conn: Connection, *, within: int | None = None) -> list[dict]:
    """Every node (``within``: that node, its ancestors and everything below it) with its terminals (not
    revoked) standing at it and below it, parents first. With ``within`` only those nodes are read."""
    if within is None:
        tree = all_nodes(conn)
    else:
        tree = {**lineage_nodes(conn, within), **subtree_nodes(conn, within)}
    standing = dict(conn.execute(select(terminals.c.node_id, func.count())
                                 .where(terminals.c.revoked_at.is_(None), terminals.c.node_id.is_not(None))
                                 .group_by(terminals.c.node_id)).all())
    below = {node_id: 0 for node_id in tree}
    for node_id, count in standing.items():
        current = tree.get(node_id)
        while current is not None:
            below[current.id] += count
            current = tree.get(current.parent_id) if current.parent_id is not None else None
    listed = []

    def walk(parent_id: int | None, depth: int) -> None:
        for one in sorted((n for n in tree.values() if n.parent_id == parent_id),
                          key=lambda n: (KINDS.index(n.kind), n.name, n.id)):
            listed.append({"id": one.id, "kind": one.kind, "code": one.code, "name": one.name,
                           "parent_id": one.parent_id, "depth": depth, "terminals_here": standing.get(one.id, 0),
                           "terminals": below[one.id]})
            walk(one.id, depth + 1)

    walk(None, 0)
    return listed


def tree_branch(conn: Connection, node_id: int | None, *, top: int | None = None) -> list[dict]:
    """The rows of :func:`tree_nodes` for the path from ``top`` (None: the provinces) down to ``node_id`` (None:
    the top) and that node's children — what the tree page shows of a tree too big to list whole. Reads the
    lineage, the children and one count of terminals per kind."""
    path: list[Node] = []
    if node_id is not None:
        line = lineage_nodes(conn, node_id)
        at = line.get(node_id)
        while at is not None:
            path.append(at)
            if at.id == top:
                break
            at = line.get(at.parent_id) if at.parent_id is not None else None
        path.reverse()
    parent = nodes.c.parent_id.is_(None) if node_id is None else nodes.c.parent_id == node_id
    children = [Node(row.id, row.kind, row.code, row.name, row.parent_id) for row in conn.execute(
        select(nodes).where(parent).order_by(nodes.c.name, nodes.c.id))]
    listed = [*path, *children]
    live = terminals.c.revoked_at.is_(None)
    below: dict[int, int] = {}
    for kind in KINDS:
        ids = [one.id for one in listed if one.kind == kind]
        if ids:
            column = terminals.c[SCOPE_COLUMN[kind]]
            below.update(conn.execute(select(column, func.count()).where(live, column.in_(ids)).group_by(column)).all())
    here = dict(conn.execute(select(terminals.c.node_id, func.count()).where(
        live, terminals.c.node_id.in_([one.id for one in listed])).group_by(terminals.c.node_id)).all())
    return [{"id": one.id, "kind": one.kind, "code": one.code, "name": one.name, "parent_id": one.parent_id,
             "depth": depth if depth < len(path) else len(path), "terminals_here": here.get(one.id, 0),
             "terminals": below.get(one.id, 0)} for depth, one in enumerate(listed)]


def places(conn: Connection, kinds: tuple[str, ...] = ("counter", "office"), *,
           within: int | None = None) -> list[tuple[int, str, str]]:
    """(id, kind, path) of every node of ``kinds`` (inside ``within``: only its subtree and lineage are read),
    by path: the choices of a select."""
    inside = None
    if within is None:
        tree = all_nodes(conn)
    else:
        below = subtree_nodes(conn, within)
        inside = set(below)
        tree = {**lineage_nodes(conn, within), **below}
    found = [(one.id, one.kind, path_words(tree, one.id)) for one in tree.values()
             if one.kind in kinds and (inside is None or one.id in inside)]
    return sorted(found, key=lambda item: item[2])


def place_count(conn: Connection, kinds: tuple[str, ...] = ("counter", "office"), *, within: int | None = None) -> int:
    """How many nodes :func:`places` would list, counted in SQL."""
    query = select(func.count()).select_from(nodes).where(nodes.c.kind.in_(kinds))
    if within is not None:
        query = query.where(nodes.c.id.in_(subtree_ids(conn, within)))
    return conn.execute(query).scalar_one()


def paths_of(conn: Connection, node_ids: set[int]) -> dict[int, str]:
    """``{node id: "Tỉnh › Xã › Bộ phận › Quầy"}`` for ``node_ids``, reading only their lineage."""
    wanted, tree = set(node_ids), {}
    while wanted:
        found = conn.execute(select(nodes).where(nodes.c.id.in_(list(wanted)))).all()
        tree.update({row.id: Node(row.id, row.kind, row.code, row.name, row.parent_id) for row in found})
        wanted = {row.parent_id for row in found if row.parent_id is not None and row.parent_id not in tree}
    return {node_id: path_words(tree, node_id) for node_id in node_ids if node_id in tree}


# -- enrolment codes --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedCodes:
    node: Node
    path: str
    site: str
    counter: str | None
    codes: list[str]
    expires_at: str


def issue_codes(engine: Engine, node_ref: str, *, count: int, ttl_s: int, caller: Caller,
                now_ns: int, address: str | None = None) -> IssuedCodes:
    """``count`` one-time codes for terminals that will stand at ``node_ref`` (a counter or office: code or #id)."""
    if not 1 <= count <= MAX_CODES_AT_ONCE:
        raise ValueError(f"count: from 1 to {MAX_CODES_AT_ONCE} codes at once")
    if not MIN_CODE_TTL_S <= ttl_s <= MAX_CODE_TTL_S:
        raise ValueError(f"expires_s: from {MIN_CODE_TTL_S} seconds to {MAX_CODE_TTL_S // 86400} days")
    with engine.connect() as conn, write_transaction(conn):
        node = find_node(conn, node_ref)
        check_may_enrol(conn, caller, node.id)
        placed = placement(conn, node.id)
        codes = [issue_enrollment_code(conn, node_id=node.id, ttl_s=ttl_s, now_ns=now_ns) for _ in range(count)]
        path = paths_of(conn, {node.id})[node.id]
        record(conn, actor=actor_of(caller), action="enroll_code", subject=path, scope=node.id, rows=count,
               details={"site": placed["site"], "counter": placed["counter"], "node": node_ref, "expires_s": ttl_s,
                        "codes": [code_label(code) for code in codes]}, address=address, now_ns=now_ns)
    return IssuedCodes(node, path, placed["site"], placed["counter"], codes,
                       iso_from_ns(now_ns + ttl_s * NS_PER_S))


# -- moving and revoking terminals -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Moved:
    terminal_id: str
    node_id: int
    site: str
    counter: str | None
    from_path: str
    to_path: str


def _terminal_node(conn: Connection, terminal_id: str) -> int | None:
    row = conn.execute(select(terminals.c.node_id).where(terminals.c.id == terminal_id)).first()
    if row is None:
        raise UnknownTerminal(f"no terminal has the id {terminal_id!r}")
    return row.node_id


def move(engine: Engine, terminal_id: str, node_ref: str, *, caller: Caller, now_ns: int,
         address: str | None = None) -> Moved:
    """Stand a terminal at another counter (code or #id); its next ratings count there, the earlier ones stay."""
    with engine.connect() as conn, write_transaction(conn):
        was = _terminal_node(conn, terminal_id)
        node = find_node(conn, node_ref)
        check_may_move(conn, caller, terminal_id, node.id)
        placed = move_terminal(conn, terminal_id, node.id)
        paths = paths_of(conn, {node.id} | ({was} if was is not None else set()))
        moved = Moved(terminal_id, node.id, placed["site"], placed["counter"], paths.get(was, ""), paths[node.id])
        record(conn, actor=actor_of(caller), action="move", subject=terminal_id, scope=node.id,
               details={"from": was, "to": node.id}, address=address, now_ns=now_ns)
    return moved


def revoke(engine: Engine, terminal_id: str, *, caller: Caller, now_ns: int, address: str | None = None) -> str:
    """Cut a terminal off (its next batch is refused 401); returns when it was revoked (the first time)."""
    with engine.connect() as conn, write_transaction(conn):
        check_may_revoke(conn, caller, terminal_id)
        revoked_at = revoke_terminal(conn, terminal_id, now_ns=now_ns)
        record(conn, actor=actor_of(caller), action="revoke", subject=terminal_id,
               scope=_terminal_node(conn, terminal_id), address=address, now_ns=now_ns,
               details={"revoked_at": revoked_at, "already": revoked_at != iso_from_ns(now_ns)})
    return revoked_at


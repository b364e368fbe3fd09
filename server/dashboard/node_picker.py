"""The node picker of the dashboard's pages: where you are in the tree, one step down, and a search.

A national tree has 18,626 nodes: a ``<select>`` of all of them is a 2 MB page and a quarter of a second of
work. The picker shows instead the path from the top of the caller's part of the tree to the current node
(a breadcrumb, to go up), the current node's children (to go down), and, for a GET field ``find``, the nodes
whose code or name holds that text — at most :data:`MAX_FOUND`, only inside the caller's scope. Every query
reads the lineage, the children or the bounded search: never the whole tree.

    picker = node_picker(conn, caller, current=12, find="phúc la", href=lambda node_id: f"/fleet?node=%23{node_id}")
    page(request, "fleet.html", picker=picker, ...)   # {% from "_node_picker.html" import ... %}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, case, func, or_, select

from ..access import Caller
from ..fleet_actions import paths_of
from ..org_tree import KINDS, KIND_WORDS, lineage_nodes
from ..schema import nodes

#: Most children listed under the current node (a province has about 100 units; a server of before the tree
#: may have thousands of units under its one province: then the search finds the others).
MAX_CHILDREN = 300
#: Most nodes a search lists.
MAX_FOUND = 30
#: Longest search text taken.
MAX_FIND_LENGTH = 64


@dataclass(frozen=True)
class Choice:
    """A node as the picker shows it: its id, kind (in Vietnamese too), code, name, path and link."""

    id: int
    kind: str
    code: str | None
    name: str
    href: str
    path: str = ""

    @property
    def kind_words(self) -> str:
        return KIND_WORDS[self.kind]


@dataclass(frozen=True)
class NodePicker:
    """What the picker shows. ``current`` None: the whole server (an account of the whole server, no node picked)."""

    current: Choice | None
    path: list[Choice]
    children: list[Choice]
    more_children: int
    find: str
    found: list[Choice] = field(default_factory=list)
    more_found: bool = False
    top_href: str = ""
    whole_server: bool = True

    def options(self, prefix: str = "") -> list[tuple[str, str, bool]]:
        """(value, label, selected) for a ``<select name="node">``: the top, the path up, the node, its children.
        ``prefix``: before each id (``#`` where the field also takes a code)."""
        top = "Tất cả" if self.whole_server else f"Toàn bộ phạm vi ({self.path[0].name if self.path else ''})"
        listed = [("", top, self.current is None or (not self.whole_server and self.current.id == self.path[0].id))]
        for step in self.path[:-1] if self.current is not None else ():
            if not self.whole_server and step.id == self.path[0].id:
                continue  # the scope's own node is the "Toàn bộ phạm vi" line
            listed.append((f"{prefix}{step.id}", f"↑ {step.name}", False))
        if self.current is not None and not listed[0][2]:
            listed.append((f"{prefix}{self.current.id}", self.current.name, True))
        listed.extend((f"{prefix}{child.id}", f"\u2003{child.name}", False) for child in self.children)
        return listed


def _choice(row, href: Callable[[int], str], path: str = "") -> Choice:
    return Choice(row.id, row.kind, row.code, row.name, href(row.id), path)


def node_picker(conn: Connection, caller: Caller, *, current: int | None, find: str | None,
                href: Callable[[int], str], top_href: str = "") -> NodePicker:
    """The picker at ``current`` (a node id already checked to be inside the caller's scope; None: the caller's
    scope), searching ``find`` (code or name) inside the scope. ``href(node_id)`` is the link to a node."""
    scope = caller.scope_node_id
    current = current if current is not None else scope
    path: list[Choice] = []
    if current is not None:
        line = lineage_nodes(conn, current)
        steps, at = [], line.get(current)
        while at is not None:
            steps.append(at)
            if at.id == scope:
                break  # a scoped account's breadcrumb starts at its own node
            at = line.get(at.parent_id) if at.parent_id is not None else None
        path = [_choice(one, href) for one in reversed(steps)]
    parent = nodes.c.parent_id.is_(None) if current is None else nodes.c.parent_id == current
    rows = conn.execute(select(nodes.c.id, nodes.c.kind, nodes.c.code, nodes.c.name).where(parent)
                        .order_by(_depth(), nodes.c.name, nodes.c.id).limit(MAX_CHILDREN + 1)).all()
    more = 0
    if len(rows) > MAX_CHILDREN:
        more = conn.execute(select(func.count()).select_from(nodes).where(parent)).scalar_one() - MAX_CHILDREN
        rows = rows[:MAX_CHILDREN]
    children = [_choice(row, href) for row in rows]
    text = " ".join((find or "").split())[:MAX_FIND_LENGTH]
    found, more_found = search_nodes(conn, caller, text, href) if text else ([], False)
    return NodePicker(path[-1] if path else None, path, children, more, text, found, more_found,
                      top_href=top_href, whole_server=caller.whole_server)


def search_nodes(conn: Connection, caller: Caller, text: str, href: Callable[[int], str]) -> tuple[list[Choice], bool]:
    """(at most :data:`MAX_FOUND` nodes inside the caller's scope whose code starts with ``text`` or whose name
    holds it, case aside — the provinces first; whether there are more)."""
    needle = text.lower()
    query = select(nodes.c.id, nodes.c.kind, nodes.c.code, nodes.c.name).where(or_(
        func.lower(nodes.c.code).startswith(needle, autoescape=True),
        func.lower(nodes.c.name).contains(needle, autoescape=True)))
    if not caller.whole_server:
        below = select(nodes.c.id).where(nodes.c.id == caller.scope_node_id).cte("scope_below", recursive=True)
        below = below.union_all(select(nodes.c.id).join(below, nodes.c.parent_id == below.c.id))
        query = query.where(nodes.c.id.in_(select(below.c.id)))
    rows = conn.execute(query.order_by(_depth(), nodes.c.name, nodes.c.id).limit(MAX_FOUND + 1)).all()
    paths = paths_of(conn, {row.id for row in rows[:MAX_FOUND]})
    return [_choice(row, href, paths.get(row.id, "")) for row in rows[:MAX_FOUND]], len(rows) > MAX_FOUND


def _depth():
    """A node's depth (province 0 … counter 3), to list parents before children."""
    return case(*[(nodes.c.kind == kind, rank) for rank, kind in enumerate(KINDS)], else_=len(KINDS))

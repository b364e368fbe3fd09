"""Where an alert is: a node of the organisation tree told by its path, ids and official codes.

An alert is about a place — a unit's dissatisfied share, a silent terminal's counter — and names of
units repeat across provinces ("Phường 1", "Xã An Bình"), so an alert carries the place whole: the
path from the province down, for people, and each level's id and code, for machines (the webhook's
receiver, a script). It is written into the alert's ``details`` when the alert fires, as the tree
stood then; renaming a node later does not rewrite alerts already sent.

    >>> place = {"path": "Tỉnh Bắc Ninh › Phường 1",
    ...          "province": {"id": 1, "code": "24", "name": "Tỉnh Bắc Ninh"},
    ...          "unit": {"id": 7, "code": "07420", "name": "Phường 1"}}
    >>> place_words(place)
    'Tỉnh Bắc Ninh › Phường 1'

Only the nodes asked about and their ancestors are read (at most one query per level of the tree),
never the whole tree: a national server holds tens of thousands of nodes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from .org_tree import KINDS
from .schema import nodes

#: How an alert of a unit names it in ``alerts.subject``: the node's id, which a node keeps for life
#: (its official code can be given or corrected later by a tree import).
UNIT_SUBJECT_PREFIX = "unit:"
#: Node ids asked for in one query.
CHUNK = 5000


def unit_subject(unit_id: int) -> str:
    """``unit:7``: the subject of a unit's ``dissatisfied_share`` alert."""
    return f"{UNIT_SUBJECT_PREFIX}{unit_id}"


def places_of(conn: Connection, node_ids: Iterable[int]) -> dict[int, dict]:
    """Each node's place: ``{"path": "A › B", "province": {"id", "code", "name"}, "unit": {…}, …}``.

    One key per level from the province down to the node itself (``office`` and ``counter`` for a
    terminal's node). Nodes that do not exist are left out.
    """
    wanted = {int(node_id) for node_id in node_ids if node_id is not None}
    known: dict[int, tuple] = {}
    todo = set(wanted)
    for _level in range(len(KINDS) + 1):  # each round reads the parents of the last: the tree is 4 deep
        todo -= set(known)
        if not todo:
            break
        asked, rows = sorted(todo), []
        for start in range(0, len(asked), CHUNK):  # a bound parameter per id: SQLite takes 32,766 at most
            rows += conn.execute(select(nodes.c.id, nodes.c.kind, nodes.c.code, nodes.c.name, nodes.c.parent_id)
                                 .where(nodes.c.id.in_(asked[start:start + CHUNK]))).all()
        known.update({row.id: tuple(row) for row in rows})
        todo = {row.parent_id for row in rows if row.parent_id is not None}
    found = {}
    for node_id in wanted:
        chain, current = [], known.get(node_id)
        while current is not None and len(chain) <= len(KINDS):
            chain.append(current)
            current = known.get(current[4]) if current[4] is not None else None
        if not chain:
            continue
        place: dict = {"path": " › ".join(name for _id, _kind, _code, name, _parent in reversed(chain))}
        for one_id, kind, code, name, _parent in reversed(chain):
            place[kind] = {"id": one_id, "code": code, "name": name}
        found[node_id] = place
    return found


def place_words(place: dict | None) -> str:
    """The path of a place (``Tỉnh … › Phường 1``), or '' for none."""
    return (place or {}).get("path") or ""

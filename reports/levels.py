"""Reports at every level of the organisation tree: a province ranks its units, a unit its offices and counters,
an office its counters and terminals — and each level adds up to the level above it.

Each rating carries the ids of the province, unit, office and counter it was given at (0: none), so the
groups are keyed by those ids and shown by the nodes' *current* names: a renamed unit keeps its ratings.
Ratings with no node at a level are one line of their own ("không thuộc đơn vị nào"), so the sums still close.

A group is keyed by its place from the top down, ``(province, unit, office, counter, terminal)`` cut at
its level, so "no counter" under one office is not the same line as "no counter" under another::

    >>> place_key("office", (1, 4, 9, 0, "t-1"))
    (1, 4, 9)
    >>> levels_below("unit")
    ('office', 'counter', 'terminal')
"""

from __future__ import annotations

from dataclasses import dataclass

#: The kinds of node, top down, and the columns of ``ratings``/``rating_tallies`` that hold them.
TREE_KINDS = ("province", "unit", "office", "counter")
NODE_COLUMNS = tuple(f"{kind}_id" for kind in TREE_KINDS)
#: What a report in the tree can group by, top down.
TREE_LEVELS = ("unit", "office", "counter", "terminal")
_DEPTH = {kind: depth for depth, kind in enumerate((*TREE_KINDS, "terminal"))}

#: The line of ratings that belong to no node of a level (an id of 0, or NULL).
NO_NODE = {"province": "không thuộc tỉnh nào", "unit": "không thuộc đơn vị nào",
           "office": "không thuộc bộ phận nào", "counter": "không thuộc quầy nào", "terminal": "?"}
#: How a level is named in headings and checks.
LEVEL_WORDS = {"province": "Tỉnh/Thành phố", "unit": "Xã/Phường", "office": "Bộ phận Một cửa", "counter": "Quầy",
               "terminal": "Thiết bị"}


@dataclass(frozen=True)
class TreeNode:
    """A node as a report shows it: its current name."""

    id: int
    kind: str
    name: str
    parent_id: int | None


def levels_below(kind: str | None) -> tuple[str, ...]:
    """The levels a report of a node of ``kind`` (None: the whole server, whose level below is the provinces)
    can rank, top down.

        >>> levels_below(None)[:2]
        ('province', 'unit')
    """
    if kind is None:
        return ("province", *TREE_LEVELS)
    return tuple(level for level in TREE_LEVELS if _DEPTH[level] > _DEPTH[kind])


def place_key(level: str, place: tuple) -> tuple:
    """The part of ``place`` (province, unit, office, counter, terminal) that names a group of ``level``."""
    return tuple(place[:_DEPTH[level] + 1])


def lineage(tree: dict[int, TreeNode], node_id: int) -> list[TreeNode]:
    """The node and its ancestors, the province first."""
    found = []
    current = tree.get(node_id)
    while current is not None:
        found.append(current)
        current = tree.get(current.parent_id) if current.parent_id is not None else None
    return list(reversed(found))


def group_label(level: str, key: tuple, tree: dict[int, TreeNode]) -> str:
    """The current name of the group's node; the "no node" words (with the parent's name) for an id of 0."""
    last = key[-1]
    if level == "terminal":
        return str(last or NO_NODE["terminal"])
    if last and last in tree:
        return tree[last].name
    if last:
        return f"#{last}"  # a node deleted since: its id, so its ratings are still shown and summed
    parents = [tree[part].name for part in key[:-1] if part and part in tree]
    return NO_NODE[level] + (f" ({parents[-1]})" if parents else "")


def node_summary(tree: dict[int, TreeNode], node_id: int) -> dict:
    """What a report says of the node it covers: id, kind, current name, and the path down to it."""
    path = lineage(tree, node_id)
    me = path[-1]
    return {"id": me.id, "kind": me.kind, "name": me.name,
            "path": [{"id": one.id, "kind": one.kind, "name": one.name} for one in path]}

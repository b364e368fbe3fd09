"""The organisation tree: province → commune-level unit → one-stop office → counter (→ terminals).

Nodes are rows of ``nodes``; a node keeps its id for life, so renaming it (or giving it its official
code) changes how it is shown, never which ratings it holds. A terminal stands at a counter (or at an
office that has no counters); its lineage — the ids of its province, unit, office and counter — is kept on
its row by :func:`place_terminals` and copied into each rating at ingest, so a rating keeps the place it
was given at when the terminal is moved later.

The tree is imported from a CSV file (``code,name,kind,parent_code``), all or nothing:

    >>> rows = parse_tree("code,name,kind,parent_code\\n01,Thành phố Hà Nội,province,\\n"
    ...                   "00001,Phường Ba Đình,unit,01\\n")
    >>> [(row.line, row.kind, row.code, row.parent_code) for row in rows]
    [(2, 'province', '01', None), (3, 'unit', '00001', '01')]
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from sync.names import name_problem

from .errors import ServerError
from .schema import legacy_places, nodes, terminals
from .timekeeping import iso_from_ns

KINDS = ("province", "unit", "office", "counter")
#: The kind a node's parent must be.
PARENT_KIND = {"province": None, "unit": "province", "office": "unit", "counter": "office"}
#: Which column of ``ratings`` (and ``rating_tallies``, ``terminals``) holds a node of each kind.
SCOPE_COLUMN = {"province": "province_id", "unit": "unit_id", "office": "office_id", "counter": "counter_id"}
#: Vietnamese words for the kinds, for pages and printed reports.
KIND_WORDS = {"province": "Tỉnh/Thành phố", "unit": "Xã/Phường/Đặc khu", "office": "Bộ phận Một cửa",
              "counter": "Quầy"}
#: Accepted in a CSV's kind column besides the English words.
KIND_ALIASES = {"tinh": "province", "tỉnh": "province", "thanh pho": "province", "thành phố": "province",
                "xa": "unit", "xã": "unit", "phuong": "unit", "phường": "unit", "dac khu": "unit",
                "đặc khu": "unit", "commune": "unit", "ward": "unit", "bo phan": "office", "bộ phận": "office",
                "quay": "counter", "quầy": "counter"}
#: What a server of before the tree calls the province and office it puts flat sites under (migration 0007).
PROVINCE_PLACEHOLDER = "Tỉnh"
OFFICE_PLACEHOLDER = "Bộ phận Một cửa"
CSV_COLUMNS = ("code", "name", "kind", "parent_code")
MAX_CODE_LENGTH = 64


class TreeError(ServerError, ValueError):
    """A tree file or change that cannot be applied; the message names the line and what to do."""

    def __init__(self, message: str, *, line: int | None = None):
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


class UnknownNode(ServerError, LookupError):
    """No node has this id or code."""


@dataclass(frozen=True)
class TreeRow:
    line: int
    code: str
    name: str
    kind: str
    parent_code: str | None


@dataclass(frozen=True)
class Node:
    id: int
    kind: str
    code: str | None
    name: str
    parent_id: int | None


# -- reading the tree ---------------------------------------------------------------------------------

def node(conn: Connection, node_id: int) -> Node:
    row = conn.execute(select(nodes).where(nodes.c.id == node_id)).first()
    if row is None:
        raise UnknownNode(f"no node has the id {node_id} (see `kiosk-server tree`)")
    return Node(row.id, row.kind, row.code, row.name, row.parent_id)


def find_node(conn: Connection, ref: str) -> Node:
    """The node whose official code is ``ref``, else whose id is ``ref`` (``#12`` or ``12``)."""
    ref = ref.strip()
    row = conn.execute(select(nodes).where(nodes.c.code == ref)).first()
    if row is None and ref.lstrip("#").isdigit():
        row = conn.execute(select(nodes).where(nodes.c.id == int(ref.lstrip("#")))).first()
    if row is None:
        raise UnknownNode(f"no node has the code or id {ref!r} (see `kiosk-server tree`)")
    return Node(row.id, row.kind, row.code, row.name, row.parent_id)


def all_nodes(conn: Connection) -> dict[int, Node]:
    return {row.id: Node(row.id, row.kind, row.code, row.name, row.parent_id)
            for row in conn.execute(select(nodes).order_by(nodes.c.id))}


def lineage_nodes(conn: Connection, node_id: int) -> dict[int, Node]:
    """The node and its ancestors (at most four rows, one query), by id: enough for :func:`lineage`,
    :func:`placement` and :func:`path_words` of that node without reading the whole tree."""
    up = select(nodes).where(nodes.c.id == node_id).cte("up", recursive=True)
    up = up.union_all(select(nodes).join(up, nodes.c.id == up.c.parent_id))
    return {row.id: Node(row.id, row.kind, row.code, row.name, row.parent_id)
            for row in conn.execute(select(up)).all()}


def lineage(conn: Connection, node_id: int, *, tree: dict[int, Node] | None = None) -> dict[str, int]:
    """{kind: id} of the node and its ancestors, e.g. ``{"province": 1, "unit": 4, "office": 9, "counter": 12}``."""
    tree = tree if tree is not None else lineage_nodes(conn, node_id)
    found: dict[str, int] = {}
    current = tree.get(node_id)
    if current is None:
        raise UnknownNode(f"no node has the id {node_id} (see `kiosk-server tree`)")
    while current is not None:
        found[current.kind] = current.id
        current = tree.get(current.parent_id) if current.parent_id is not None else None
    return found


def subtree_ids(conn: Connection, node_id: int, *, tree: dict[int, Node] | None = None) -> set[int]:
    """The node and every node below it (without ``tree``: one query that reads only them)."""
    if tree is None:
        down = select(nodes.c.id).where(nodes.c.id == node_id).cte("down", recursive=True)
        down = down.union_all(select(nodes.c.id).join(down, nodes.c.parent_id == down.c.id))
        return set(conn.execute(select(down.c.id)).scalars()) | {node_id}
    children: dict[int, list[int]] = {}
    for one in tree.values():
        if one.parent_id is not None:
            children.setdefault(one.parent_id, []).append(one.id)
    found, todo = set(), [node_id]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, ()))
    return found


def subtree_nodes(conn: Connection, node_id: int) -> dict[int, Node]:
    """The node and every node below it, by id (one query that reads only them)."""
    down = select(nodes).where(nodes.c.id == node_id).cte("down_nodes", recursive=True)
    down = down.union_all(select(nodes).join(down, nodes.c.parent_id == down.c.id))
    return {row.id: Node(row.id, row.kind, row.code, row.name, row.parent_id) for row in conn.execute(select(down))}


def path_words(tree: dict[int, Node], node_id: int | None) -> str:
    """``Tỉnh › Phường Ba Đình › Bộ phận Một cửa › Quầy 1``, or '' for none."""
    names = []
    current = tree.get(node_id) if node_id is not None else None
    while current is not None:
        names.append(current.name)
        current = tree.get(current.parent_id) if current.parent_id is not None else None
    return " › ".join(reversed(names))


# -- where terminals stand ------------------------------------------------------------------------------

def placement(conn: Connection, node_id: int, *, tree: dict[int, Node] | None = None) -> dict:
    """The ``terminals`` columns of a terminal standing at ``node_id`` (a counter or an office); without
    ``tree`` it reads only the node's lineage (an enrolment on a national tree reads 4 nodes, not 18,000)."""
    tree = tree if tree is not None else lineage_nodes(conn, node_id)
    found = lineage(conn, node_id, tree=tree)
    standing = tree[node_id]
    if standing.kind not in ("counter", "office"):
        raise TreeError(f"a terminal stands at a counter or an office, not at a {standing.kind} "
                        f"({standing.name}); name one of its counters")
    return {"node_id": node_id, **{SCOPE_COLUMN[kind]: found.get(kind) for kind in KINDS},
            "site": tree[found["unit"]].name if "unit" in found else standing.name,
            "counter": standing.name if standing.kind == "counter" else None}


def place_terminals(conn: Connection, terminal_ids: Iterable[str] | None = None) -> int:
    """Bring terminals' names and lineage up to date with the tree (after an import, a rename, a move)."""
    tree = all_nodes(conn)
    query = select(terminals.c.id, terminals.c.node_id).where(terminals.c.node_id.is_not(None))
    if terminal_ids is not None:
        query = query.where(terminals.c.id.in_(list(terminal_ids)))
    changed = 0
    for row in conn.execute(query).all():
        conn.execute(update(terminals).where(terminals.c.id == row.id)
                     .values(**placement(conn, row.node_id, tree=tree)))
        changed += 1
    return changed


def move_terminal(conn: Connection, terminal_id: str, node_id: int) -> dict:
    """Stand a terminal at another counter; its ratings so far keep the place they were given at."""
    if conn.execute(select(terminals.c.id).where(terminals.c.id == terminal_id)).first() is None:
        from .errors import UnknownTerminal

        raise UnknownTerminal(f"no terminal has the id {terminal_id!r} (see `kiosk-server terminals`)")
    placed = placement(conn, node_id)
    conn.execute(update(terminals).where(terminals.c.id == terminal_id).values(**placed))
    return placed


def node_for_place(conn: Connection, site: str, counter: str | None, *, now_ns: int) -> int:
    """The node of a place named the old way (site, counter): found, or made under the only province.

    Keeps ``kiosk-server enroll-code --site … --counter …`` working: a site is a unit, its counters
    are counters of its office "Bộ phận Một cửa".
    """
    site, counter = site.strip(), (counter or "").strip()
    known = conn.execute(select(legacy_places.c.node_id).where(legacy_places.c.site == site,
                                                                legacy_places.c.counter == counter)).scalar()
    if known is not None:
        return known
    provinces = conn.execute(select(nodes.c.id).where(nodes.c.kind == "province")).scalars().all()
    if len(provinces) > 1:
        raise TreeError("this server holds several provinces: name the counter's node (--node CODE) instead "
                        "of a site")
    now = iso_from_ns(now_ns)
    province = provinces[0] if provinces else _insert_node(conn, "province", PROVINCE_PLACEHOLDER, None, None, now)
    unit = _child(conn, province, "unit", site, now)
    offices = conn.execute(select(nodes.c.id).where(nodes.c.parent_id == unit, nodes.c.kind == "office")).all()
    office = offices[0].id if len(offices) == 1 else _child(conn, unit, "office", OFFICE_PLACEHOLDER, now)
    place = _child(conn, office, "counter", counter, now) if counter else office
    conn.execute(insert(legacy_places).values(site=site, counter=counter, node_id=place))
    return place


def _child(conn: Connection, parent_id: int, kind: str, name: str, now: str) -> int:
    found = conn.execute(select(nodes.c.id).where(nodes.c.parent_id == parent_id, nodes.c.kind == kind,
                                                  nodes.c.name == name).order_by(nodes.c.id)).scalar()
    return found if found is not None else _insert_node(conn, kind, name, None, parent_id, now)


def _insert_node(conn: Connection, kind: str, name: str, code: str | None, parent_id: int | None, now: str) -> int:
    return conn.execute(insert(nodes).values(kind=kind, name=name, code=code, parent_id=parent_id,
                                             created_at=now, updated_at=now).returning(nodes.c.id)).scalar_one()


# -- importing the tree -----------------------------------------------------------------------------------

def parse_tree(text: str) -> list[TreeRow]:
    """The rows of a tree CSV (UTF-8, with or without a byte-order mark; comma or semicolon), checked.

    Raises :class:`TreeError` naming the first bad line. Each row is checked on its own here; how rows fit
    together (parents, kinds) is checked against the tree by :func:`apply_tree`.
    """
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise TreeError("the file is empty; it needs a header line: code,name,kind,parent_code")
    dialect = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect)
    try:
        lines = [(reader.line_num, cells) for cells in reader]
    except csv.Error as exc:  # e.g. a stray carriage return, or a quote left open
        raise TreeError(f"is not readable as CSV ({exc}); save the file as “CSV UTF-8”",
                        line=reader.line_num) from None
    header = [cell.strip().lower() for cell in lines[0][1]] if lines else []
    if header[:4] != list(CSV_COLUMNS):
        raise TreeError(f"the header must be {','.join(CSV_COLUMNS)} (found {','.join(header) or 'nothing'})",
                        line=1)
    rows: list[TreeRow] = []
    seen: dict[str, int] = {}
    for line, cells in lines[1:]:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < 3 or len(cells) > 4:
            raise TreeError(f"has {len(cells)} columns; each line needs code,name,kind,parent_code "
                            "(parent_code empty for a province)", line=line)
        code, name, kind, parent = (cell.strip() for cell in (cells + [""])[:4])
        kind = KIND_ALIASES.get(kind.lower(), kind.lower())
        if kind not in KINDS:
            raise TreeError(f"kind {cells[2].strip()!r} is not one of {', '.join(KINDS)}", line=line)
        if not code:
            raise TreeError("the code is empty; every node in the file needs a code (its official code where "
                            "one exists, else one you choose)", line=line)
        if len(code) > MAX_CODE_LENGTH or any(ch.isspace() for ch in code) or not code.isprintable():
            raise TreeError(f"the code {code!r} must be at most {MAX_CODE_LENGTH} characters, without spaces",
                            line=line)
        problem = name_problem(name) if name else "is empty"
        if problem is not None:
            raise TreeError(f"the name {problem}", line=line)
        if code in seen:
            raise TreeError(f"the code {code} is already on line {seen[code]}", line=line)
        seen[code] = line
        if kind == "province" and parent:
            raise TreeError("a province has no parent; leave parent_code empty", line=line)
        if kind != "province" and not parent:
            raise TreeError(f"a {kind} needs parent_code (the code of its {PARENT_KIND[kind]})", line=line)
        rows.append(TreeRow(line, code, name, kind, parent or None))
    if not rows:
        raise TreeError("the file has a header but no nodes")
    return rows


@dataclass(frozen=True)
class TreeChanges:
    added: int
    renamed: int
    moved: int
    unchanged: int
    terminals_placed: int

    def words(self) -> str:
        return (f"{self.added} added, {self.renamed} renamed, {self.moved} moved, {self.unchanged} unchanged; "
                f"{self.terminals_placed} terminal(s) placed again")


def apply_tree(conn: Connection, rows: list[TreeRow], *, now_ns: int) -> TreeChanges:
    """Add or update the nodes of ``rows`` in one go; the caller's transaction makes it all or nothing.

    A row matches a node by its code; else a node without a code, of the same kind and name under the
    same parent (a site of before the tree gets its code this way), or, for a province, the only province
    without a code (the placeholder "Tỉnh"). Nodes not in the file are left as they are. Raises
    :class:`TreeError` naming the line of the first row that cannot be applied.
    """
    now = iso_from_ns(now_ns)
    tree = all_nodes(conn)
    by_code = {one.code: one for one in tree.values() if one.code is not None}
    # ``#12`` names the node of id 12 that has no code (as `kiosk-server tree --csv` writes it).
    by_code.update({f"#{one.id}": one for one in tree.values() if one.code is None})
    in_file = {row.code: row for row in rows}
    added = renamed = moved = unchanged = 0
    pending = list(rows)
    # Parents before children: a row waits until its parent's code is known (in the tree or applied).
    while pending:
        progress = False
        waiting = []
        for row in pending:
            parent_id = None
            if row.parent_code is not None:
                parent = by_code.get(row.parent_code)
                if parent is None:
                    if row.parent_code in in_file:
                        waiting.append(row)
                        continue
                    raise TreeError(f"parent_code {row.parent_code} is neither in the file nor on the server",
                                    line=row.line)
                if parent.kind != PARENT_KIND[row.kind]:
                    raise TreeError(f"a {row.kind}'s parent must be a {PARENT_KIND[row.kind]}, but "
                                    f"{row.parent_code} ({parent.name}) is a {parent.kind}", line=row.line)
                parent_id = parent.id
            existing = by_code.get(row.code) or _uncoded_match(tree, row, parent_id)
            if existing is None and row.code.startswith("#"):
                raise TreeError(f"{row.code} names a node by its id, but no node without a code has it; "
                                "give new nodes their own code", line=row.line)
            if existing is None:
                new_id = _insert_node(conn, row.kind, row.name, row.code, parent_id, now)
                existing = Node(new_id, row.kind, row.code, row.name, parent_id)
                added += 1
            else:
                if existing.kind != row.kind:
                    raise TreeError(f"the code {row.code} is a {existing.kind} on the server ({existing.name}); "
                                    f"a node cannot change kind", line=row.line)
                code = None if row.code == f"#{existing.id}" else row.code
                if (existing.name, existing.parent_id, existing.code) == (row.name, parent_id, code):
                    unchanged += 1
                else:
                    renamed += existing.name != row.name
                    moved += existing.parent_id != parent_id
                    conn.execute(update(nodes).where(nodes.c.id == existing.id)
                                 .values(name=row.name, code=code, parent_id=parent_id, updated_at=now))
                    existing = Node(existing.id, row.kind, code, row.name, parent_id)
            tree[existing.id] = existing
            by_code[row.code] = existing
            progress = True
        if not progress:
            row = waiting[0]
            raise TreeError(f"parent_code {row.parent_code} leads round in a circle", line=row.line)
        pending = waiting
    placed = place_terminals(conn)
    return TreeChanges(added, renamed, moved, unchanged, placed)


def _uncoded_match(tree: dict[int, Node], row: TreeRow, parent_id: int | None) -> Node | None:
    same = [one for one in tree.values() if one.code is None and one.kind == row.kind
            and one.name == row.name and one.parent_id == parent_id]
    if not same and row.kind == "province":
        same = [one for one in tree.values() if one.kind == "province" and one.code is None]
    return same[0] if len(same) == 1 else None


def tree_csv(conn: Connection, *, within: int | None = None) -> str:
    """The whole tree (``within``: that node, its ancestors and its subtree) as a CSV the import takes back
    (nodes without a code get ``#id``)."""
    tree = all_nodes(conn)
    if within is not None:
        keep = subtree_ids(conn, within, tree=tree) | set(lineage(conn, within, tree=tree).values())
        tree = {node_id: one for node_id, one in tree.items() if node_id in keep}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)

    def ref(one: Node) -> str:
        return one.code or f"#{one.id}"

    order = sorted(tree.values(), key=lambda one: (KINDS.index(one.kind), path_words(tree, one.id)))
    for one in order:
        parent = tree.get(one.parent_id) if one.parent_id is not None else None
        writer.writerow([ref(one), one.name, one.kind, ref(parent) if parent else ""])
    return out.getvalue()


def node_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(nodes)).scalar_one()


def has_tree(conn: Connection) -> bool:
    """Whether the server has any node (a server that never enrolled nor imported a tree has none)."""
    return conn.execute(select(nodes.c.id).limit(1)).first() is not None

"""Remote terminal settings (issue 13 §1): what the server wants each terminal to run on top of its local file.

Settings are set per scope: the whole fleet, a node of the tree (province, unit, office, counter), or one
terminal. Each change is a new row of ``terminal_settings_changes`` holding the full values of its scope after
the change (who, when, a note): the history is append-only, and a scope's current values are its latest row.
A terminal's effective set is the fleet's, then each ancestor node's from the province down to its own node,
then its own, the nearest winning key by key. Its ``version`` is the first 16 hex of the SHA-256 of the
canonical JSON of the effective values; the empty set has one too, so "remove everything" reaches the
terminals. Rolling back is a new change that restores an older change's values for that scope.

Values are checked with the terminal's own rules (:func:`kiosk.remote_settings.check_remote_values`) before
anything is stored; a bad key or value is :class:`SettingsRefused` naming the key.

    >>> settings_version({})
    '44136fa355b3678a'
    >>> settings_version({"feedback.thanks_s": 5.0})
    'a5647fc66fe992f7'
    >>> effective_values([{"feedback.thanks_s": 5.0, "voice.volume": 80}, {}, {"voice.volume": 40}])
    {'feedback.thanks_s': 5.0, 'voice.volume': 40}
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, insert, select

from kiosk.errors import ConfigError
from kiosk.remote_settings import REMOTE_KEYS, check_remote_values

from .errors import ServerError
from .org_tree import SCOPE_COLUMN, UnknownNode, find_node, subtree_ids
from .schema import nodes, terminal_settings_changes as changes, terminals
from .timekeeping import iso_from_ns

FLEET = "fleet"
#: The lineage columns of a terminal's row, from the root down: the order in which scopes are overlaid.
LINEAGE = ("province_id", "unit_id", "office_id", "counter_id")
#: Most changes one history answer lists.
HISTORY_LIMIT = 200


class SettingsRefused(ServerError, ValueError):
    """A settings change that cannot be made; the message names the key (or the scope) and why."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class UnknownScope(SettingsRefused, LookupError):
    """No node, terminal or change has this reference (or none the caller may see): 404."""

    status = 404


# -- scopes --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """Where a set of settings applies: ``Scope()`` the fleet, ``Scope(node_id=4)``, ``Scope(terminal_id="t-1")``.

        >>> Scope().key, Scope(node_id=4).key, Scope(terminal_id="t-1").key
        ('fleet', 'node:4', 'terminal:t-1')
    """

    node_id: int | None = None
    terminal_id: str | None = None

    @property
    def kind(self) -> str:
        return "terminal" if self.terminal_id is not None else "node" if self.node_id is not None else FLEET

    @property
    def key(self) -> str:
        if self.terminal_id is not None:
            return f"terminal:{self.terminal_id}"
        return f"node:{self.node_id}" if self.node_id is not None else FLEET

    @classmethod
    def from_key(cls, key: str) -> "Scope":
        kind, _, ref = key.partition(":")
        if kind == "terminal":
            return cls(terminal_id=ref)
        return cls(node_id=int(ref)) if kind == "node" else cls()

    def words(self) -> str:
        """How the CLI, the history and the audit trail name it."""
        if self.terminal_id is not None:
            return f"terminal {self.terminal_id}"
        return f"node #{self.node_id}" if self.node_id is not None else "the whole fleet"


def resolve_scope(conn: Connection, *, node: str | None = None, terminal: str | None = None) -> Scope:
    """The scope a ``--node`` (code or ``#id``) or ``--terminal`` (id) names; neither: the fleet.
    :class:`UnknownScope` when it does not exist."""
    if node is not None and terminal is not None:
        raise SettingsRefused("give a node or a terminal, not both", field="scope")
    if terminal is not None:
        found = conn.execute(select(terminals.c.id).where(terminals.c.id == terminal)).scalar()
        if found is None:
            raise UnknownScope(f"terminal: no terminal has the id {terminal!r}", field="terminal")
        return Scope(terminal_id=found)
    if node is not None:
        try:
            return Scope(node_id=find_node(conn, str(node)).id)
        except UnknownNode as exc:
            raise UnknownScope(f"node: {exc}", field="node") from None
    return Scope()


def terminal_scopes(terminal_id: str, lineage: Sequence[int | None]) -> list[str]:
    """The scope keys a terminal's effective set is made of, farthest first (``lineage``: LINEAGE's ids).

        >>> terminal_scopes("t-1", (1, 4, None, None))
        ['fleet', 'node:1', 'node:4', 'terminal:t-1']
    """
    return [FLEET, *(f"node:{node_id}" for node_id in lineage if node_id is not None), f"terminal:{terminal_id}"]


def node_scopes(conn: Connection, node_id: int) -> list[str]:
    """The scope keys above and at a node, farthest first (the fleet, its province, …, itself)."""
    chain, current = [], node_id
    while current is not None:
        chain.append(current)
        current = conn.execute(select(nodes.c.parent_id).where(nodes.c.id == current)).scalar()
    return [FLEET, *(f"node:{one}" for one in reversed(chain))]


# -- versions and the effective set ---------------------------------------------------------------------------

def canonical(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def settings_version(values: dict[str, Any]) -> str:
    """The first 16 hex of the SHA-256 of the canonical JSON of ``values`` (the contract's version)."""
    return hashlib.sha256(canonical(values).encode("utf-8")).hexdigest()[:16]


def effective_values(layers: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The layers (farthest first) overlaid key by key: the nearest wins."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def current_values(conn: Connection, scope_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """{scope key: its current values} for those of ``scope_keys`` that were ever set (one query)."""
    if not scope_keys:
        return {}
    latest = (select(func.max(changes.c.id)).where(changes.c.scope.in_(list(scope_keys)))
              .group_by(changes.c.scope).scalar_subquery())
    rows = conn.execute(select(changes.c.scope, changes.c.settings).where(changes.c.id.in_(latest))).all()
    return {row.scope: json.loads(row.settings) for row in rows}


@dataclass(frozen=True)
class Effective:
    """A terminal's (or a node's) effective settings: the values, their version, where each value comes from
    (its scope key), and whether any of its scopes was ever set (else receipts carry no version)."""

    values: dict[str, Any]
    version: str
    sources: dict[str, str] = field(default_factory=dict)
    ever_set: bool = False


def effective_of(scope_keys: Sequence[str], current: dict[str, dict[str, Any]]) -> Effective:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in scope_keys:
        for name, value in current.get(key, {}).items():
            values[name] = value
            sources[name] = key
    return Effective(values, settings_version(values), sources, any(key in current for key in scope_keys))


def terminal_effective(conn: Connection, terminal_id: str, lineage: Sequence[int | None] | None = None) -> Effective:
    """The effective settings of a terminal (its lineage read from its row unless given)."""
    if lineage is None:
        row = conn.execute(select(*[terminals.c[name] for name in LINEAGE])
                           .where(terminals.c.id == terminal_id)).first()
        lineage = tuple(row) if row is not None else (None,) * len(LINEAGE)
    keys = terminal_scopes(terminal_id, lineage)
    return effective_of(keys, current_values(conn, keys))


def node_effective(conn: Connection, node_id: int | None) -> Effective:
    """What a terminal standing at ``node_id`` (None: anywhere, the fleet's alone) would get without its own."""
    keys = node_scopes(conn, node_id) if node_id is not None else [FLEET]
    return effective_of(keys, current_values(conn, keys))


def wanted_versions(conn: Connection, rows: Iterable[dict]) -> dict[str, str | None]:
    """{terminal id: the version it should run, or None when nothing was ever set above it} for listed terminals
    (dicts with ``id`` and the LINEAGE columns), from one read of every scope's current values."""
    rows = list(rows)
    if not rows:
        return {}
    latest = select(func.max(changes.c.id)).group_by(changes.c.scope).scalar_subquery()
    current = {row.scope: json.loads(row.settings)
               for row in conn.execute(select(changes.c.scope, changes.c.settings).where(changes.c.id.in_(latest)))}
    wanted = {}
    for row in rows:
        found = effective_of(terminal_scopes(row["id"], [row[name] for name in LINEAGE]), current)
        wanted[row["id"]] = found.version if found.ever_set else None
    return wanted


def add_settings_columns(conn: Connection, rows: list[dict]) -> list[dict]:
    """Listed terminals (with ``settings_version`` and their lineage) given ``settings_wanted`` and
    ``settings_applied`` (the version they reported; ``settings_version`` is taken away), for the fleet's lists."""
    wanted = wanted_versions(conn, rows)
    for row in rows:
        row["settings_wanted"] = wanted.get(row["id"])
        row["settings_applied"] = row.pop("settings_version", None)
    return rows


# -- changes and history ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SettingsChange:
    """One row of the history."""

    id: int
    scope: str
    values: dict[str, Any]
    note: str | None
    changed_by: str
    changed_at: str
    restores_id: int | None

    @property
    def version(self) -> str:
        """The version of this scope's own values after the change (not a terminal's effective one)."""
        return settings_version(self.values)

    def out(self) -> dict:
        """As the API and ``settings history --json`` show it."""
        return {"id": self.id, "scope": self.scope, "values": self.values, "version": self.version,
                "note": self.note, "changed_by": self.changed_by, "changed_at": self.changed_at,
                "restores": self.restores_id}


def _change(row) -> SettingsChange:
    return SettingsChange(row.id, row.scope, json.loads(row.settings), row.note, row.changed_by, row.changed_at,
                          row.restores_id)


def scope_values(conn: Connection, scope: Scope) -> dict[str, Any]:
    """A scope's own current values ({} when never set or emptied)."""
    return current_values(conn, [scope.key]).get(scope.key, {})


def check_values(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked with the terminal's rules; :class:`SettingsRefused` naming the first bad key."""
    try:
        return check_remote_values(dict(values))
    except ConfigError as exc:
        name = str(exc).partition(":")[0].strip()
        raise SettingsRefused(str(exc), field=name if name in REMOTE_KEYS or "." in name else None) from None


def check_unset(names: Iterable[str]) -> list[str]:
    """The names to remove, each a remote setting's; else :class:`SettingsRefused` naming it."""
    names = list(names)
    for name in names:
        if name not in REMOTE_KEYS:
            raise SettingsRefused(f"{name}: not a remote setting, so it cannot be unset; remote settings are "
                                  f"{', '.join(sorted(REMOTE_KEYS))}", field=name)
    return names


def _append(conn: Connection, scope: Scope, values: dict[str, Any], *, note: str | None, changed_by: str,
            now_ns: int, restores_id: int | None = None) -> SettingsChange:
    row = {"scope": scope.key, "node_id": scope.node_id, "terminal_id": scope.terminal_id,
           "settings": canonical(values), "note": note or None, "changed_by": changed_by,
           "changed_at": iso_from_ns(now_ns), "restores_id": restores_id}
    new_id = conn.execute(insert(changes).values(**row).returning(changes.c.id)).scalar_one()
    return SettingsChange(new_id, scope.key, json.loads(row["settings"]), row["note"], changed_by,
                          row["changed_at"], restores_id)


def change_settings(conn: Connection, scope: Scope, *, set_values: dict[str, Any] | None = None,
                    unset: Iterable[str] = (), note: str | None = None, changed_by: str,
                    now_ns: int) -> SettingsChange:
    """Set and remove keys of ``scope``'s own values: a new change holding the whole result. Everything is
    checked before anything is written (:class:`SettingsRefused` naming the key)."""
    checked = check_values(set_values or {})
    removed = check_unset(unset)
    both = sorted(set(checked) & set(removed))
    if both:
        raise SettingsRefused(f"{both[0]}: both set and unset in the same change", field=both[0])
    if not checked and not removed:
        raise SettingsRefused("nothing to change: give KEY=VALUE to set or a key to unset", field="values")
    values = {**scope_values(conn, scope), **checked}
    for name in removed:
        values.pop(name, None)
    return _append(conn, scope, values, note=note, changed_by=changed_by, now_ns=now_ns)


def find_change(conn: Connection, change_id: int) -> SettingsChange:
    row = conn.execute(select(changes).where(changes.c.id == change_id)).first()
    if row is None:
        raise UnknownScope(f"change: no settings change has the number {change_id} (see settings history)",
                           field="change")
    return _change(row)


def rollback_to(conn: Connection, change_id: int, *, note: str | None = None, changed_by: str,
                now_ns: int) -> SettingsChange:
    """A new change of the same scope restoring change ``change_id``'s values (the history stays as it was)."""
    old = find_change(conn, change_id)
    return _append(conn, Scope.from_key(old.scope), old.values, note=note or f"roll back to change {old.id}",
                   changed_by=changed_by, now_ns=now_ns, restores_id=old.id)


def history(conn: Connection, scopes: Sequence[str] | None = None, *, limit: int = HISTORY_LIMIT) -> list[SettingsChange]:
    """The changes of ``scopes`` (keys; None: every scope), newest first."""
    query = select(changes)
    if scopes is not None:
        query = query.where(changes.c.scope.in_(list(scopes)))
    return [_change(row) for row in conn.execute(query.order_by(changes.c.id.desc()).limit(limit))]


def scope_keys_within(conn: Connection, node_id: int) -> list[str]:
    """The scope keys of a node and everything below it (its nodes and the terminals standing there)."""
    inside = sorted(subtree_ids(conn, node_id))
    kind = conn.execute(select(nodes.c.kind).where(nodes.c.id == node_id)).scalar()
    standing = conn.execute(select(terminals.c.id).where(terminals.c[SCOPE_COLUMN[kind]] == node_id)).scalars()
    return [*(f"node:{one}" for one in inside), *(f"terminal:{one}" for one in standing)]


def generation_of(conn: Connection) -> tuple[int, int]:
    """The generation of the settings: (the last change's id, how many changes); (0, 0) while none. Any change
    anywhere moves it. The count too, because PostgreSQL hands out ids at insert time, not at commit: a change
    with a lower id committed after one with a higher id leaves the last id as it was, not the count."""
    last, count = conn.execute(select(func.max(changes.c.id), func.count()).select_from(changes)).one()
    return (last or 0, count)


# -- the ingest path's cache --------------------------------------------------------------------------------

class WantedVersions:
    """The ``settings_version`` of each terminal's batch receipts, cheap on the ingest path.

    Per terminal it keeps the version computed for (generation, lineage). The generation (:func:`generation_of`)
    is read from the database at most every ``recheck_s`` (changes made by the CLI, another server process, or
    a tree move reach the receipts within that) and bumped at once by :meth:`changed` for changes made through
    this process. So a batch costs a dictionary lookup, and one ``max(id)`` read per ``recheck_s`` for all.

        >>> cache = WantedVersions(recheck_s=1.0)
        >>> cache.generation_known
        False
    """

    def __init__(self, *, recheck_s: float = 1.0, clock=time.monotonic):
        self.recheck_s = recheck_s
        self.clock = clock
        self._lock = threading.Lock()
        self._generation: tuple[int, int] = (0, 0)
        self._read_at: float | None = None
        self._by_terminal: dict[str, tuple[tuple[int, int], tuple, str | None]] = {}
        self.computed = 0  # how many times a terminal's set was computed (the bench and tests read it)

    @property
    def generation_known(self) -> bool:
        return self._read_at is not None

    def changed(self) -> None:
        """A change was just committed through this process: read the generation again at the next batch."""
        with self._lock:
            self._read_at = None

    def generation(self, conn: Connection) -> tuple[int, int]:
        now = self.clock()
        with self._lock:
            if self._read_at is not None and now - self._read_at < self.recheck_s:
                return self._generation
        found = generation_of(conn)
        with self._lock:
            self._generation, self._read_at = found, now
            if found == (0, 0):
                self._by_terminal.clear()
        return found

    def wanted(self, conn: Connection, terminal_id: str, lineage: Sequence[int | None]) -> str | None:
        """The version a terminal standing at ``lineage`` should run, or None when nothing was ever set above it."""
        generation = self.generation(conn)
        if generation == (0, 0):
            return None
        lineage = tuple(lineage)
        kept = self._by_terminal.get(terminal_id)
        if kept is not None and kept[0] == generation and kept[1] == lineage:
            return kept[2]
        found = terminal_effective(conn, terminal_id, lineage)
        version = found.version if found.ever_set else None
        with self._lock:
            self._by_terminal[terminal_id] = (generation, lineage, version)
            self.computed += 1
        return version

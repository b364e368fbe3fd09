"""Rolling a release out to the fleet or to a node of the tree: all at once, or a first wave then the rest.

A rollout of version V to a node (or the whole fleet) with a wave share of P % starts ``first_wave``: the
terminals standing under the node are ordered by the SHA-256 of their id and the first P % of them (at least
one) form the first wave (:func:`first_wave`, deterministic: the same fleet gives the same wave). Batch
receipts then offer V (``sync.protocol.ReleaseOffer``) to the terminals whose wave is open, unless they run V
already or reported V ``rolled_back``/``failed`` (:meth:`RolloutBook.offer`).

- First wave healthy, i.e. every first-wave terminal (not revoked) runs V and reports ``update_state`` idle (or
  nothing): the rollout goes to ``all`` and every terminal under the node is offered V.
- Any first-wave terminal reporting V ``rolled_back`` or ``failed``: the rollout is ``stopped`` by itself, with
  the terminal and its reason as ``stopped_reason``, an audit entry (``release_stop``) and a warning in the log.
- ``all`` and every terminal under the node (not revoked) runs V: ``done``.

These rules are evaluated when a first-wave terminal's heartbeat reports V (or a failure), and by the
background loop every :data:`EVALUATE_INTERVAL_S` seconds (:class:`RolloutBook`). A silent first-wave terminal
holds the wave back: stop the rollout and start it again (``--wave 100``) to give V to everyone anyway.

    >>> first_wave(["t-a", "t-b", "t-c", "t-d"], 50) == first_wave(["t-d", "t-c", "t-b", "t-a"], 50)
    True
    >>> len(first_wave([f"t{i}" for i in range(10)], 10)), len(first_wave(["t1"], 1))
    (1, 1)
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from sync.protocol import Health, ReleaseOffer

from . import org_tree
from .access import Caller, node_in_scope, require
from .accounts import Terminal, terminals_within
from .audit import Actor, record
from .background import Every
from .db import write_transaction
from .errors import ServerError
from .releases import find_release
from .schema import releases, rollout_first_wave, rollouts, terminals
from .timekeeping import iso_from_ns

log = logging.getLogger("hailong.rollouts")

ACTIVE = ("first_wave", "all")
STATES = ("first_wave", "all", "stopped", "done")
FAILED_STATES = ("rolled_back", "failed")
#: How often the background loop looks at the running rollouts; also how old the ingest path's copy may get
#: when another process (the CLI) changed them.
EVALUATE_INTERVAL_S = 30
CACHE_TTL_S = 5.0
#: Who the audit trail names when a rollout stops by itself.
RULES_ACTOR = Actor("server (rollout rules)", role="server")

STATE_LABELS_VI = {"first_wave": "Đợt đầu", "all": "Toàn bộ", "stopped": "Đã dừng", "done": "Hoàn tất"}


class RolloutRefused(ServerError, ValueError):
    """A rollout that cannot start or stop as asked (the message says why); ``status`` for the API."""

    def __init__(self, message: str, *, status: int = 422, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.field = field


def first_wave(terminal_ids: Iterable[str], wave_pct: int) -> list[str]:
    """The first ``wave_pct`` % (rounded up, at least one) of ``terminal_ids`` in the order of their ids'
    SHA-256: a stable, spread-out choice that does not depend on the order given."""
    ordered = sorted(set(terminal_ids), key=lambda tid: hashlib.sha256(tid.encode("utf-8")).hexdigest())
    if not ordered:
        return []
    return ordered[:max(1, math.ceil(len(ordered) * wave_pct / 100))]


# -- the ingest path's view: the running rollouts, cached ----------------------------------------------------

@dataclass(frozen=True)
class ActiveRollout:
    id: int
    version: str
    size: int
    sha256: str
    node_id: int | None
    state: str
    members: frozenset[str]

    def covers(self, terminal: Terminal) -> bool:
        """Whether the terminal stands under the rollout's node (or the rollout is for the whole fleet)."""
        return self.node_id is None or self.node_id in (terminal.province_id, terminal.unit_id, terminal.office_id,
                                                         terminal.counter_id)

    def open_to(self, terminal: Terminal) -> bool:
        """Whether the terminal's wave is open: it is covered, and in the first wave or the rollout is at ``all``."""
        return self.covers(terminal) and (self.state == "all" or terminal.id in self.members)


def read_active(conn: Connection) -> list[ActiveRollout]:
    """The running rollouts, the newest first, with their first waves (while in the first wave)."""
    rows = conn.execute(select(rollouts.c.id, rollouts.c.version, rollouts.c.node_id, rollouts.c.state,
                               releases.c.size, releases.c.sha256)
                        .join(releases, releases.c.version == rollouts.c.version)
                        .where(rollouts.c.state.in_(ACTIVE)).order_by(rollouts.c.id.desc())).all()
    waiting = [row.id for row in rows if row.state == "first_wave"]
    members: dict[int, set[str]] = {}
    if waiting:
        for rollout_id, terminal_id in conn.execute(select(rollout_first_wave.c.rollout_id,
                                                           rollout_first_wave.c.terminal_id)
                                                    .where(rollout_first_wave.c.rollout_id.in_(waiting))):
            members.setdefault(rollout_id, set()).add(terminal_id)
    return [ActiveRollout(row.id, row.version, row.size, row.sha256, row.node_id, row.state,
                          frozenset(members.get(row.id, ()))) for row in rows]


def offer_for(active: list[ActiveRollout], terminal: Terminal, app_version: str | None,
              failed_version: str | None) -> ReleaseOffer | None:
    """The release to offer ``terminal`` (running ``app_version``, its last failure ``failed_version``): the newest
    rollout open to it that it has not failed; None when it runs that release already, or none is open to it."""
    for rollout in active:
        if not rollout.open_to(terminal) or rollout.version == failed_version:
            continue
        if rollout.version == app_version:
            return None
        return ReleaseOffer.model_construct(version=rollout.version, size=rollout.size, sha256=rollout.sha256)
    return None


class RolloutBook:
    """The app's copy of the running rollouts (read again after a change made here, or when older than
    :data:`CACHE_TTL_S`: a change by the CLI reaches the receipts within seconds), and the background loop that
    moves them along.

    ``offer`` costs no query; ``after_heartbeat`` writes only when a first-wave terminal reports the release or a
    failure of it."""

    def __init__(self, engine: Engine, clock: Callable[[], int], *, interval_s: float | None = None):
        self.engine = engine
        self.clock = clock
        self._lock = threading.Lock()
        self._active: list[ActiveRollout] = []
        self._read_at: float | None = None
        self._loop = Every("rollouts", self.evaluate_all, interval_s=interval_s or EVALUATE_INTERVAL_S,
                           failure="evaluating the rollouts failed", wait_first=True)

    def changed(self) -> None:
        with self._lock:
            self._read_at = None

    def active(self, conn: Connection | None = None) -> list[ActiveRollout]:
        """The running rollouts, read again when the copy is older than :data:`CACHE_TTL_S`.

        ``conn``: a connection the caller holds, to read them on. A caller holding one must pass it: taking
        a second from the pool while every worker holds one would wait until the pool's timeout.
        """
        now = time.monotonic()
        with self._lock:
            if self._read_at is not None and now - self._read_at < CACHE_TTL_S:
                return self._active
        try:
            if conn is not None:
                fresh = read_active(conn)
            else:
                with self.engine.connect() as own:
                    fresh = read_active(own)
        except SQLAlchemyError:  # the batch is stored already: answer it with what was known, read again next time
            log.exception("reading the running rollouts failed; the last copy is used")
            if conn is not None:
                conn.rollback()  # the caller's reads go on in a fresh transaction (PostgreSQL aborted this one)
            return self._active
        with self._lock:
            self._active, self._read_at = fresh, now
        return fresh

    def offer(self, terminal: Terminal, app_version: str | None, failed_version: str | None, *,
              conn: Connection | None = None) -> ReleaseOffer | None:
        """The release ``terminal``'s receipt offers (see :func:`offer_for`); ``conn`` as for :meth:`active`."""
        active = self.active(conn)
        return offer_for(active, terminal, app_version, failed_version) if active else None

    def after_heartbeat(self, terminal: Terminal, health: Health) -> None:
        """Evaluate the rollouts whose first wave holds ``terminal`` when it reports their release or a failure."""
        due = [r for r in self.active() if r.state == "first_wave" and terminal.id in r.members
               and (health.app_version == r.version
                    or (health.update_version == r.version and health.update_state in FAILED_STATES))]
        if not due:
            return
        try:
            with self.engine.connect() as conn, write_transaction(conn):
                for rollout in due:
                    evaluate_rollout(conn, rollout.id, now_ns=self.clock())
        except SQLAlchemyError:  # the batch is stored: its receipt goes out, the background loop tries again
            log.exception("evaluating rollouts after a heartbeat of %s failed", terminal.id)
        self.changed()

    def evaluate_all(self) -> list[str]:
        """One round over every running rollout; the transitions made (for tests and the log)."""
        made = []
        with self.engine.connect() as conn:
            ids = conn.execute(select(rollouts.c.id).where(rollouts.c.state.in_(ACTIVE))).scalars().all()
        for rollout_id in ids:
            with self.engine.connect() as conn, write_transaction(conn):
                step = evaluate_rollout(conn, rollout_id, now_ns=self.clock())
            if step:
                made.append(step)
        if made:
            self.changed()
        return made

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


# -- the rules -----------------------------------------------------------------------------------------------

def _live_under(conn: Connection, node_id: int | None):
    return terminals_within(select(terminals.c.id).where(terminals.c.revoked_at.is_(None)), conn, node_id)


def evaluate_rollout(conn: Connection, rollout_id: int, *, now_ns: int) -> str | None:
    """Apply the rules to one rollout inside the caller's write transaction: ``"stopped"``, ``"all"``, ``"done"``
    or None (nothing changed)."""
    row = conn.execute(select(rollouts).where(rollouts.c.id == rollout_id)).first()
    if row is None or row.state not in ACTIVE:
        return None
    now = iso_from_ns(now_ns)
    if row.state == "first_wave":
        members = conn.execute(
            select(terminals.c.id, terminals.c.app_version, terminals.c.update_state,
                   terminals.c.update_failed_version, terminals.c.update_error)
            .join(rollout_first_wave, rollout_first_wave.c.terminal_id == terminals.c.id)
            .where(rollout_first_wave.c.rollout_id == rollout_id, terminals.c.revoked_at.is_(None))
            .order_by(terminals.c.id)).all()
        failed = [m for m in members if m.update_failed_version == row.version]
        if failed:
            first = failed[0]
            reason = (f"terminal {first.id} of the first wave reported {row.version} "
                      f"{first.update_state if first.update_state in FAILED_STATES else 'rolled back or failed'}: "
                      f"{first.update_error or 'no reason given'}"
                      + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""))
            if _move(conn, row, "stopped", ended_at=now, stopped_by=RULES_ACTOR.name, stopped_reason=reason):
                record(conn, actor=RULES_ACTOR, action="release_stop", subject=row.version, scope=row.node_id,
                       details={"rollout": row.id, "reason": reason, "by_itself": True}, now_ns=now_ns)
                log.warning("rollout #%d of %s stopped by itself: %s", row.id, row.version, reason)
                return "stopped"
            return None
        healthy = all(m.app_version == row.version and m.update_state in (None, "idle") for m in members)
        if healthy and _move(conn, row, "all", all_at=now):
            log.info("rollout #%d of %s: first wave healthy (%d terminals), now all", row.id, row.version,
                     len(members))
            return "all"
        return None
    behind = conn.execute(select(func.count()).select_from(
        _live_under(conn, row.node_id).where(or_(terminals.c.app_version.is_(None),
                                                 terminals.c.app_version != row.version)).subquery())).scalar_one()
    if behind == 0 and _move(conn, row, "done", ended_at=now):
        log.info("rollout #%d of %s done", row.id, row.version)
        return "done"
    return None


def _move(conn: Connection, row, state: str, **values) -> bool:
    """Compare-and-set: only from the state read (another process may have moved it meanwhile)."""
    done = conn.execute(update(rollouts).where(rollouts.c.id == row.id, rollouts.c.state == row.state)
                        .values(state=state, **values))
    return done.rowcount == 1


#: How long a rollout that stopped by itself stays an active alert (alerts.ROLLOUT_STOPPED).
ROLLOUT_STOP_ALERT_S = 24 * 3600


def stopped_by_themselves(conn: Connection, *, now_ns: int) -> dict[str, dict]:
    """``rollout #id`` → what the alert says, for each rollout that stopped by itself in the last
    :data:`ROLLOUT_STOP_ALERT_S` and whose release was not rolled out again since."""
    since = iso_from_ns(now_ns - ROLLOUT_STOP_ALERT_S * 1_000_000_000)
    later = rollouts.alias("later")
    rows = conn.execute(select(rollouts.c.id, rollouts.c.version, rollouts.c.node_id, rollouts.c.stopped_reason,
                               rollouts.c.ended_at)
                        .where(rollouts.c.state == "stopped", rollouts.c.stopped_by == RULES_ACTOR.name,
                               rollouts.c.ended_at >= since,
                               ~select(later.c.id).where(later.c.version == rollouts.c.version,
                                                         later.c.id > rollouts.c.id).exists())).all()
    return {f"rollout #{row.id}": {"rollout": row.id, "version": row.version, "node_id": row.node_id,
                                   "reason": row.stopped_reason, "stopped_at": row.ended_at} for row in rows}


# -- what administrators do --------------------------------------------------------------------------------

def check_may_manage(conn: Connection, caller: Caller | None, node_id: int | None) -> int | None:
    """The node a rollout by ``caller`` targets: ``node_id`` inside its scope, else its own scope node.
    ``caller`` None: the CLI (the whole server)."""
    if caller is None:
        return node_id
    require(caller, "manage_releases")
    if node_id is None:
        return caller.scope_node_id
    if not node_in_scope(conn, caller, node_id):
        raise RolloutRefused(f"no node has the id {node_id} in your part of the tree", status=404, field="node")
    return node_id


def start_rollout(conn: Connection, version: str, *, node: str | None, wave_pct: int, actor: Actor,
                  caller: Caller | None, now_ns: int, address: str | None = None) -> dict:
    """Start rolling ``version`` out to ``node`` (a code or #id; None: the fleet, or the caller's scope) inside the
    caller's write transaction; its status (:func:`rollout_status`)."""
    if isinstance(wave_pct, bool) or not isinstance(wave_pct, int) or not 1 <= wave_pct <= 100:
        raise RolloutRefused(f"wave: {wave_pct!r} is not a share from 1 to 100 (%; 100: everyone at once)",
                             field="wave")
    release = find_release(conn, version)
    node_id = None
    if node is not None:
        try:
            node_id = org_tree.find_node(conn, node).id
        except org_tree.UnknownNode as exc:
            raise RolloutRefused(f"node: {exc}", status=404, field="node") from None
    node_id = check_may_manage(conn, caller, node_id)
    running = conn.execute(select(rollouts.c.id).where(
        rollouts.c.version == version, rollouts.c.state.in_(ACTIVE),
        rollouts.c.node_id.is_(None) if node_id is None else rollouts.c.node_id == node_id)).first()
    if running is not None:
        raise RolloutRefused(f"release {version} is already rolling out there (rollout #{running.id}); "
                             "stop it first to start again", status=409, field="version")
    fleet = conn.execute(_live_under(conn, node_id)).scalars().all()
    members = first_wave(fleet, wave_pct) if wave_pct < 100 else []
    state = "first_wave" if wave_pct < 100 else "all"
    now = iso_from_ns(now_ns)
    rollout_id = conn.execute(insert(rollouts).values(
        version=release.version, node_id=node_id, wave_pct=wave_pct, state=state, started_by=actor.name,
        started_at=now, all_at=now if state == "all" else None).returning(rollouts.c.id)).scalar_one()
    if members:
        conn.execute(insert(rollout_first_wave), [{"rollout_id": rollout_id, "terminal_id": t} for t in members])
    record(conn, actor=actor, action="release_rollout", subject=version, scope=node_id, address=address,
           details={"rollout": rollout_id, "node_id": node_id, "wave_pct": wave_pct, "terminals": len(fleet),
                    "first_wave": members if len(members) <= 20 else len(members)}, now_ns=now_ns)
    return rollout_status(conn, version=version, rollout_id=rollout_id)[0]


def stop_rollout(conn: Connection, version: str, *, actor: Actor, caller: Caller | None, now_ns: int,
                 reason: str | None = None, address: str | None = None) -> list[dict]:
    """Stop every running rollout of ``version`` the caller may manage, inside its write transaction; their
    statuses. The terminals that run it already keep it; no terminal is offered it any more."""
    find_release(conn, version)
    if caller is not None:
        require(caller, "manage_releases")
    query = select(rollouts).where(rollouts.c.version == version, rollouts.c.state.in_(ACTIVE))
    running = [row for row in conn.execute(query.order_by(rollouts.c.id))
               if caller is None or caller.whole_server
               or (row.node_id is not None and node_in_scope(conn, caller, row.node_id))]
    if not running:
        raise RolloutRefused(f"no rollout of {version} is running" + ("" if caller is None or caller.whole_server
                                                                       else " in your part of the tree"),
                             status=409, field="version")
    why = (reason or "").strip() or f"stopped by {actor.name}"
    for row in running:
        if _move(conn, row, "stopped", ended_at=iso_from_ns(now_ns), stopped_by=actor.name, stopped_reason=why):
            record(conn, actor=actor, action="release_stop", subject=version, scope=row.node_id, address=address,
                   details={"rollout": row.id, "reason": why, "by_itself": False}, now_ns=now_ns)
    return [status for status in rollout_status(conn, version=version) if status["id"] in {r.id for r in running}]


def rollout_status(conn: Connection, *, version: str | None = None, rollout_id: int | None = None,
                   caller: Caller | None = None) -> list[dict]:
    """The rollouts (of ``version``; one; those the caller's scope sees), the newest first, with their counts:
    ``terminals`` under the node (not revoked), ``updated`` (running the release), ``failed`` (reported it
    rolled back or failed), ``updating`` (downloading, ready or in trial with it), and the same for the first wave."""
    query = select(rollouts)
    if version is not None:
        query = query.where(rollouts.c.version == version)
    if rollout_id is not None:
        query = query.where(rollouts.c.id == rollout_id)
    rows = conn.execute(query.order_by(rollouts.c.id.desc())).all()
    scope = None if caller is None or caller.whole_server else caller.scope_node_id
    if scope is not None:
        above = set(org_tree.lineage_nodes(conn, scope))  # the scope and its ancestors: rollouts that cover it
        rows = [row for row in rows if row.node_id is None or row.node_id in above
                or node_in_scope(conn, caller, row.node_id)]
    tree = org_tree.all_nodes(conn) if rows else {}
    return [_status(conn, row, tree, scope) for row in rows]


def _counts(conn: Connection, query, version: str) -> dict:
    sub = query.add_columns(terminals.c.app_version, terminals.c.update_state, terminals.c.update_version,
                            terminals.c.update_failed_version).subquery()
    on_version = sub.c.app_version == version
    row = conn.execute(select(
        func.count(),
        func.count().filter(on_version),
        func.count().filter(sub.c.update_failed_version == version),
        func.count().filter(and_(sub.c.update_version == version,
                                 sub.c.update_state.in_(("downloading", "ready", "trial")),
                                 or_(sub.c.app_version.is_(None), sub.c.app_version != version))),
    ).select_from(sub)).one()
    return {"terminals": int(row[0]), "updated": int(row[1]), "failed": int(row[2]), "updating": int(row[3])}


def _status(conn: Connection, row, tree: dict, scope: int | None = None) -> dict:
    # A scoped reader counts only the terminals of its part of the tree (a rollout to the fleet or to a node above
    # its scope must not tell it how many terminals other units have).
    counted = scope if scope is not None and (row.node_id is None or row.node_id in org_tree.lineage_nodes(
        conn, scope)) else row.node_id
    everyone = _counts(conn, _live_under(conn, counted), row.version)
    wave = _counts(conn, terminals_within(select(terminals.c.id), conn, counted)
                   .join(rollout_first_wave, rollout_first_wave.c.terminal_id == terminals.c.id)
                   .where(rollout_first_wave.c.rollout_id == row.id, terminals.c.revoked_at.is_(None)), row.version)
    return {"id": row.id, "version": row.version, "node_id": row.node_id,
            "target": org_tree.path_words(tree, row.node_id) if row.node_id is not None else "the whole fleet",
            "wave_pct": row.wave_pct, "state": row.state, "started_by": row.started_by, "started_at": row.started_at,
            "all_at": row.all_at, "ended_at": row.ended_at, "stopped_by": row.stopped_by,
            "stopped_reason": row.stopped_reason, "first_wave": wave, **everyone}

"""What a caller's scope lets it see of things that are not rows of the tree themselves: alerts and reports.

Ratings and terminals carry their lineage (``unit_id`` …), so :func:`server.access.rating_scope` filters
them directly. Alerts name their subject by text — a ``dissatisfied_share`` alert the unit's name (as
ratings store it in ``site``), a ``terminal_silent`` alert the terminal's id — so they are resolved to nodes
here. Reports are counted by :mod:`reports` from SQL text; :func:`scoped_source` adds the scope to it.

For example::

    with engine.connect() as conn:
        active, recent = list_alerts(conn, now_ns=now, where=alert_scope(conn, caller))
        report = build_report(scoped_source(conn, caller), period)
"""

from __future__ import annotations

from sqlalchemy import Connection, ColumnElement, and_, false, or_, select

from reports import sqlalchemy_source
from reports.sources import SqlAlchemySource

from . import org_tree
from .access import Caller, may, scope_nodes, terminal_scope
from .alerts import DISSATISFIED_SHARE, TERMINAL_SILENT, Alert
from .schema import alerts, legacy_places, nodes, terminals

#: What a role needs to see an alert of each rule: a unit's dissatisfied share is about its ratings
#: (so technicians do not see it), a silent terminal about the fleet (so viewers do not).
ALERT_ACTIONS = {DISSATISFIED_SHARE: "read_reports", TERMINAL_SILENT: "read_fleet"}


def scope_unit_names(conn: Connection, caller: Caller) -> set[str] | None:
    """The names a ``dissatisfied_share`` alert may carry for the units inside the scope (None: any).

    A unit's alert belongs to an account whose scope is the unit or above it: an office's or a
    counter's account does not see the whole unit's alert. A site of before the tree counts by the
    names it had (``legacy_places``) as well as its node's name now.
    """
    seen = scope_nodes(conn, caller)
    if seen is None:
        return None
    units = select(nodes.c.id).where(nodes.c.kind == "unit", nodes.c.id.in_(seen))
    names = set(conn.execute(select(nodes.c.name).where(nodes.c.id.in_(units))).scalars())
    tree = org_tree.all_nodes(conn)
    for site, node_id in conn.execute(select(legacy_places.c.site, legacy_places.c.node_id)):
        unit = org_tree.lineage(conn, node_id, tree=tree).get("unit") if node_id in tree else None
        if unit in seen:
            names.add(site)
    return names


def alert_scope(conn: Connection, caller: Caller) -> ColumnElement[bool]:
    """The ``alerts`` rows ``caller`` may see, as a WHERE condition: rules its role reads, subjects in its scope."""
    rules = [rule for rule, action in ALERT_ACTIONS.items() if may(caller, action)]
    if not rules:
        return false()
    if caller.whole_server:
        return alerts.c.rule.in_(rules)
    parts = []
    if DISSATISFIED_SHARE in rules:
        parts.append(and_(alerts.c.rule == DISSATISFIED_SHARE,
                          alerts.c.subject.in_(sorted(scope_unit_names(conn, caller) or ()))))
    if TERMINAL_SILENT in rules:
        parts.append(and_(alerts.c.rule == TERMINAL_SILENT,
                          alerts.c.subject.in_(select(terminals.c.id).where(terminal_scope(caller, conn)))))
    return or_(*parts)


def visible_alerts(conn: Connection, caller: Caller, found: list[Alert]) -> list[Alert]:
    """The alerts of ``found`` that ``caller`` may see (for changes just made, not yet read back)."""
    ids = {alert.id for alert in found}
    if not ids:
        return []
    seen = set(conn.execute(select(alerts.c.id).where(alerts.c.id.in_(ids), alert_scope(conn, caller))).scalars())
    return [alert for alert in found if alert.id in seen]


def scoped_source(conn: Connection, caller: Caller) -> SqlAlchemySource:
    """The server's ratings as a report source, only those inside ``caller``'s scope: every query the report
    runs (over the ratings, the hourly tallies or the rollups) carries ``AND unit_id = 4`` for a unit's
    account, and a scope whose node is gone sees nothing."""
    if caller.whole_server:
        return sqlalchemy_source(conn)
    try:
        scope = org_tree.node(conn, caller.scope_node_id)
    except org_tree.UnknownNode:
        return SqlAlchemySource(conn, scope=False)
    return SqlAlchemySource(conn, scope=(org_tree.SCOPE_COLUMN[scope.kind], scope.id))


def scope_sites(conn: Connection, caller: Caller) -> list[str]:
    """The unit names (``terminals.site``) of the terminals inside the scope: the overview's choice of site."""
    return list(conn.execute(select(terminals.c.site).distinct().where(terminal_scope(caller, conn))
                             .order_by(terminals.c.site)).scalars())


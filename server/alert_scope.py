"""Which alerts an account sees: those of the nodes inside its scope, by the same lineage as its ratings.

- ``dissatisfied_share``: the alert row keeps the unit and the province of the ratings that fired it
  (``alerts.unit_id``, ``alerts.province_id``), so an account scoped to a province sees its units'
  alerts and one scoped to a unit sees that unit's, exactly as ``rating_scope`` lets them read those
  ratings. An office's or a counter's account does not see the whole unit's share. An alert of a site's
  name (ratings that have no unit) has no lineage: like those ratings, only whole-server accounts see it.
- ``terminal_silent``: the accounts whose scope holds the terminal now (``terminal_scope``).
- ``rollout_stopped`` (issue 13): a rollout that stopped by itself; the whole-server accounts that see the fleet.

And only to roles that read what the rule is about (:data:`ALERT_ACTIONS`). For example::

    with engine.connect() as conn:
        active, recent = list_alerts(conn, now_ns=now, where=alert_scope(conn, caller))
"""

from __future__ import annotations

from sqlalchemy import Connection, ColumnElement, and_, false, or_, select

from . import org_tree
from .access import Caller, may, terminal_scope
from .alerts import DISSATISFIED_SHARE, ROLLOUT_STOPPED, TERMINAL_SILENT, Alert
from .schema import alerts, terminals

#: What a role needs to see an alert of each rule: a unit's dissatisfied share is about its ratings
#: (so technicians do not see it), a silent terminal about the fleet (so viewers do not).
ALERT_ACTIONS = {DISSATISFIED_SHARE: "read_reports", TERMINAL_SILENT: "read_fleet", ROLLOUT_STOPPED: "read_fleet"}

#: The column of ``alerts`` that holds a scope's node, for the kinds of node a unit's alert lies under.
_LINEAGE_COLUMN = {"province": alerts.c.province_id, "unit": alerts.c.unit_id}


def alert_scope(conn: Connection, caller: Caller) -> ColumnElement[bool]:
    """The ``alerts`` rows ``caller`` may see, as a WHERE condition: rules its role reads, nodes in its scope."""
    rules = [rule for rule, action in ALERT_ACTIONS.items() if may(caller, action)]
    if not rules:
        return false()
    if caller.whole_server:
        return alerts.c.rule.in_(rules)
    try:
        scope = org_tree.node(conn, caller.scope_node_id)
    except org_tree.UnknownNode:
        return false()  # its node is gone: it sees nothing rather than everything
    parts = []
    if DISSATISFIED_SHARE in rules and scope.kind in _LINEAGE_COLUMN:
        parts.append(and_(alerts.c.rule == DISSATISFIED_SHARE, _LINEAGE_COLUMN[scope.kind] == scope.id))
    if TERMINAL_SILENT in rules:
        parts.append(and_(alerts.c.rule == TERMINAL_SILENT,
                          alerts.c.subject.in_(select(terminals.c.id).where(terminal_scope(caller, conn)))))
    return or_(*parts) if parts else false()


def visible_alerts(conn: Connection, caller: Caller, found: list[Alert]) -> list[Alert]:
    """The alerts of ``found`` that ``caller`` may see (for changes just made, not yet read back)."""
    ids = {alert.id for alert in found}
    if not ids:
        return []
    seen = set(conn.execute(select(alerts.c.id).where(alerts.c.id.in_(ids), alert_scope(conn, caller))).scalars())
    return [alert for alert in found if alert.id in seen]

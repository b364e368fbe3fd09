"""What a caller's scope lets it see of reports: :func:`scoped_source` gives the report queries the scope's
condition (``AND unit_id = 4`` for a unit's account), over the ratings, the hourly tallies and the rollups
alike. Ratings and terminals carry their lineage, so :func:`server.access.rating_scope` filters them
directly; alerts keep theirs too (:mod:`server.alert_scope`).

For example::

    with engine.connect() as conn:
        report = build_report(scoped_source(conn, caller), period)
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from reports import sqlalchemy_source
from reports.sources import SqlAlchemySource

from . import org_tree
from .access import Caller, terminal_scope
from .schema import terminals


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


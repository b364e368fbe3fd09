"""Who is asking: the :class:`Caller` behind an API token or a dashboard session, and the roles.

Every authenticated request resolves to one Caller, whichever way it came in
(``Depends(api_caller)`` in :mod:`server.dependencies`, the dashboard's
session in :mod:`server.dashboard.session`); what a role may do and which rows
its scope covers is decided from it.

    >>> Caller(1, "nguyen.an", "Nguyễn An", "province_admin", None).whole_server
    True
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, ColumnElement, Table, false, select, true

from . import org_tree
from .errors import ApiError
from .schema import nodes, ratings, terminals

#: The roles, most powerful first (their meaning: README, "Accounts").
ROLES = ("province_admin", "unit_admin", "viewer", "technician", "inspector")

ROLE_LABELS_VI = {
    "province_admin": "Quản trị tỉnh",
    "unit_admin": "Quản trị đơn vị",
    "viewer": "Xem báo cáo",
    "technician": "Kỹ thuật viên",
    "inspector": "Thanh tra",
}


@dataclass(frozen=True)
class Caller:
    """An authenticated account: its id, user name, name to show, role and scope (a node id; None: the whole server);
    ``sees_officers``: a viewer that may see officers' names and results (a flag on its account)."""

    account_id: int
    username: str
    display_name: str
    role: str
    scope_node_id: int | None
    sees_officers: bool = False

    @property
    def whole_server(self) -> bool:
        return self.scope_node_id is None


# -- what each role may do ------------------------------------------------------------------------------
#
# The one table of permissions: routes and pages ask :func:`may` / :func:`require` with one of these
# actions, never a role by name, so a role's reach is read (and tested: tests/test_scope_matrix.py) here.

#: Every action a role may be given: its name → (English, Vietnamese) words for "may not …" messages.
ACTIONS = {
    "read_ratings": ("pull ratings", "tải dữ liệu đánh giá"),
    "read_reports": ("read reports", "xem báo cáo"),
    "export": ("export reports", "xuất báo cáo"),
    "read_fleet": ("see the terminals", "xem danh sách thiết bị"),
    "read_alerts": ("see alerts", "xem cảnh báo"),
    "check_alerts": ("check the alert rules", "kiểm tra cảnh báo"),
    "enrol": ("enrol terminals", "cấp mã đăng ký thiết bị"),
    "move_terminal": ("move terminals", "chuyển thiết bị"),
    "revoke_terminal": ("revoke terminals", "thu hồi thiết bị"),
    "read_tree": ("see the organisation tree", "xem cây tổ chức"),
    "import_tree": ("import the organisation tree", "nhập cây tổ chức"),
    "read_accounts": ("see accounts", "xem tài khoản"),
    "manage_accounts": ("manage accounts", "quản lý tài khoản"),
    "read_audit": ("read the audit trail", "xem nhật ký"),
    "change_settings": ("change the server's settings", "thay đổi cài đặt máy chủ"),
    # Issue 12: officers' names (the registry, pulls, by-officer results) and dossier codes (pulls).
    "read_officers": ("see officers", "xem cán bộ và kết quả theo cán bộ"),
    "manage_officers": ("manage officers", "quản lý cán bộ"),
    "read_dossiers": ("see dossier codes", "xem mã hồ sơ"),
    # Issue 13: the terminals' remote settings (seeing them is read_fleet's).
    "manage_settings": ("change the terminals' settings", "thay đổi cài đặt thiết bị"),
    # Issue 13: upload signed releases (whole server only, see server/routes/releases.py), roll them out within
    # the scope, stop them, see their progress.
    "manage_releases": ("manage software releases", "quản lý phiên bản phần mềm"),
}

#: Actions that change something: an inspector (read-only everywhere) has none of them.
WRITES = frozenset({"check_alerts", "enrol", "move_terminal", "revoke_terminal", "import_tree",
                    "manage_accounts", "change_settings", "manage_officers", "manage_settings",
                    "manage_releases"})

#: Actions about the whole server, not a part of the tree: only for an account whose scope is the whole
#: server (scope NULL). The alert webhook is one such setting: one URL for the server, receiving the
#: alerts of every node, so only a whole-server province admin may set it.
SERVER_WIDE = frozenset({"import_tree", "change_settings"})

#: Reading ratings in any form: pulls, reports, exports. Technicians have none of them.
RATING_ACTIONS = frozenset({"read_ratings", "read_reports", "export"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "province_admin": frozenset(ACTIONS),
    "unit_admin": frozenset({"read_ratings", "read_reports", "export", "read_fleet", "read_alerts",
                             "check_alerts", "enrol", "move_terminal", "revoke_terminal", "read_tree",
                             "read_accounts", "manage_accounts", "read_officers", "manage_officers",
                             "read_dossiers", "manage_settings", "manage_releases"}),
    "viewer": frozenset({"read_ratings", "read_reports", "export", "read_alerts", "read_tree"}),
    "technician": frozenset({"read_fleet", "read_alerts", "enrol", "move_terminal", "revoke_terminal",
                             "read_tree"}),
    "inspector": frozenset(ACTIONS) - WRITES,
}

#: What an account's ``sees_officers`` flag adds to a viewer (issue 12: "Viewer: reports without the officer
#: section unless the account has sees_officers"). Dossier codes a viewer never sees.
SEES_OFFICERS_GIVES = {"viewer": frozenset({"read_officers"})}


class Forbidden(ApiError, PermissionError):
    """The caller is known but may not do this: 403, in English for the API and Vietnamese for pages."""

    def __init__(self, message: str, message_vi: str):
        super().__init__(403, message)
        self.message_vi = message_vi


def may(caller: Caller, action: str) -> bool:
    """Whether ``caller``'s role allows ``action`` (one of :data:`ACTIONS`); which rows, its scope says.

    >>> may(Caller(2, "ky.thuat", "Kỹ thuật", "technician", 7), "read_ratings")
    False
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if action in SERVER_WIDE and not caller.whole_server:
        return False
    if getattr(caller, "sees_officers", False) and action in SEES_OFFICERS_GIVES.get(caller.role, ()):
        return True
    return action in PERMISSIONS.get(caller.role, frozenset())


def require(caller: Caller, action: str) -> None:
    """Nothing if ``caller`` may do ``action``, else :class:`Forbidden` (403) saying who may not do what."""
    if may(caller, action):
        return
    english, vietnamese = ACTIONS[action]
    label = ROLE_LABELS_VI.get(caller.role, caller.role)
    wide = " với phạm vi toàn máy chủ" if action in SERVER_WIDE and caller.role == "province_admin" else ""
    raise Forbidden(f"the account {caller.username!r} (role {caller.role}) may not {english}"
                    + (" (it needs the whole server as its scope)" if wide else ""),
                    f"Tài khoản {caller.username} (vai trò {label}) không được {vietnamese}{wide}.")


def may_read_audit(caller: Caller) -> bool:
    """Province admins and inspectors read the audit trail (the one place that says so)."""
    return may(caller, "read_audit")


# -- which rows its scope covers --------------------------------------------------------------------------
#
# A scope is a node: the caller sees that node's subtree, and nothing else. An object outside it answers
# 404 exactly like one that does not exist, so a scoped account cannot learn what other units hold.

def scope_nodes(conn: Connection, caller: Caller) -> set[int] | None:
    """The ids of the nodes ``caller`` sees (its scope and everything below: only they are read), or None for
    everything."""
    if caller.whole_server:
        return None
    return org_tree.subtree_ids(conn, caller.scope_node_id)


def scope_condition(conn: Connection, caller: Caller, table: Table) -> ColumnElement[bool]:
    """The rows of ``table`` (``ratings``, ``rating_tallies`` or ``terminals``: they carry the lineage
    columns) inside ``caller``'s scope, as a WHERE condition: ``unit_id = 4`` for a unit's account."""
    if caller.whole_server:
        return true()
    try:
        scope = org_tree.node(conn, caller.scope_node_id)
    except org_tree.UnknownNode:
        return false()  # its node is gone: it sees nothing rather than everything
    return table.c[org_tree.SCOPE_COLUMN[scope.kind]] == scope.id


def rating_scope(caller: Caller, conn: Connection, table: Table = ratings) -> ColumnElement[bool]:
    """The ratings (or ``rating_tallies`` rows) ``caller`` may read, as a WHERE condition."""
    return scope_condition(conn, caller, table)


def terminal_scope(caller: Caller, conn: Connection) -> ColumnElement[bool]:
    """The terminals standing inside ``caller``'s scope now, as a WHERE condition on ``terminals``."""
    return scope_condition(conn, caller, terminals)


def terminal_in_scope(conn: Connection, caller: Caller, terminal_id: str) -> bool:
    """Whether the terminal exists and stands inside ``caller``'s scope (else the route answers 404)."""
    found = conn.execute(select(terminals.c.id).where(terminals.c.id == terminal_id,
                                                      terminal_scope(caller, conn))).first()
    return found is not None


def node_in_scope(conn: Connection, caller: Caller, node_id: int) -> bool:
    """Whether the node is ``caller``'s scope or below it (else the route answers 404): its lineage (at most four
    nodes, one query) holds the scope's node."""
    if caller.whole_server:
        return conn.execute(select(nodes.c.id).where(nodes.c.id == node_id)).first() is not None
    return caller.scope_node_id in org_tree.lineage_nodes(conn, node_id)

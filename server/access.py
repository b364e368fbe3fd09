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
    """An authenticated account: its id, user name, name to show, role and scope (a node id; None: the whole server)."""

    account_id: int
    username: str
    display_name: str
    role: str
    scope_node_id: int | None

    @property
    def whole_server(self) -> bool:
        return self.scope_node_id is None

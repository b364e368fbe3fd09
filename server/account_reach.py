"""Whose accounts an administrator may see and change, and which role and scope it may give (issue 11 §2).

An administrator's reach is its own role at its own scope, and never more:

- it sees the accounts whose scope lies inside its scope (its node or below; a whole-server account sees
  them all); any other account answers :class:`~server.people.UnknownAccount` (404), like one that does
  not exist;
- it gives a role at a scope only when the scope lies inside its own (only a whole-server account gives
  the whole server) and everything that role may do there, it may do itself: a unit admin gives
  ``unit_admin``, ``viewer`` and ``technician`` inside its subtree, never ``province_admin`` nor
  ``inspector`` (both read the audit trail, which a unit admin does not); a whole-server province admin
  gives everything, as before;
- it changes, resets, disables and enables only an account it could have made (same rule on the account's
  role and scope as they are); an account of its subtree above its reach is :class:`AboveReach` (403), whose
  message says why;
- never its own account (that is "Tài khoản của tôi"), checked by the pages.

    >>> unit_admin = Caller(7, "le.thi.ha", "Lê Thị Hà", "unit_admin", 4)
    >>> beyond(unit_admin, "inspector", 4)
    ['xem nhật ký']
    >>> beyond(unit_admin, "technician", 9)
    []
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from .access import ACTIONS, ROLE_LABELS_VI, ROLES, Caller, may, node_in_scope, require
from .fleet_actions import paths_of
from .org_tree import UnknownNode, find_node, node_count
from .people import Account, AccountRefused, UnknownAccount, find_account, list_accounts
from .schema import nodes

#: Up to this many nodes in the administrator's part of the tree, the scope picker is a list of them; above
#: it (a national tree has 18,626), a text field for a node's code or ``#id``, checked by the server.
MAX_SCOPE_CHOICES = 300

WHOLE_SERVER = "Toàn bộ máy chủ"


class AboveReach(AccountRefused, PermissionError):
    """An account, a role or a scope above what the administrator itself may reach (403); the message says why."""

    status = 403


def beyond(caller: Caller, role: str, scope_node_id: int | None) -> list[str]:
    """What ``role`` at ``scope_node_id`` may do that ``caller`` may not (Vietnamese words; empty: nothing)."""
    given = Caller(0, "", "", role, scope_node_id)
    return [ACTIONS[action][1] for action in ACTIONS if may(given, action) and not may(caller, action)]


def accounts_changed_by(caller: Caller, listed: list[Account], inside: set[int] | None) -> set[int]:
    """The ids of the ``listed`` accounts ``caller`` may change (its own is not one of them); ``inside``: the
    nodes of its scope (:func:`server.access.scope_nodes`), read once for the whole list."""
    if not may(caller, "manage_accounts"):
        return set()
    return {one.id for one in listed if one.id != caller.account_id and not beyond(caller, one.role, one.scope_node_id)
            and (caller.whole_server if one.scope_node_id is None else inside is None or one.scope_node_id in inside)}


def roles_given(caller: Caller) -> tuple[str, ...]:
    """The roles ``caller`` may give somewhere in its scope (the choices of the pages' role pickers)."""
    if not may(caller, "manage_accounts"):
        return ()
    return tuple(role for role in ROLES if not beyond(caller, role, caller.scope_node_id))


def check_role_and_scope(conn: Connection, caller: Caller, role: str, scope_node_id: int | None) -> None:
    """Nothing if ``caller`` may give ``role`` at ``scope_node_id``; else why not (:class:`AboveReach`, or
    :class:`AccountRefused` for an unknown role)."""
    if role not in ROLES:
        raise AccountRefused(f"Vai trò không hợp lệ: {role!r} (một trong {', '.join(ROLES)}).", field="role")
    if scope_node_id is None and not caller.whole_server:
        raise AboveReach("Phạm vi “toàn bộ máy chủ” rộng hơn phạm vi của bạn: hãy chọn một nút trong phạm vi "
                         "của bạn.", field="scope")
    if scope_node_id is not None and not node_in_scope(conn, caller, scope_node_id):
        raise AccountRefused(f"Không có nút nào mang mã số {scope_node_id} trong phạm vi của bạn.", field="scope")
    if more := beyond(caller, role, scope_node_id):
        raise AboveReach(f"Bạn không thể cấp vai trò {ROLE_LABELS_VI[role]}: vai trò này được "
                         f"{', '.join(more)}, việc mà tài khoản {caller.username} "
                         f"(vai trò {ROLE_LABELS_VI.get(caller.role, caller.role)}) không được làm.", field="role")


def scope_from_form(conn: Connection, caller: Caller, value: str) -> int | None:
    """The node id a scope field names (its code, ``#id`` or id; empty: the whole server). A node outside
    ``caller``'s scope is refused like one that does not exist."""
    value = value.strip()
    if not value:
        return None
    try:
        found = find_node(conn, value)
    except UnknownNode:
        found = None
    if found is None or not node_in_scope(conn, caller, found.id):
        where = "trong cây tổ chức" if caller.whole_server else "trong phạm vi của bạn"
        raise AccountRefused(f"Không có nút “{value}” {where} (nhập mã của nút hoặc #số).", field="scope")
    return found.id


def accounts_seen(conn: Connection, caller: Caller, inside: set[int] | None) -> list[Account]:
    """The accounts ``caller`` may see (``read_accounts``): those whose scope lies inside its own (``inside``,
    :func:`server.access.scope_nodes`), by user name."""
    require(caller, "read_accounts")
    return [one for one in list_accounts(conn)
            if inside is None or (one.scope_node_id is not None and one.scope_node_id in inside)]


def managed_account(conn: Connection, caller: Caller, account_id: int) -> Account:
    """The account ``caller`` is about to change: :class:`UnknownAccount` (404) when there is none or it lies
    outside ``caller``'s scope, :class:`AboveReach` (403) when its role and scope are more than ``caller``'s."""
    require(caller, "manage_accounts")
    found = find_account(conn, account_id=account_id)
    outside = found is not None and not caller.whole_server and (
        found.scope_node_id is None or not node_in_scope(conn, caller, found.scope_node_id))
    if found is None or outside:
        raise UnknownAccount(f"Không có tài khoản mang mã số {account_id}.")
    if more := beyond(caller, found.role, found.scope_node_id):
        raise AboveReach(f"Tài khoản {found.username} có vai trò {ROLE_LABELS_VI.get(found.role, found.role)}, "
                         f"được {', '.join(more)}, việc mà bạn không được làm: chỉ người có quyền đó mới thay đổi "
                         "được tài khoản này.")
    return found


def scope_words(conn: Connection, node_ids: set[int | None]) -> dict[int | None, tuple[str, str]]:
    """``{node id: (what a scope field holds for it, its path)}``: the code or ``#id``; None is the whole server."""
    wanted = {node_id for node_id in node_ids if node_id is not None}
    paths = paths_of(conn, wanted)
    codes = dict(conn.execute(select(nodes.c.id, nodes.c.code).where(nodes.c.id.in_(list(wanted)))).all()) \
        if wanted else {}
    found: dict[int | None, tuple[str, str]] = {None: ("", WHOLE_SERVER)}
    found.update({node_id: (codes.get(node_id) or f"#{node_id}", paths.get(node_id, f"#{node_id}"))
                  for node_id in wanted})
    return found


def scope_choices(conn: Connection, caller: Caller, inside: set[int] | None) -> list[tuple[str, str]] | None:
    """(field value, path) of every scope ``caller`` may give (``inside``: its scope's nodes), when there are at
    most :data:`MAX_SCOPE_CHOICES`; None for more (the page asks for a code instead)."""
    if (node_count(conn) if inside is None else len(inside)) > MAX_SCOPE_CHOICES:
        return None
    if inside is None:
        inside = set(conn.execute(select(nodes.c.id)).scalars())
    words = scope_words(conn, set(inside))
    if not caller.whole_server:
        del words[None]
    return sorted(words.values(), key=lambda pair: (pair[0] != "", pair[1]))

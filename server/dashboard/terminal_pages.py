"""One terminal of the fleet page, and what can be done to it: stand it at another counter, revoke it.

Both are forms (POST with the session's CSRF token) that go through :mod:`server.fleet_actions`, as the admin
API does; revoking needs its confirmation box ticked.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from ..errors import UnknownTerminal
from ..access import Forbidden, terminal_in_scope
from ..dependencies import client_address
from ..fleet_actions import move, paths_of, place_count, places, revoke
from ..org_tree import TreeError, UnknownNode
from ..schema import terminals
from ..terminal_settings import add_settings_columns
from .pages import local_time, page, require_on_page
from .session import DashboardUser, check_csrf, dashboard_user

router = APIRouter(include_in_schema=False)

#: Above this many counters, the move form offers those of the terminal's own unit (and a code field for others).
MAX_COUNTER_CHOICES = 1000


def _terminal(request: Request, admin: DashboardUser, terminal_id: str) -> dict | None:
    """The terminal's row, where it stands and the counters it may move to; None if there is no such terminal
    in the user's scope."""
    if len(terminal_id) > 64 or not terminal_id.isprintable():
        return None
    with request.app.state.engine.connect() as conn:
        if not terminal_in_scope(conn, admin.caller, terminal_id):
            return None
        found = conn.execute(select(terminals).where(terminals.c.id == terminal_id)).first()
        if found is None:
            return None
        row = add_settings_columns(conn, [dict(found._mapping)])[0]  # wanted / applied / refused (issue 13)
        row["path"] = paths_of(conn, {row["node_id"]}).get(row["node_id"], "") if row["node_id"] else ""
        scope = admin.caller.scope_node_id
        # Counted first: a national tree's 15,000 counters are not read to be thrown away.
        if place_count(conn, within=scope) > MAX_COUNTER_CHOICES and row["unit_id"] is not None:
            choices = places(conn, within=row["unit_id"])
        else:
            choices = places(conn, within=scope)
    row["choices"] = choices
    return row


def _terminal_page(request: Request, admin: DashboardUser, terminal_id: str, *, status: int = 200,
                   error: str | None = None, done: str | None = None) -> Response:
    require_on_page(admin, "read_fleet")
    found = _terminal(request, admin, terminal_id)
    if found is None:
        return page(request, "terminal.html", status=404, admin=admin, t=None, error=None, done=None,
                    missing=terminal_id)
    return page(request, "terminal.html", status=status, admin=admin, t=found, error=error, done=done,
                last_seen=local_time(request, found["last_seen_at"]), revoked=local_time(request, found["revoked_at"]))


@router.get("/fleet/terminal/{terminal_id}", response_class=HTMLResponse)
def terminal_page(request: Request, terminal_id: str, done: str | None = None,
                  admin: DashboardUser = Depends(dashboard_user)) -> Response:
    return _terminal_page(request, admin, terminal_id, done=done)


@router.post("/fleet/terminal/{terminal_id}/move", response_class=HTMLResponse)
async def terminal_move(request: Request, terminal_id: str, node: str = Form(""), csrf: str = Form(""),
                        admin: DashboardUser = Depends(dashboard_user)) -> Response:
    check_csrf(admin.csrf, csrf)
    require_on_page(admin, "move_terminal")
    if not node.strip():
        return _terminal_page(request, admin, terminal_id, status=422, error="Hãy chọn quầy mới.")
    try:
        await run_in_threadpool(move, request.app.state.engine, terminal_id, node, caller=admin.caller,
                                now_ns=request.app.state.clock(), address=client_address(request))
    except UnknownTerminal:
        return _terminal_page(request, admin, terminal_id)
    except UnknownNode:
        return _terminal_page(request, admin, terminal_id, status=422,
                              error=f"Không có nút nào có mã “{node}” trong phạm vi của bạn.")
    except TreeError:
        return _terminal_page(request, admin, terminal_id, status=422,
                              error="Thiết bị chỉ đặt ở một quầy (hoặc một bộ phận Một cửa); hãy chọn một quầy.")
    except Forbidden as exc:
        return _terminal_page(request, admin, terminal_id, status=403, error=exc.message_vi)
    return RedirectResponse(f"/fleet/terminal/{quote(terminal_id, safe='')}?done=moved", status_code=303)


@router.post("/fleet/terminal/{terminal_id}/revoke", response_class=HTMLResponse)
async def terminal_revoke(request: Request, terminal_id: str, confirm: str = Form(""), csrf: str = Form(""),
                          admin: DashboardUser = Depends(dashboard_user)) -> Response:
    check_csrf(admin.csrf, csrf)
    require_on_page(admin, "revoke_terminal")
    if confirm != "yes":
        return _terminal_page(request, admin, terminal_id, status=422,
                              error="Hãy đánh dấu ô xác nhận trước khi thu hồi.")
    try:
        await run_in_threadpool(revoke, request.app.state.engine, terminal_id, caller=admin.caller,
                                now_ns=request.app.state.clock(), address=client_address(request))
    except UnknownTerminal:
        return _terminal_page(request, admin, terminal_id)
    except Forbidden as exc:
        return _terminal_page(request, admin, terminal_id, status=403, error=exc.message_vi)
    return RedirectResponse(f"/fleet/terminal/{quote(terminal_id, safe='')}?done=revoked", status_code=303)

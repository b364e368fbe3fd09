"""The dashboard's "Cài đặt thiết bị" page (``/settings``): the terminals' remote settings of the fleet, a node or a
terminal, their history, and roll back.

Whoever sees the fleet (``read_fleet``) reads a scope's own settings, the effective set its terminals get (with
where each value comes from), which of its terminals run it and which refused it, and the history of the scope.
Province and unit admins (``manage_settings``) set a key, remove one, and roll back to an earlier change, on their
node and below (the whole fleet only with the whole server as their scope); every change is in the audit trail
(server/settings_actions.py).
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, select

from kiosk.remote_settings import REMOTE_KEYS
from sync.plain_text import one_line

from ..accounts import list_terminals
from ..db import write_transaction
from ..dependencies import client_address
from ..org_tree import lineage_nodes, path_words
from ..schema import terminals
from ..settings_actions import check_manages, check_sees, may_manage, roll_back, set_settings, visible_history
from ..terminal_settings import (FLEET, Scope, SettingsRefused, add_settings_columns, node_effective, resolve_scope,
                                 scope_values, settings_version, terminal_effective)
from .pages import local_time, page, require_on_page
from .session import DashboardUser, check_csrf, dashboard_user

log = logging.getLogger("hailong.server.dashboard")

router = APIRouter(include_in_schema=False)

#: Terminals listed under a node's settings (the fleet page pages through the rest).
MAX_TERMINALS_SHOWN = 200
DONE = {"set": "Đã lưu cài đặt. Thiết bị nhận được ở lần gửi dữ liệu kế tiếp.", "unset": "Đã bỏ cài đặt.",
        "rollback": "Đã khôi phục cài đặt cũ (một thay đổi mới trong lịch sử)."}


def settings_reader(user: DashboardUser = Depends(dashboard_user)) -> DashboardUser:
    require_on_page(user, "read_fleet")
    return user


def settings_admin(user: DashboardUser = Depends(dashboard_user)) -> DashboardUser:
    require_on_page(user, "manage_settings")
    return user


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _scope_words(conn: Connection, scope: Scope) -> str:
    if scope.kind == FLEET:
        return "Toàn bộ thiết bị"
    if scope.terminal_id is not None:
        return f"Thiết bị {scope.terminal_id}"
    return path_words(lineage_nodes(conn, scope.node_id), scope.node_id)


def _href(scope: Scope, **more) -> str:
    query = {"node": f"#{scope.node_id}"} if scope.node_id is not None else (
        {"terminal": scope.terminal_id} if scope.terminal_id is not None else {})
    query.update(more)
    return "/settings" + (f"?{urlencode(query)}" if query else "")


def _terminals_of(conn: Connection, scope: Scope, user: DashboardUser) -> list[dict]:
    """The terminals the scope's settings reach (those the reader sees), with wanted, applied and refused."""
    if scope.terminal_id is not None:
        node_id = conn.execute(select(terminals.c.node_id).where(terminals.c.id == scope.terminal_id)).scalar()
        rows = [row for row in list_terminals(conn, within=node_id) if row["id"] == scope.terminal_id]
    else:
        within = scope.node_id if scope.node_id is not None else user.caller.scope_node_id
        rows = list_terminals(conn, within=within, limit=MAX_TERMINALS_SHOWN)
    return add_settings_columns(conn, rows)


def _settings_page(request: Request, user: DashboardUser, *, node: str | None = None, terminal: str | None = None,
                   status: int = 200, error: str | None = None, form: dict | None = None) -> HTMLResponse:
    with request.app.state.engine.connect() as conn:
        try:
            scope = resolve_scope(conn, node=_blank(node), terminal=_blank(terminal))
            if scope.kind == FLEET and not user.caller.whole_server:  # its own node: the widest it may change
                scope = Scope(node_id=user.caller.scope_node_id)
            check_sees(conn, user.caller, scope)
        except SettingsRefused as exc:
            scope, status, error = Scope(), exc.status, f"Không tìm thấy trong phạm vi của bạn: {exc}"
            if not user.caller.whole_server:
                scope = Scope(node_id=user.caller.scope_node_id)
        own = scope_values(conn, scope)
        effective = terminal_effective(conn, scope.terminal_id) if scope.terminal_id is not None else \
            node_effective(conn, scope.node_id)
        changes = visible_history(conn, user.caller, scope, limit=50)
        listed = _terminals_of(conn, scope, user)
        words = _scope_words(conn, scope)
    up_to_date = sum(1 for row in listed if row["settings_wanted"] and row["settings_wanted"] == row["settings_applied"])
    refused = sum(1 for row in listed if row["settings_error"])
    done = DONE.get(request.query_params.get("done", ""))
    return page(request, "settings.html", status=status, admin=user, scope=scope, scope_words=words,
                own=sorted(own.items()), own_version=settings_version(own), effective=effective,
                changes=changes, terminals=listed, up_to_date=up_to_date, refused=refused,
                keys=sorted(REMOTE_KEYS), may_manage=may_manage(user.caller), error=error, done=done,
                form=form or {}, href=_href, shown_value=lambda value: json.dumps(value, ensure_ascii=False),
                when=lambda iso: local_time(request, iso), node_ref=f"#{scope.node_id}" if scope.node_id else "",
                terminal_ref=scope.terminal_id or "")


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, node: str | None = None, terminal: str | None = None,
                  user: DashboardUser = Depends(settings_reader)) -> HTMLResponse:
    return _settings_page(request, user, node=node, terminal=terminal)


async def _write(request: Request, change):
    def run():
        with request.app.state.engine.connect() as conn, write_transaction(conn):
            return change(conn)
    done = await run_in_threadpool(run)
    request.app.state.wanted_settings.changed()
    return done


@router.post("/settings/change", response_class=HTMLResponse)
async def change_form(request: Request, csrf: str = Form(""), node: str = Form(""), terminal: str = Form(""),
                      key: str = Form(""), value: str = Form(""), unset: str = Form(""), note: str = Form(""),
                      user: DashboardUser = Depends(settings_admin)) -> Response:
    """Set ``key`` to ``value`` (a TOML value, or a bare word as text), or remove ``unset``, for the scope."""
    from ..settings_cli import parse_value

    check_csrf(user.csrf, csrf)
    name = _blank(unset) or _blank(key) or ""

    def change(conn):
        scope = resolve_scope(conn, node=_blank(node), terminal=_blank(terminal))
        check_manages(conn, user.caller, scope)  # outside the scope: 404 before anything about the form
        if _blank(unset):
            return scope, set_settings(conn, user.caller, scope, set_values={}, unset=[name], note=_blank(note),
                                       now_ns=request.app.state.clock(), address=client_address(request))
        if not name:
            raise SettingsRefused("Chọn một cài đặt.", field="key")
        return scope, set_settings(conn, user.caller, scope, set_values={name: parse_value(value.strip())}, unset=[],
                                   note=_blank(note), now_ns=request.app.state.clock(), address=client_address(request))
    try:
        scope, done = await _write(request, change)
    except SettingsRefused as exc:
        return _settings_page(request, user, node=node, terminal=terminal, status=exc.status,
                              error=f"Không lưu được: {exc}", form={"key": key, "value": value, "note": note})
    log.info("terminal settings change %d (%s) by %r", done.id, scope.key, one_line(user.caller.username))
    return RedirectResponse(_href(scope, done="unset" if _blank(unset) else "set"), status_code=303)


@router.post("/settings/rollback", response_class=HTMLResponse)
async def rollback_form(request: Request, csrf: str = Form(""), change: str = Form(""), note: str = Form(""),
                        user: DashboardUser = Depends(settings_admin)) -> Response:
    check_csrf(user.csrf, csrf)
    if not change.strip().isdigit() or len(change.strip()) > 18:
        return _settings_page(request, user, status=422, error="Không lưu được: chọn một thay đổi trong lịch sử.")
    try:
        done = await _write(request, lambda conn: roll_back(conn, user.caller, int(change), note=_blank(note),
                                                            now_ns=request.app.state.clock(),
                                                            address=client_address(request)))
    except SettingsRefused as exc:
        return _settings_page(request, user, status=exc.status, error=f"Không khôi phục được: {exc}")
    log.info("terminal settings rolled back to change %s (%s) by %r", change, done.scope, one_line(user.caller.username))
    return RedirectResponse(_href(Scope.from_key(done.scope), done="rollback"), status_code=303)

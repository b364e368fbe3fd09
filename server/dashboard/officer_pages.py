"""The dashboard's "Cán bộ" page: a unit's officers, kept by its administrators.

Province and unit admins (``manage_officers``) add officers to the units of their scope, change a name or the
counters an officer serves at, set or clear the PIN (only its hash is kept, and sent to the unit's terminals),
upload or remove a photo, and disable or enable an officer; inspectors and viewers given ``sees_officers`` read
the page without the forms. Every change is one entry of the audit trail (server/officer_actions.py).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, func, select

from sync.plain_text import one_line

from ..access import may
from ..db import write_transaction
from ..dependencies import client_address
from ..officer_actions import add_officer, change_photo, edit_officer
from ..officers import (PHOTO_MAX_BYTES, PHOTO_MAX_SIDE, OfficerRefused, find_officer, list_officers,
                        officer_scope, photo_of, photo_type, unit_counters, unit_in_scope)
from ..routes.officers import OfficerId
from ..schema import nodes, officers
from .pages import SECURITY_HEADERS, local_time, page, require_on_page
from .session import DashboardUser, check_csrf, dashboard_user

log = logging.getLogger("hailong.server.dashboard")

router = APIRouter(include_in_schema=False)

#: Up to this many units in the reader's scope, the page offers them in a list; above it, a field for a code.
MAX_UNIT_CHOICES = 300

DONE = {"new": "Đã thêm cán bộ.", "edit": "Đã lưu thay đổi.", "pin": "Đã cập nhật mã PIN.",
        "photo": "Đã cập nhật ảnh."}


def officers_reader(user: DashboardUser = Depends(dashboard_user)) -> DashboardUser:
    require_on_page(user, "read_officers")
    return user


def officers_admin(user: DashboardUser = Depends(dashboard_user)) -> DashboardUser:
    require_on_page(user, "manage_officers")
    return user


def _units(conn: Connection, user: DashboardUser) -> list[tuple[int, str | None, str]] | None:
    """(id, code, name) of the units in the reader's scope, or None when there are too many to list."""
    caller = user.caller
    query = select(nodes.c.id, nodes.c.code, nodes.c.name).where(nodes.c.kind == "unit")
    if not caller.whole_server:
        scope = conn.execute(select(nodes.c.kind).where(nodes.c.id == caller.scope_node_id)).scalar()
        if scope == "province":
            query = query.where(nodes.c.parent_id == caller.scope_node_id)
        elif scope == "unit":
            query = query.where(nodes.c.id == caller.scope_node_id)
        else:
            return []
    count = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    if count > MAX_UNIT_CHOICES:
        return None
    return [tuple(row) for row in conn.execute(query.order_by(nodes.c.name))]


def _chosen_unit(conn: Connection, user: DashboardUser, asked: str, units) -> int | None:
    if asked.strip():
        return unit_in_scope(conn, user.caller, asked)
    if units and len(units) == 1:
        return units[0][0]
    if units is not None:  # the unit with officers first, else none chosen
        first = conn.execute(select(officers.c.unit_id).where(officer_scope(conn, user.caller))
                             .order_by(officers.c.unit_id).limit(1)).scalar()
        return first
    return None


def _officers_page(request: Request, user: DashboardUser, *, unit: str = "", status: int = 200,
                   error: str | None = None, form: dict | None = None) -> HTMLResponse:
    with request.app.state.engine.connect() as conn:
        units = _units(conn, user)
        try:
            unit_id = _chosen_unit(conn, user, unit, units)
        except OfficerRefused as exc:
            unit_id, error, status = None, str(exc), exc.status
        listed = list_officers(conn, user.caller, unit_id=unit_id) if unit_id is not None else []
        unit_row = conn.execute(select(nodes.c.id, nodes.c.code, nodes.c.name).where(nodes.c.id == unit_id)).first() \
            if unit_id is not None else None
        counters = unit_counters(conn, {unit_id})[unit_id] if unit_id is not None else []
    names = dict(counters)
    done = DONE.get(request.query_params.get("done", ""))
    return page(request, "officers.html", status=status, admin=user, units=units, unit=unit_row, officers=listed,
                counters=counters, counter_names=names, error=error, done=done, form=form or {},
                may_manage=may(user.caller, "manage_officers"), photo_kb=PHOTO_MAX_BYTES // 1024,
                photo_side=PHOTO_MAX_SIDE, when=lambda iso: local_time(request, iso))


@router.get("/officers", response_class=HTMLResponse)
def officers_page(request: Request, unit: str = "", user: DashboardUser = Depends(officers_reader)) -> HTMLResponse:
    return _officers_page(request, user, unit=unit)


async def _write(request: Request, change):
    def run():
        with request.app.state.engine.connect() as conn, write_transaction(conn):
            return change(conn)
    return await run_in_threadpool(run)


def _unit_ref(unit_id: int) -> str:
    return f"#{unit_id}"


@router.post("/officers/new", response_class=HTMLResponse)
async def new_officer(request: Request, csrf: str = Form(""), unit: str = Form(""), code: str = Form(""),
                      name: str = Form(""), counters: list[str] = Form([]), pin: str = Form(""),
                      user: DashboardUser = Depends(officers_admin)) -> Response:
    check_csrf(user.csrf, csrf)
    try:
        made = await _write(request, lambda conn: add_officer(
            conn, user.caller, unit=unit, code=code, name=name, counters=counters, pin=pin.strip() or None,
            now_ns=request.app.state.clock(), address=client_address(request)))
    except OfficerRefused as exc:
        return _officers_page(request, user, unit=unit, status=exc.status, error=str(exc),
                              form={"code": code, "name": name, "counters": counters})
    log.info("officer %r added to unit #%d by %r", one_line(made.code), made.unit_id, one_line(user.caller.username))
    return RedirectResponse(f"/officers?unit=%23{made.unit_id}&done=new", status_code=303)


async def _change(request: Request, user: DashboardUser, csrf: str, officer_id: int, change, done: str) -> Response:
    check_csrf(user.csrf, csrf)
    try:
        changed = await _write(request, change)
    except OfficerRefused as exc:
        if exc.status == 404:
            return _officers_page(request, user, status=404, error=str(exc))
        unit = await run_in_threadpool(_unit_of, request, user, officer_id)
        return _officers_page(request, user, unit=unit, status=exc.status, error=str(exc))
    log.info("officer %r of unit #%d changed (%s) by %r", one_line(changed.code), changed.unit_id, done,
             one_line(user.caller.username))
    return RedirectResponse(f"/officers?unit=%23{changed.unit_id}&done={done}", status_code=303)


def _unit_of(request: Request, user: DashboardUser, officer_id: int) -> str:
    with request.app.state.engine.connect() as conn:
        return _unit_ref(find_officer(conn, user.caller, officer_id).unit_id)


@router.post("/officers/{officer_id}/edit", response_class=HTMLResponse)
async def edit_officer_form(request: Request, officer_id: OfficerId, csrf: str = Form(""), name: str = Form(""),
                            counters: list[str] = Form([]), active: str = Form("1"),
                            user: DashboardUser = Depends(officers_admin)) -> Response:
    return await _change(request, user, csrf, officer_id, lambda conn: edit_officer(
        conn, user.caller, officer_id, name=name or None, counters=counters, active=active != "0",
        now_ns=request.app.state.clock(), address=client_address(request)), "edit")


@router.post("/officers/{officer_id}/pin", response_class=HTMLResponse)
async def officer_pin(request: Request, officer_id: OfficerId, csrf: str = Form(""), pin: str = Form(""),
                      clear: str = Form(""), user: DashboardUser = Depends(officers_admin)) -> Response:
    def change(conn):
        if not clear and not pin.strip():
            find_officer(conn, user.caller, officer_id)  # an officer outside the scope is 404 first
            raise OfficerRefused("Nhập mã PIN mới (4–8 chữ số), hoặc bấm “Xoá PIN”.", field="pin")
        return edit_officer(conn, user.caller, officer_id, pin=None if clear else pin.strip(),
                            now_ns=request.app.state.clock(), address=client_address(request))
    return await _change(request, user, csrf, officer_id, change, "pin")


@router.post("/officers/{officer_id}/photo", response_class=HTMLResponse)
async def officer_photo(request: Request, officer_id: OfficerId, csrf: str = Form(""), remove: str = Form(""),
                        photo: UploadFile | None = File(None),
                        user: DashboardUser = Depends(officers_admin)) -> Response:
    data = await photo.read(PHOTO_MAX_BYTES + 1) if photo is not None else b""

    def change(conn):
        if remove:
            return change_photo(conn, user.caller, officer_id, None, now_ns=request.app.state.clock(),
                                address=client_address(request))
        return change_photo(conn, user.caller, officer_id, data, now_ns=request.app.state.clock(),
                            address=client_address(request))
    return await _change(request, user, csrf, officer_id, change, "photo")


@router.get("/officers/{officer_id}/photo")
def officer_photo_image(request: Request, officer_id: OfficerId, user: DashboardUser = Depends(officers_reader)) -> Response:
    with request.app.state.engine.connect() as conn:
        try:
            find_officer(conn, user.caller, officer_id)
        except OfficerRefused as exc:
            return _officers_page(request, user, status=404, error=str(exc))
        data = photo_of(conn, officer_id)
    if data is None:
        return _officers_page(request, user, status=404, error="Cán bộ này chưa có ảnh.")
    return Response(data, media_type=photo_type(data), headers={**SECURITY_HEADERS, "Cache-Control": "private, no-store"})


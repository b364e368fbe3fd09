"""Remote terminal settings: ``GET /api/v1/terminal/settings`` for terminals, ``/api/v1/settings`` for
administrators.

A terminal fetches its effective settings with its device token when the ``settings_version`` of its batch
receipts differs from the one it applied (``ETag`` / ``If-None-Match``: 304 when it holds them already).
Administrators see a scope's own and effective settings and its history (``read_fleet``), and set, unset and
roll back (``manage_settings``: province and unit admins, their node and below; the whole fleet only with the
whole server as their scope); every change is in the audit trail.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, select

from sync.protocol import ErrorEnvelope, TerminalSettingsSet

from ..access import Caller
from ..accounts import Terminal
from ..bodies import json_body, read_model
from ..db import write_transaction
from ..dependencies import api_caller, client_address, db_connection, rate_limited_terminal, received_ns
from ..errors import ApiError
from ..schema import terminals
from ..settings_actions import check_sees, roll_back, set_settings, visible_history
from ..terminal_settings import (LINEAGE, Scope, SettingsRefused, node_effective, resolve_scope, scope_values,
                                 settings_version, terminal_effective)
from .officers import _etag_matches

router = APIRouter(tags=["settings"])

_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
_Ref = Annotated[str, Field(min_length=1, max_length=80, pattern=_NO_CONTROL)]
_Name = Annotated[str, Field(min_length=1, max_length=80)]


class SettingsChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node: _Ref | None = Field(default=None, description="the node (code or #id); with no node nor terminal: the fleet")
    terminal: _Ref | None = Field(default=None, description="one terminal's id")
    set: dict[_Name, Any] = Field(default_factory=dict, max_length=100,
                                  description='{"section.key": value}: values checked with the terminal\'s rules')
    unset: list[_Name] = Field(default_factory=list, max_length=100, description="keys this scope no longer sets")
    note: str | None = Field(default=None, max_length=500, description="why, for the history")


class SettingsRollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    change: int = Field(ge=1, le=2**63 - 1, description="the change whose values to restore (see the history)")
    note: str | None = Field(default=None, max_length=500)


class ValuesOut(BaseModel):
    values: dict[str, Any]
    version: str


class EffectiveOut(ValuesOut):
    sources: dict[str, str] = Field(description="for each key, the scope it comes from (fleet, node:ID, terminal:ID)")


class ChangeOut(BaseModel):
    id: int
    scope: str = Field(description="fleet, node:ID or terminal:ID")
    values: dict[str, Any] = Field(description="the scope's own values after the change")
    version: str = Field(description="the version of those values")
    note: str | None
    changed_by: str
    changed_at: str
    restores: int | None = Field(description="for a roll back: the change whose values it restored")


class SettingsShown(BaseModel):
    ok: Literal[True] = True
    scope: str
    own: ValuesOut
    effective: EffectiveOut = Field(description="what a terminal of this scope runs (for a node: without a "
                                                "terminal's own)")


class SettingsChanged(BaseModel):
    ok: Literal[True] = True
    change: ChangeOut


class SettingsHistory(BaseModel):
    ok: Literal[True] = True
    changes: list[ChangeOut]


def _refused(exc: SettingsRefused) -> ApiError:
    return ApiError(exc.status, str(exc), field=exc.field)


def _scope(conn: Connection, node: str | None, terminal: str | None) -> Scope:
    try:
        return resolve_scope(conn, node=node, terminal=terminal)
    except SettingsRefused as exc:
        raise _refused(exc) from None


def shown(conn: Connection, scope: Scope) -> dict:
    """A scope's own values and the effective set of its terminals."""
    own = scope_values(conn, scope)
    if scope.terminal_id is not None:
        effective = terminal_effective(conn, scope.terminal_id)
    else:
        effective = node_effective(conn, scope.node_id)
    return {"ok": True, "scope": scope.key, "own": {"values": own, "version": settings_version(own)},
            "effective": {"values": effective.values, "version": effective.version, "sources": effective.sources}}


async def _write(request: Request, change):
    def run():
        with request.app.state.engine.connect() as conn, write_transaction(conn):
            return change(conn)
    try:
        done = await run_in_threadpool(run)
    except SettingsRefused as exc:
        raise _refused(exc) from None
    request.app.state.wanted_settings.changed()  # receipts carry the new version from the next batch
    return done


def _query(description: str):
    return Query(None, min_length=1, max_length=80, pattern=_NO_CONTROL, description=description)


@router.get("/settings", response_model=SettingsShown, summary="a scope's own and effective terminal settings",
            responses={code: {"model": ErrorEnvelope} for code in (401, 403, 404, 422)})
def get_settings(node: str | None = _query("a node: its code or #id"),
                 terminal: str | None = _query("a terminal's id"), caller: Caller = Depends(api_caller),
                 conn: Connection = Depends(db_connection)) -> JSONResponse:
    scope = _scope(conn, node, terminal)
    try:
        check_sees(conn, caller, scope)
    except SettingsRefused as exc:
        raise _refused(exc) from None
    return JSONResponse(shown(conn, scope))


@router.post("/settings", response_model=SettingsChanged,
             summary="set and unset terminal settings of the fleet, a node or a terminal (a new change)",
             openapi_extra=json_body(SettingsChangeRequest, "the scope, the values to set, the keys to unset, a note"),
             responses={code: {"model": ErrorEnvelope} for code in (401, 403, 404, 413, 415, 422)})
async def post_settings(request: Request, caller: Caller = Depends(api_caller),
                        now_ns: int = Depends(received_ns)) -> JSONResponse:
    asked = await read_model(request, SettingsChangeRequest, max_bytes=64 * 1024)

    def change(conn):
        scope = resolve_scope(conn, node=asked.node, terminal=asked.terminal)
        return set_settings(conn, caller, scope, set_values=asked.set, unset=asked.unset, note=asked.note,
                            now_ns=now_ns, address=client_address(request))
    done = await _write(request, change)
    return JSONResponse({"ok": True, "change": done.out()})


@router.get("/settings/history", response_model=SettingsHistory,
            summary="the changes of a scope (none given: every scope in yours), newest first",
            responses={code: {"model": ErrorEnvelope} for code in (401, 403, 404, 422)})
def get_settings_history(node: str | None = _query("a node: its code or #id"),
                 terminal: str | None = _query("a terminal's id"),
                         limit: int = Query(100, ge=1, le=200), caller: Caller = Depends(api_caller),
                         conn: Connection = Depends(db_connection)) -> JSONResponse:
    try:
        scope = resolve_scope(conn, node=node, terminal=terminal) if node or terminal else None
        listed = visible_history(conn, caller, scope, limit=limit)
    except SettingsRefused as exc:
        raise _refused(exc) from None
    return JSONResponse({"ok": True, "changes": [one.out() for one in listed]})


@router.post("/settings/rollback", response_model=SettingsChanged,
             summary="restore an earlier change's values for its scope (a new change; the history stays)",
             openapi_extra=json_body(SettingsRollbackRequest, "the change to restore and a note"),
             responses={code: {"model": ErrorEnvelope} for code in (401, 403, 404, 413, 415, 422)})
async def post_settings_rollback(request: Request, caller: Caller = Depends(api_caller),
                                 now_ns: int = Depends(received_ns)) -> JSONResponse:
    asked = await read_model(request, SettingsRollbackRequest, max_bytes=4096)
    done = await _write(request, lambda conn: roll_back(conn, caller, asked.change, note=asked.note, now_ns=now_ns,
                                                        address=client_address(request)))
    return JSONResponse({"ok": True, "change": done.out()})


@router.get("/terminal/settings", response_model=TerminalSettingsSet, tags=["terminals"],
            summary="this terminal's effective remote settings (device token); 304 when If-None-Match is its version",
            responses={304: {"description": "the terminal holds this version already"},
                       **{code: {"model": ErrorEnvelope} for code in (401, 403, 429)}})
def get_terminal_settings(request: Request, terminal: Terminal = Depends(rate_limited_terminal),
                          conn: Connection = Depends(db_connection)) -> Response:
    # Where it stands now (a move since its token was remembered changes its lineage).
    row = conn.execute(select(*[terminals.c[name] for name in LINEAGE]).where(terminals.c.id == terminal.id)).first()
    found = terminal_effective(conn, terminal.id, tuple(row) if row is not None else None)
    headers = {"ETag": f'"{found.version}"', "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), found.version):
        return Response(status_code=304, headers=headers)
    return JSONResponse({"version": found.version, "values": found.values}, headers=headers)

"""``GET /api/v1/terminals``: the fleet and its health, for administrators; ``POST …/{id}/move`` and
``POST …/{id}/revoke``: stand a terminal at another counter, cut it off."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from sync.protocol import ErrorEnvelope

from ..accounts import LINEAGE_FIELDS, list_terminals
from ..bodies import json_body, read_model
from ..dependencies import api_caller, client_address, db_connection, received_ns
from ..errors import ApiError
from ..access import Caller
from ..fleet_actions import check_may_see_fleet, move, revoke
from ..terminal_settings import add_settings_columns
from ..models import MoveRequest, TerminalMovedOut, TerminalRevokedOut, TerminalsList
from .tree import FLEET_ERRORS, fleet_api_error

router = APIRouter(tags=["administration"])


@router.get("/terminals", response_model=TerminalsList, summary="every terminal in scope: last seen, backlog, clock",
            responses={401: {"model": ErrorEnvelope}, 403: {"model": ErrorEnvelope}})
def get_terminals(caller: Caller = Depends(api_caller), conn: Connection = Depends(db_connection)) -> JSONResponse:
    rows = list_terminals(conn, within=check_may_see_fleet(conn, caller, None))
    add_settings_columns(conn, rows)
    for row in rows:
        for name in LINEAGE_FIELDS:  # the list's shape stays as before the tree: node_id says where it stands
            del row[name]
        row["revoked"] = row["revoked_at"] is not None
        if row["clock_synced"] is not None:
            row["clock_synced"] = bool(row["clock_synced"])
    return JSONResponse({"ok": True, "terminals": rows})


#: The longest terminal id the server makes (``terminals.id`` is 64 characters).
MAX_TERMINAL_ID = 64


def _known_shape(terminal_id: str) -> str:
    """A terminal id that could exist; anything else is 404 before it reaches the database."""
    if len(terminal_id) > MAX_TERMINAL_ID or not terminal_id.isprintable():
        raise ApiError(404, "no terminal has this id (see GET /api/v1/terminals)")
    return terminal_id


@router.post("/terminals/{terminal_id}/move", response_model=TerminalMovedOut,
             summary="stand a terminal at another counter; its next ratings count there",
             openapi_extra=json_body(MoveRequest, "the counter (or office) it now stands at: code or #id"),
             responses={code: {"model": ErrorEnvelope} for code in (401, 403, 404, 413, 415, 422)})
async def post_move(request: Request, terminal_id: str, caller: Caller = Depends(api_caller),
                    now_ns: int = Depends(received_ns)) -> JSONResponse:
    asked = await read_model(request, MoveRequest, max_bytes=1024)
    try:
        moved = await run_in_threadpool(move, request.app.state.engine, _known_shape(terminal_id), asked.node,
                                        caller=caller, now_ns=now_ns, address=client_address(request))
    except FLEET_ERRORS as exc:
        raise fleet_api_error(exc) from None
    return JSONResponse({"ok": True, "terminal_id": moved.terminal_id, "node_id": moved.node_id, "site": moved.site,
                         "counter": moved.counter, "path": moved.to_path})


@router.post("/terminals/{terminal_id}/revoke", response_model=TerminalRevokedOut,
             summary="revoke a terminal: its device token stops working at once (its ratings stay)",
             responses={code: {"model": ErrorEnvelope} for code in (401, 403, 404)})
async def post_revoke(request: Request, terminal_id: str, caller: Caller = Depends(api_caller),
                      now_ns: int = Depends(received_ns)) -> JSONResponse:
    try:
        revoked_at = await run_in_threadpool(revoke, request.app.state.engine, _known_shape(terminal_id),
                                             caller=caller, now_ns=now_ns, address=client_address(request))
    except FLEET_ERRORS as exc:
        raise fleet_api_error(exc) from None
    return JSONResponse({"ok": True, "terminal_id": terminal_id, "revoked_at": revoked_at})

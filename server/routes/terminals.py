"""``GET /api/v1/terminals``: the fleet and its health, the terminals standing inside the caller's scope."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from sync.protocol import ErrorEnvelope

from ..accounts import list_terminals
from ..access import Caller, terminal_scope
from ..dependencies import caller_allowed, db_connection
from ..models import TerminalsList

router = APIRouter(tags=["administration"])


@router.get("/terminals", response_model=TerminalsList, summary="every terminal in scope: last seen, backlog, clock",
            responses={401: {"model": ErrorEnvelope}, 403: {"model": ErrorEnvelope}})
def get_terminals(caller: Caller = Depends(caller_allowed("read_fleet")),
                  conn: Connection = Depends(db_connection)) -> JSONResponse:
    rows = list_terminals(conn, where=terminal_scope(caller, conn))
    for row in rows:
        row["revoked"] = row["revoked_at"] is not None
        if row["clock_synced"] is not None:
            row["clock_synced"] = bool(row["clock_synced"])
    return JSONResponse({"ok": True, "terminals": rows})

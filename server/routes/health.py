"""``GET /healthz``: is the server and its database up? (``GET /`` is the dashboard, see server/dashboard.)"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Connection

from ..db import check_database
from ..dependencies import db_connection
from ..models import IngestFigures, ServerHealth
from ..version import SERVER_VERSION

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=ServerHealth, summary="the server and its database answer")
def healthz(request: Request, conn: Connection = Depends(db_connection)) -> ServerHealth:
    check_database(conn)  # a database that does not answer becomes 503 (see app.py)
    gate = getattr(request.app.state, "ingest_gate", None)  # counters in memory: costs a lock, no query
    return ServerHealth(version=SERVER_VERSION,
                        ingest=IngestFigures(**gate.figures()) if gate is not None else None)

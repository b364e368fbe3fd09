"""``GET /healthz``: is the server and its database up? (``GET /`` is the dashboard, see server/dashboard.)"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import Connection

from ..db import check_database
from ..dependencies import db_connection
from ..models import ServerHealth
from ..version import SERVER_VERSION

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=ServerHealth, summary="the server and its database answer")
def healthz(conn: Connection = Depends(db_connection)) -> ServerHealth:
    check_database(conn)  # a database that does not answer becomes 503 (see app.py)
    return ServerHealth(version=SERVER_VERSION)

"""``GET /healthz`` (is the server and its database up?) and ``GET /`` (a placeholder page)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
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


# The dashboard and admin login are a later issue; until then / says what is here.
_HOME = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Hài Lòng — máy chủ trung tâm</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>Hài Lòng — máy chủ trung tâm</h1>
<p>Central server of the Hài Lòng satisfaction terminals. The dashboard is not built yet.</p>
<ul>
<li><a href="/docs">API documentation</a> (<a href="/openapi.json">openapi.json</a>)</li>
<li><a href="/healthz">/healthz</a></li>
</ul>
<p>Administrators pull ratings with an admin token: <code>kiosk-server admin-token --name NAME</code>.</p>
</body></html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home() -> str:
    return _HOME

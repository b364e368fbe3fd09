"""``GET /api/v1/audit``: the audit trail, paged by entry id like ``/api/v1/ratings``, as JSON or CSV.

Read with ``after=0``, then ``after=<next>`` until ``next`` is null. Only
callers that :func:`server.audit.may_read_audit` lets through (403 for the
others). Reading the trail is not itself recorded: each read would add the
entry the next read returns.
"""

from __future__ import annotations

import csv
import io
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from reports.spreadsheet_text import csv_row
from sync.protocol import ErrorEnvelope

from ..access import Caller, scope_nodes
from ..audit import ACTIONS, ENTRY_FIELDS, details_text, list_entries, may_read_audit, utc_bound
from ..dependencies import api_caller, db_connection
from ..errors import ApiError
from ..ingest import INT64_MAX

router = APIRouter(tags=["administration"])


class EntryOut(BaseModel):
    id: int = Field(description="1, 2, 3… with no gaps; page with ?after=<id>")
    at: str = Field(description="the server's clock, ISO 8601 UTC")
    actor: str = Field(description="who: a username or token name, 'kiosk-server CLI (user@host)', a terminal id")
    actor_account_id: int | None
    role: str | None
    action: str = Field(description="one of: " + ", ".join(ACTIONS))
    scope_node_id: int | None
    subject: str | None = Field(description="what was acted on")
    rows: int | None = Field(description="ratings or rows pulled, exported or counted")
    details: dict | str = Field(description="a JSON object (its stored text if the entry was edited)")
    address: str | None = Field(description="the client's address, for actions over HTTP")
    prev_hash: str
    hash: str = Field(description="SHA-256 over the entry and prev_hash (see `kiosk-server audit verify`)")


class AuditPage(BaseModel):
    ok: Literal[True] = True
    entries: list[EntryOut]
    next: int | None = Field(description="the `after` of the next page, or null when this page is the last")


@router.get("/audit", response_model=AuditPage, summary="read the audit trail after an entry id",
            responses={200: {"content": {"text/csv": {}}}, 401: {"model": ErrorEnvelope},
                       403: {"model": ErrorEnvelope}, 422: {"model": ErrorEnvelope}})
def list_audit(request: Request,
               after: int = Query(0, ge=0, le=INT64_MAX, description="the id of the last entry already held"),
               limit: int = Query(1000, ge=1, le=INT64_MAX,
                                  description="most entries in this page (capped like the ratings' pages)"),
               action: Literal[tuple(ACTIONS)] | None = Query(None, description="only this action"),
               actor: str | None = Query(None, max_length=200, description="only actors whose name contains this"),
               since: str | None = Query(None, max_length=40, description="from this local date or ISO time"),
               until: str | None = Query(None, max_length=40, description="before this local date or ISO time"),
               format: Literal["json", "csv"] | None = Query(None, description="else chosen by the Accept header"),
               caller: Caller = Depends(api_caller), conn: Connection = Depends(db_connection)) -> Response:
    if not may_read_audit(caller):
        raise ApiError(403, "this account may not read the audit trail")
    tz = request.app.state.settings.timezone
    bounds = {}
    for name, value in (("since", since), ("until", until)):
        try:
            bounds[name] = utc_bound(value, tz) if value else None
        except ValueError as exc:
            raise ApiError(422, f"{name}: {exc}", field=name) from None
    limit = min(limit, request.app.state.settings.ratings_page_max)
    rows = list_entries(conn, after=after, action=action, actor=actor, limit=limit + 1,
                        within=scope_nodes(conn, caller), **bounds)
    page = rows[:limit]
    next_id = page[-1]["id"] if len(rows) > limit else None
    if format is None:
        format = "csv" if "text/csv" in request.headers.get("accept", "") else "json"
    if format == "json":
        return JSONResponse({"ok": True, "entries": page, "next": next_id})
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ENTRY_FIELDS)
    writer.writerows(csv_row(details_text(e[f]) if f == "details" else e[f] for f in ENTRY_FIELDS) for e in page)
    return Response(out.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"X-Next-Cursor": "" if next_id is None else str(next_id),
                             "Content-Disposition": f'attachment; filename="audit-after-{after}.csv"'})

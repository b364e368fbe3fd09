"""``GET /api/v1/ratings``: every stored rating in the caller's scope, paged by the server's cursor, as JSON or CSV.

Pull with ``after=0``, then ``after=<next>`` until ``next`` is null; keep the
last cursor and ask again later for what arrived since. Each page that holds a
rating is recorded in the audit trail (who, how many, the cursors). Cursors increase in
commit order, so paging never skips or repeats a rating. CSV (``Accept:
text/csv`` or ``?format=csv``) is UTF-8 with a byte-order mark, so Excel reads
Vietnamese names right; its next cursor is in the ``X-Next-Cursor`` header.

Who sees what of a rating (issue 12): every reader its fields in :data:`RATING_OUTPUT_FIELDS`, where
``filtered`` is 1 for a rating no report counts (a press inside the repeat interval, or a second rating of a
dossier); ``officer_code`` and ``officer_name`` only a role that may see officers (``read_officers``), and
``dossier`` only one that may see dossier codes (``read_dossiers``). The audit entry names the extra fields served.
"""

from __future__ import annotations

import csv
import io
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection, case, select

from reports.spreadsheet_text import csv_row
from sync.protocol import ErrorEnvelope

from ..access import Caller, may, rating_scope
from ..audit import actor_of, record
from ..db import write_transaction
from ..dependencies import caller_allowed, client_address, db_connection
from ..ingest import INT64_MAX
from ..models import RATING_OUTPUT_FIELDS, RatingsPage
from ..schema import officers, ratings

router = APIRouter(tags=["administration"])


@router.get("/ratings", response_model=RatingsPage, summary="pull ratings after a cursor",
            responses={200: {"content": {"text/csv": {}}}, 401: {"model": ErrorEnvelope},
                       403: {"model": ErrorEnvelope}, 422: {"model": ErrorEnvelope}})
def list_ratings(request: Request,
                 after: int = Query(0, ge=0, le=INT64_MAX, description="the cursor of the last rating already held"),
                 limit: int = Query(1000, ge=1, le=INT64_MAX,
                                    description="most ratings in this page (capped by the server, 10,000 by default)"),
                 format: Literal["json", "csv"] | None = Query(None, description="else chosen by the Accept header"),
                 caller: Caller = Depends(caller_allowed("read_ratings")), conn: Connection = Depends(db_connection)) -> Response:
    limit = min(limit, request.app.state.settings.ratings_page_max)
    fields, query = pulled_fields(caller)
    rows = conn.execute(query.where(ratings.c.cursor > after, rating_scope(caller, conn))
                        .order_by(ratings.c.cursor).limit(limit + 1)).mappings().all()
    page = [dict(row) for row in rows[:limit]]
    next_cursor = page[-1]["cursor"] if len(rows) > limit else None
    if format is None:
        format = "csv" if "text/csv" in request.headers.get("accept", "") else "json"
    if page:  # an empty page (a script polling for what is new) serves no rating and is not recorded
        with write_transaction(conn):
            record(conn, actor=actor_of(caller), action="pull", subject="ratings", rows=len(page),
                   details={"after": after, "next": next_cursor, "limit": limit, "format": format,
                            **({"with": list(fields[len(RATING_OUTPUT_FIELDS):])}
                               if len(fields) > len(RATING_OUTPUT_FIELDS) else {})},
                   address=client_address(request), now_ns=request.app.state.clock())
    if format == "json":
        return JSONResponse({"ok": True, "ratings": page, "next": next_cursor})
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fields)
    writer.writerows(csv_row(row[name] for name in fields) for row in page)
    return Response(out.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"X-Next-Cursor": "" if next_cursor is None else str(next_cursor),
                             "Content-Disposition": f'attachment; filename="ratings-after-{after}.csv"'})


def pulled_fields(caller: Caller):
    """The fields ``caller`` is served, and the query that reads them (its scope's WHERE still to add).

    ``filtered`` is what the reports count as filtered: the terminal's flag, or 1 for a second rating of a
    dossier (``dossier_repeat``), so a report made from a pulled file counts what the server's reports count.
    """
    columns = {name: ratings.c[name] for name in RATING_OUTPUT_FIELDS}
    columns["filtered"] = case((ratings.c.dossier_repeat == 1, 1), else_=ratings.c.filtered).label("filtered")
    source = ratings
    if may(caller, "read_officers"):
        columns["officer_code"] = ratings.c.officer_code
        columns["officer_name"] = officers.c.name.label("officer_name")
        source = ratings.outerjoin(officers, officers.c.id == ratings.c.officer_id)
    if may(caller, "read_dossiers"):
        columns["dossier"] = ratings.c.dossier
    return tuple(columns), select(*columns.values()).select_from(source)

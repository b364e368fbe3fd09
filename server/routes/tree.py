"""``GET /api/v1/tree`` and ``POST /api/v1/tree``: the organisation tree, read and imported (CSV, all or nothing).

The import answers 422 naming the first bad line (``"line 4: …"``, ``field`` ``"line 4"``) and imports nothing;
``?dry_run=true`` says what the file would change and changes nothing.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection

from sync.protocol import ErrorEnvelope

from ..access import Caller, Forbidden, require
from ..bodies import read_body
from ..dependencies import api_caller, client_address, db_connection, received_ns
from ..errors import ApiError, UnknownTerminal
from ..fleet_actions import import_tree, tree_nodes, tree_text
from ..models import TreeImportOut, TreeList
from ..org_tree import TreeError, UnknownNode, tree_csv

router = APIRouter(tags=["organisation tree"])

#: The largest tree file taken: a national tree (34 provinces, ~3,300 units, their offices and counters) is ~3 MB.
MAX_TREE_BYTES = 8 * 1024 * 1024
CSV_TYPE = "text/csv"


def fleet_api_error(exc: Exception, *, node_field: str = "node") -> ApiError:
    """The answer to a refused fleet action: 403 not allowed, 404 unknown terminal, 422 bad node, count or file."""
    if isinstance(exc, Forbidden):
        return exc
    if isinstance(exc, UnknownTerminal):
        return ApiError(404, str(exc))
    if isinstance(exc, UnknownNode):
        return ApiError(422, f"{node_field}: {exc}", field=node_field)
    if isinstance(exc, TreeError):
        field = f"line {exc.line}" if exc.line is not None else node_field
        return ApiError(422, str(exc) if exc.line is not None else f"{field}: {exc}", field=field)
    field, _, message = str(exc).partition(": ")
    return ApiError(422, str(exc), field=field if message else None)


FLEET_ERRORS = (Forbidden, UnknownTerminal, UnknownNode, TreeError, ValueError)


@router.get("/tree", response_model=TreeList, summary="the organisation tree: every node, with its terminals",
            responses={200: {"content": {CSV_TYPE: {"schema": {"type": "string"}}},
                             "description": "JSON, or with ?format=csv the CSV POST /api/v1/tree takes back"},
                       401: {"model": ErrorEnvelope}, 403: {"model": ErrorEnvelope}, 422: {"model": ErrorEnvelope}})
def get_tree(format: Literal["json", "csv"] = Query("json", description="json, or csv (code,name,kind,parent_code)"),
             caller: Caller = Depends(api_caller), conn: Connection = Depends(db_connection)) -> Response:
    require(caller, "read_tree")
    if format == "csv":
        return Response(tree_csv(conn, within=caller.scope_node_id), media_type=f"{CSV_TYPE}; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="tree.csv"'})
    return JSONResponse({"ok": True, "nodes": tree_nodes(conn, within=caller.scope_node_id)})


@router.post("/tree", response_model=TreeImportOut,
             summary="import the tree from a CSV (code,name,kind,parent_code): all or nothing",
             openapi_extra={"requestBody": {"required": True, "description": "UTF-8 CSV: code,name,kind,parent_code "
                                            "(kind: province, unit, office, counter); nodes are matched by code",
                                            "content": {CSV_TYPE: {"schema": {"type": "string"}}}}},
             responses={code: {"model": ErrorEnvelope} for code in (401, 403, 413, 415, 422)})
async def post_tree(request: Request,
                    dry_run: bool = Query(False, description="true: say what the file would change, change nothing"),
                    caller: Caller = Depends(api_caller), now_ns: int = Depends(received_ns)) -> JSONResponse:
    require(caller, "import_tree")
    data = await read_body(request, max_bytes=MAX_TREE_BYTES, media_type=CSV_TYPE)
    try:
        done = await run_in_threadpool(lambda: import_tree(request.app.state.engine, tree_text(data), caller=caller,
                                                           dry_run=dry_run, now_ns=now_ns,
                                                           address=client_address(request)))
    except TreeError as exc:
        error = fleet_api_error(exc, node_field="body")
        raise ApiError(422, f"{error.message}; nothing was imported", field=error.field) from None
    return JSONResponse({"ok": True, "dry_run": dry_run, **done.counts(),
                         "changes": [{key: entry[key] for key in ("change", "id", "kind", "code", "name", "path")}
                                     for entry in done.changed]})

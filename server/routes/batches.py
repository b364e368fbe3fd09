"""``POST /api/v1/batches``: a terminal uploads sealed ratings (or, with none, a heartbeat).

Order of checks, cheapest first: device token (401/403), rate limit (429 with
``Retry-After``), content type (415), size (413: over 512 KiB, or over 500
ratings), JSON and the protocol model, whole (422 naming the field), then
rules across fields (422; 403 for a rating of another terminal). Only then is
anything written, in one transaction. A rating id twice in the same batch is
refused (422): the terminal's own primary key makes that impossible, so it can
only be a bug, and guessing which copy to keep would hide it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from sync.protocol import MAX_BATCH_BYTES, MAX_BATCH_RATINGS, Batch, BatchReceipt, ErrorEnvelope

from ..accounts import Terminal
from ..bodies import json_body, read_model
from ..dependencies import forget_device_token, rate_limited_terminal, received_ns
from ..errors import ApiError
from ..ingest import TerminalRevoked, check_batch, ingest_batch

router = APIRouter(tags=["terminals"])


@router.post("/batches", response_model=BatchReceipt, summary="upload a batch of ratings, or a heartbeat",
             openapi_extra=json_body(Batch, f"at most {MAX_BATCH_RATINGS} ratings and {MAX_BATCH_BYTES} bytes"),
             responses={code: {"model": ErrorEnvelope} for code in (401, 403, 413, 415, 422, 429)})
async def post_batch(request: Request, now_ns: int = Depends(received_ns),
                     terminal: Terminal = Depends(rate_limited_terminal)) -> Response:
    batch = await read_model(request, Batch, max_bytes=MAX_BATCH_BYTES, max_items={"ratings": MAX_BATCH_RATINGS})
    check_batch(batch, terminal)
    try:
        receipt = await run_in_threadpool(_store, request.app.state.engine, terminal, batch, now_ns)
    except TerminalRevoked:
        forget_device_token(request)
        raise ApiError(401, "this terminal's token was revoked; provision the terminal again with a new "
                            "enrolment code", headers={"WWW-Authenticate": "Bearer"}) from None
    # Serialised by pydantic-core directly (the model is built by ingest_batch from checked values).
    return Response(receipt.model_dump_json(), media_type="application/json")


def _store(engine: Engine, terminal: Terminal, batch: Batch, now_ns: int) -> BatchReceipt:
    # A connection only for the write: none is held while the body streams in.
    with engine.connect() as conn:
        return ingest_batch(conn, terminal, batch, received_ns=now_ns)

"""``POST /api/v1/batches``: a terminal uploads sealed ratings (or, with none, a heartbeat).

Order of checks, cheapest first: device token (401/403), rate limit (429 with
``Retry-After``), content type (415), size (413: over 512 KiB, or over 500
ratings), JSON and the envelope (422 naming the field), then each rating on its
own (:mod:`server.refusals`): an invalid rating is answered ``refused`` with its
reason and nothing of it is stored, the others are stored, in one transaction.
A rating of another terminal refuses the whole batch (403); so does a rating id
twice in the same batch (422): the terminal's own primary key makes that
impossible, so it can only be a bug, and guessing which copy to keep would hide it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.concurrency import run_in_threadpool

from sync.protocol import MAX_BATCH_BYTES, MAX_BATCH_RATINGS, Batch, BatchReceipt, ErrorEnvelope

from ..accounts import Terminal
from ..batch_intake import take_batch
from ..bodies import json_body, read_body
from ..dependencies import forget_device_token, rate_limited_terminal, received_ns, remember_device_token
from ..errors import ApiError
from ..ingest import TerminalRevoked

router = APIRouter(tags=["terminals"])


@router.post("/batches", response_model=BatchReceipt, summary="upload a batch of ratings, or a heartbeat",
             description=(
                 "Each rating is judged on its own: an invalid one is answered `refused` with a `reason` "
                 "(the field and why) and nothing of it is stored; the others are stored. A fault in the envelope "
                 "(clock, health, the list itself), a rating without a valid id, an id twice (422) or a rating of "
                 "another terminal (403) refuses the whole batch, and nothing of it is stored."),
             openapi_extra=json_body(Batch, f"at most {MAX_BATCH_RATINGS} ratings and {MAX_BATCH_BYTES} bytes"),
             responses={code: {"model": ErrorEnvelope} for code in (401, 403, 413, 415, 422, 429)})
async def post_batch(request: Request, now_ns: int = Depends(received_ns),
                     terminal: Terminal = Depends(rate_limited_terminal)) -> Response:
    body = await read_body(request, max_bytes=MAX_BATCH_BYTES)
    try:
        # Parse, check, store and serialise in one worker thread (batch_intake.py): the event loop stays free.
        receipt_json = await run_in_threadpool(take_batch, request.app.state.engine, terminal, body, now_ns,
                                               lambda moved: remember_device_token(request, moved),
                                               retention_days=request.app.state.settings.dossier_retention_days,
                                               wanted_settings=request.app.state.wanted_settings,
                                               book=request.app.state.rollouts)
    except TerminalRevoked:
        forget_device_token(request)
        raise ApiError(401, "this terminal's token was revoked; provision the terminal again with a new "
                            "enrolment code", headers={"WWW-Authenticate": "Bearer"}) from None
    return Response(receipt_json, media_type="application/json")

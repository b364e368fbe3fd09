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
from sqlalchemy import Engine

from sync.protocol import MAX_BATCH_BYTES, MAX_BATCH_RATINGS, Batch, BatchReceipt, ErrorEnvelope

from ..accounts import Terminal
from ..bodies import json_body, read_body
from ..dependencies import forget_device_token, rate_limited_terminal, received_ns, remember_device_token
from ..errors import ApiError
from ..ingest import TerminalRevoked, ingest_batch
from ..officers import receipt_version, uses_officers
from ..refusals import ReceivedBatch, receive_batch
from ..rollouts import RolloutBook
from ..terminal_settings import WantedVersions

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
    received = receive_batch(await read_body(request, max_bytes=MAX_BATCH_BYTES), terminal)
    try:
        receipt = await run_in_threadpool(_store, request.app.state.engine, terminal, received, now_ns,
                                          lambda moved: remember_device_token(request, moved),
                                          retention_days=request.app.state.settings.dossier_retention_days,
                                          wanted_settings=request.app.state.wanted_settings,
                                          book=request.app.state.rollouts)
    except TerminalRevoked:
        forget_device_token(request)
        raise ApiError(401, "this terminal's token was revoked; provision the terminal again with a new "
                            "enrolment code", headers={"WWW-Authenticate": "Bearer"}) from None
    # Serialised by pydantic-core directly (the model is built by ingest_batch from checked values);
    # without empty fields, so only a refusal carries a reason.
    return Response(receipt.model_dump_json(exclude_none=True), media_type="application/json")


def _store(engine: Engine, terminal: Terminal, received: ReceivedBatch, now_ns: int, on_moved, *,
           retention_days: int, wanted_settings: WantedVersions, book: RolloutBook) -> BatchReceipt:
    # A connection only for the write: none is held while the body streams in.
    moved: list[Terminal] = []

    def moved_to(where: Terminal) -> None:
        moved.append(where)
        on_moved(where)

    health = received.batch.health
    with engine.connect() as conn:
        receipt = ingest_batch(conn, terminal, received.batch, received_ns=now_ns, refused=received.refused,
                               on_moved=moved_to, offer_release=lambda where, failed: book.offer(
                                   where, health.app_version, failed))
        # The version of the officers list of the unit it stands at now (read after the commit).
        here = moved[-1] if moved else terminal
        receipt.officers_version = receipt_version(conn, here.unit_id, retention_days=retention_days,
                                                   asked=uses_officers(received.batch))
        # The settings version it should run (None: nothing ever set above it, left out of the receipt); from a
        # cache per terminal and generation, so a batch costs no more than a lookup.
        receipt.settings_version = wanted_settings.wanted(
            conn, here.id, (here.province_id, here.unit_id, here.office_id, here.counter_id))
    # A first-wave terminal reporting the release (or its failure) may open or stop its rollout (rollouts.py).
    book.after_heartbeat(here, health)
    return receipt

"""``POST /api/v1/batches``: a terminal uploads sealed ratings (or, with none, a heartbeat).

Order of checks, cheapest first: device token (401/403), rate limit (429 with
``Retry-After``), the ingest gate (429 with ``Retry-After`` when the server already stores
as many batches as it can, before the body is read: :mod:`server.admission`), content type
(415), size (413: over 512 KiB, or over 500 ratings), JSON and the envelope (422 naming the
field), then each rating on its own (:mod:`server.refusals`): an invalid rating is answered ``refused`` with its
reason and nothing of it is stored, the others are stored, in one transaction.
A rating of another terminal refuses the whole batch (403); so does a rating id
twice in the same batch (422): the terminal's own primary key makes that
impossible, so it can only be a bug, and guessing which copy to keep would hide it.
"""

from __future__ import annotations

import logging
from functools import partial

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from sync.protocol import MAX_BATCH_BYTES, MAX_BATCH_RATINGS, Batch, BatchReceipt, ErrorEnvelope, Pace

from ..accounts import Terminal
from ..admission import IngestGate
from ..batch_intake import take_batch
from ..bodies import json_body, read_body
from ..db import LOCK_WAITS
from ..dependencies import forget_device_token, rate_limited_terminal, received_ns, remember_device_token
from ..errors import ApiError
from ..ingest import TerminalRevoked

router = APIRouter(tags=["terminals"])
log = logging.getLogger("hailong.server.admission")


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
    state = request.app.state
    gate: IngestGate = state.ingest_gate
    wait_s = await gate.enter(terminal.id)  # at once, or after a short queue (admission.py)
    if wait_s is not None:  # nothing read, nothing stored: come back at the reserved turn
        if (report := gate.shed_report()) is not None:
            log.warning("%s", report)
        raise ApiError(429, f"the server is busy with other terminals' batches; try again in {wait_s} s",
                       headers={"Retry-After": str(wait_s)})
    lock_waits: list[float] = []
    settings = state.settings
    try:
        body = await read_body(request, max_bytes=MAX_BATCH_BYTES)
        try:
            # Parse, check, store and serialise in one worker thread (batch_intake.py), on ingest's own threads
            # and connections (app.py): the event loop stays free, and the dashboard, health checks, enrolment
            # and the admin API never queue behind batches.
            receipt_json = await anyio.to_thread.run_sync(partial(
                take_batch, state.ingest_engine, terminal, body, now_ns,
                lambda moved: remember_device_token(request, moved),
                retention_days=settings.dossier_retention_days, wanted_settings=state.wanted_settings,
                book=state.rollouts, lock_waits=lock_waits,
                pace=lambda: receipt_pace(gate, batch_size=settings.pace_batch_size, pause_s=settings.pace_pause_s)),
                limiter=state.ingest_limiter)
        except TerminalRevoked:
            forget_device_token(request)
            raise ApiError(401, "this terminal's token was revoked; provision the terminal again with a new "
                                "enrolment code", headers={"WWW-Authenticate": "Bearer"}) from None
    finally:
        gate.leave(lock_wait_s=sum(lock_waits) if lock_waits else None)
    return Response(receipt_json, media_type="application/json")


def receipt_pace(gate: IngestGate, *, batch_size: int, pause_s: float) -> Pace | None:
    """The ``pace`` a receipt carries: when the gate is busy (a pause that shares its capacity among the
    terminals), and always when the settings ask for one (``pace_batch_size``, ``pace_pause_s``); else None.

    >>> gate = IngestGate(concurrency=4, max_wait_s=0.2, clock=lambda: 0.0)
    >>> receipt_pace(gate, batch_size=0, pause_s=0.0) is None
    True
    >>> receipt_pace(gate, batch_size=100, pause_s=0.0)
    Pace(batch_size=100, pause_s=0.0)
    """
    busy_pause_s = gate.pace_pause_s() if gate.is_busy() else None
    if busy_pause_s is None and not batch_size and not pause_s:
        return None
    return Pace.model_construct(batch_size=batch_size or MAX_BATCH_RATINGS,
                                pause_s=max(pause_s, busy_pause_s or 0.0))

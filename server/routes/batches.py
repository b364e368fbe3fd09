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
from sqlalchemy import Engine

from sync.protocol import MAX_BATCH_BYTES, MAX_BATCH_RATINGS, Batch, BatchReceipt, ErrorEnvelope, Pace

from ..accounts import Terminal
from ..admission import IngestGate
from ..bodies import json_body, read_body
from ..db import LOCK_WAITS
from ..dependencies import forget_device_token, rate_limited_terminal, received_ns, remember_device_token
from ..errors import ApiError
from ..ingest import TerminalRevoked, ingest_batch
from ..officers import receipt_version, uses_officers
from ..refusals import ReceivedBatch, receive_batch
from ..rollouts import RolloutBook
from ..terminal_settings import WantedVersions

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
    wait_s = gate.try_enter(terminal.id)
    if wait_s is not None:  # nothing read, nothing stored: come back at the reserved turn
        if (report := gate.shed_report()) is not None:
            log.warning("%s", report)
        raise ApiError(429, f"the server is busy with other terminals' batches; try again in {wait_s} s",
                       headers={"Retry-After": str(wait_s)})
    lock_waits: list[float] = []
    try:
        received = receive_batch(await read_body(request, max_bytes=MAX_BATCH_BYTES), terminal)
        try:
            # On ingest's own threads and connections (app.py): the dashboard, health checks, enrolment and the
            # admin API never queue behind batches.
            receipt = await anyio.to_thread.run_sync(partial(
                _store, state.ingest_engine, terminal, received, now_ns,
                lambda moved: remember_device_token(request, moved),
                retention_days=state.settings.dossier_retention_days, wanted_settings=state.wanted_settings,
                book=state.rollouts, lock_waits=lock_waits), limiter=state.ingest_limiter)
        except TerminalRevoked:
            forget_device_token(request)
            raise ApiError(401, "this terminal's token was revoked; provision the terminal again with a new "
                                "enrolment code", headers={"WWW-Authenticate": "Bearer"}) from None
    finally:
        gate.leave(lock_wait_s=sum(lock_waits) if lock_waits else None)
    receipt.pace = receipt_pace(gate, batch_size=state.settings.pace_batch_size,
                                pause_s=state.settings.pace_pause_s)
    # Serialised by pydantic-core directly (the model is built by ingest_batch from checked values);
    # without empty fields, so only a refusal carries a reason.
    return Response(receipt.model_dump_json(exclude_none=True), media_type="application/json")


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


def _store(engine: Engine, terminal: Terminal, received: ReceivedBatch, now_ns: int, on_moved, *,
           retention_days: int, wanted_settings: WantedVersions, book: RolloutBook,
           lock_waits: list[float]) -> BatchReceipt:
    # A connection only for the write: none is held while the body streams in.
    moved: list[Terminal] = []

    def moved_to(where: Terminal) -> None:
        moved.append(where)
        on_moved(where)

    health = received.batch.health
    with engine.connect() as conn:
        conn.info[LOCK_WAITS] = lock_waits  # the write lock's wait, for the gate (db.py)
        try:
            receipt = ingest_batch(conn, terminal, received.batch, received_ns=now_ns, refused=received.refused,
                                   on_moved=moved_to, offer_release=lambda where, failed: book.offer(
                                       where, health.app_version, failed))
        finally:
            del conn.info[LOCK_WAITS]
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

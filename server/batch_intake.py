"""One uploaded batch, from its raw body to its receipt's JSON, in one worker thread.

``POST /api/v1/batches`` reads the body on the event loop (a cheap, capped copy)
and hands the bytes to :func:`take_batch` in a worker thread: the JSON parse,
the protocol validation and the refusal checks (CPU-heavy for 500 ratings), the
storage and the receipt's serialisation all run there, so the event loop stays
free to answer health checks and refusals at once while batches are stored.

    receipt_json = await run_in_threadpool(take_batch, engine, terminal, body, now_ns, on_moved,
                                           retention_days=30, wanted_settings=wanted, book=book)

Raises what the route answers: :class:`~server.errors.ApiError` (a bad body or
a rating of another terminal: nothing stored) and
:class:`~server.ingest.TerminalRevoked` (revoked meanwhile: nothing stored).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from sync.protocol import Pace

from .accounts import Terminal
from .db import LOCK_WAITS
from .ingest import ingest_batch
from .officers import receipt_version, uses_officers
from .refusals import receive_batch
from .rollouts import RolloutBook
from .terminal_settings import WantedVersions


def take_batch(engine: Engine, terminal: Terminal, body: bytes, now_ns: int,
               on_moved: Callable[[Terminal], None], *, retention_days: int, wanted_settings: WantedVersions,
               book: RolloutBook, lock_waits: list[float] | None = None,
               pace: Callable[[], Pace | None] | None = None) -> bytes:
    """Validate ``body`` (a batch's JSON), store it for ``terminal`` and answer its receipt as JSON bytes.

    ``now_ns``: the server's clock when the request arrived; ``on_moved(terminal)``: the terminal was moved
    since its token was read (the caller remembers where it stands now). ``lock_waits``: a list the write lock's
    waits are appended to (seconds, for the ingest gate: server/db.py); ``pace()``: the receipt's pace, asked
    once the batch is stored (server/admission.py).
    """
    received = receive_batch(body, terminal)
    batch = received.batch
    health = batch.health
    moved: list[Terminal] = []

    def moved_to(where: Terminal) -> None:
        moved.append(where)
        on_moved(where)

    # A connection only for the write: none is held while the body streams in. Every read below uses it
    # too: a second connection taken while holding this one could wait on the pool for ever (each worker
    # holding one, all wanting another) until the pool's timeout.
    with engine.connect() as conn:
        if lock_waits is not None:
            conn.info[LOCK_WAITS] = lock_waits
        try:
            receipt = ingest_batch(conn, terminal, batch, received_ns=now_ns, refused=received.refused,
                                   on_moved=moved_to, offer_release=lambda where, failed: book.offer(
                                       where, health.app_version, failed, conn=conn))
        finally:
            conn.info.pop(LOCK_WAITS, None)
        # The version of the officers list of the unit it stands at now (read after the commit).
        here = moved[-1] if moved else terminal
        receipt.officers_version = receipt_version(conn, here.unit_id, retention_days=retention_days,
                                                   asked=uses_officers(batch))
        # The settings version it should run (None: nothing ever set above it, left out of the receipt); from a
        # cache per terminal and generation, so a batch costs no more than a lookup.
        receipt.settings_version = wanted_settings.wanted(
            conn, here.id, (here.province_id, here.unit_id, here.office_id, here.counter_id))
    # A first-wave terminal reporting the release (or its failure) may open or stop its rollout (rollouts.py).
    book.after_heartbeat(here, health)
    if pace is not None:
        receipt.pace = pace()
    # Serialised by pydantic-core directly (the model is built by ingest_batch from checked values);
    # without empty fields, so only a refusal carries a reason.
    return receipt.__pydantic_serializer__.to_json(receipt, exclude_none=True)

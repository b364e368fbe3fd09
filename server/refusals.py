"""Which ratings of a batch the server refuses, and why: each rating is judged on its own.

The envelope (clock, health, the ``ratings`` list itself) stays strict: any fault
there refuses the whole batch (422 naming the field). A rating that fails the
protocol model or a rule the database needs is answered ``refused`` with a
reason ("monotonic_ns: …"); the others are stored. A rating is refused whole
only when it cannot be answered by id (no valid UUID, not an object): then the
whole batch is refused, naming ``ratings.N.id``, as before.

A batch of valid ratings takes the fast path (one validation of the whole
body) and is answered exactly as before refusals existed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pydantic import Field, ValidationError

from sync.protocol import MAX_BATCH_INVITATIONS, MAX_BATCH_RATINGS, MAX_BATCH_SHIFTS, Ack, Batch, Rating

from .accounts import Terminal
from .bodies import api_error, error_words
from .errors import ApiError
from .ingest import check_batch

#: A reason is a sentence, not a dump: a rating with many faults is cut here.
MAX_REASON_CHARS = 300
_MAX_ITEMS = {"ratings": MAX_BATCH_RATINGS, "shifts": MAX_BATCH_SHIFTS, "invitations": MAX_BATCH_INVITATIONS}


class _Envelope(Batch):
    """A batch whose ratings are left unread: each is validated on its own."""

    ratings: list[Any] = Field(default_factory=list, max_length=MAX_BATCH_RATINGS)


@dataclass(frozen=True)
class ReceivedBatch:
    """The ratings the server takes (``batch``) and the refused ones' acks by position as sent."""

    batch: Batch
    refused: dict[int, Ack] = field(default_factory=dict)


def receive_batch(data: bytes, terminal: Terminal) -> ReceivedBatch:
    """Validate a batch body; raise :class:`ApiError` for the envelope, refuse single ratings."""
    try:
        batch = Batch.model_validate_json(data)
        refused: dict[int, Ack] = {}
    except ValidationError as exc:
        batch, refused = _split(data, exc.errors(include_url=False), terminal)
    problems = check_batch(batch, terminal)
    if refused:
        _check_ids_once(batch, refused)
    if problems:
        positions = [i for i in range(len(batch.ratings) + len(refused)) if i not in refused]
        refused = {**refused, **{positions[i]: _refusal(batch.ratings[i].id, reason)
                                 for i, reason in problems.items()}}
        batch = _with_ratings(batch, [r for i, r in enumerate(batch.ratings) if i not in problems])
    return ReceivedBatch(batch, dict(sorted(refused.items())))


def _split(data: bytes, errors: list[dict], terminal: Terminal) -> tuple[Batch, dict[int, Ack]]:
    """The valid ratings as a batch, and an ack for each invalid one; the envelope's faults raise."""
    by_position: dict[int, list[dict]] = {}
    for error in errors:
        loc = error["loc"]
        if len(loc) >= 2 and loc[0] == "ratings" and isinstance(loc[1], int):
            by_position.setdefault(loc[1], []).append(error)
    envelope_errors = [e for e in errors if not any(e is x for v in by_position.values() for x in v)]
    if envelope_errors:
        raise api_error(envelope_errors, _MAX_ITEMS)
    envelope = _Envelope.model_validate_json(data)  # cannot fail: its only faults were in ratings
    refused: dict[int, Ack] = {}
    for position, its_errors in sorted(by_position.items()):
        item = envelope.ratings[position]
        rating_id = _usable_id(item, its_errors)
        if rating_id is None:
            id_errors = [e for e in its_errors if e["loc"][2:3] == ("id",)]
            error = api_error(id_errors or its_errors[:1], {})
            raise ApiError(422, f"{error.message}; a rating without a valid id cannot be answered, so the whole "
                                "batch is refused", field=error.field)
        if isinstance(item.get("terminal_id"), str) and item["terminal_id"] != terminal.id:
            raise ApiError(403, f"ratings.{position}.terminal_id: {item['terminal_id']!r} is not this terminal "
                                f"({terminal.id!r}); a terminal may only upload its own ratings",
                           field=f"ratings.{position}.terminal_id")
        refused[position] = _refusal(rating_id, _reason(its_errors))
    # The valid ratings passed the strict JSON validation once; their JSON again gives the same models.
    valid = [Rating.model_validate_json(json.dumps(item))
             for i, item in enumerate(envelope.ratings) if i not in refused]
    return _with_ratings(envelope, valid), refused


def _usable_id(item: Any, errors: list[dict]) -> UUID | None:
    """The rating's id if the refusal can be answered with it."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    if any(e["loc"][2:3] == ("id",) for e in errors):
        return None
    try:
        return UUID(item["id"])
    except ValueError:
        return None


def _reason(errors: list[dict]) -> str:
    """The faults of one rating as "field: why; field: why", its own fields named from the rating."""
    parts = []
    for error in errors:
        loc, message = error_words(error)
        name = ".".join(loc[2:])
        parts.append(f"{name}: {message}" if name else message)
    reason = "; ".join(parts)
    return reason if len(reason) <= MAX_REASON_CHARS else reason[:MAX_REASON_CHARS - 1] + "…"


def _refusal(rating_id: UUID, reason: str) -> Ack:
    return Ack.model_construct(id=rating_id, status="refused", reason=reason)


def _check_ids_once(batch: Batch, refused: dict[int, Ack]) -> None:
    """A refused rating's id may not appear twice either (the terminal's primary key forbids it)."""
    seen = {rating.id for rating in batch.ratings}
    for position, ack in refused.items():
        if ack.id in seen:
            raise ApiError(422, f"ratings.{position}.id: the id {ack.id} appears twice in this batch; "
                                "send each rating once", field=f"ratings.{position}.id")
        seen.add(ack.id)


def _with_ratings(batch: Batch, ratings: list[Rating]) -> Batch:
    return Batch.model_construct(sent_at=batch.sent_at, boot_id=batch.boot_id, monotonic_ns=batch.monotonic_ns,
                                 health=batch.health, ratings=ratings, shifts=batch.shifts,
                                 invitations=batch.invitations)

"""Generated batches against the server's batch rules (issue 10, suite 3), on a real uvicorn on loopback.

Hypothesis mixes valid ratings with invalid ones (each kind of fault in each field: an unknown level, reason,
outcome or source, a reason where none may be, a date that is not one, an empty or overlong or NUL boot id,
a negative, fractional, textual, too large or too late ``monotonic_ns``, flags other than 0/1, an unknown
field, a missing one) and sometimes breaks the envelope instead (clock, health, the list, a rating without
a usable id, an id twice, another terminal's rating, not JSON, too many ratings). Then:

- a batch with a good envelope is answered 200 with one ack per rating in order: each valid rating
  ``stored`` and found once in the database with exactly the content sent; each invalid one ``refused``
  with a reason naming its field, and not stored; sent again, the valid ones are ``duplicate`` and the
  invalid ones ``refused`` again, and the database holds the same;
- a broken envelope is answered 4xx with ``{"ok": false, "error": "..."}`` and stores nothing at all
  (no rating, no conflict, no health);
- never a 5xx.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliability import SOAK, record, scale
from server_fixtures import *  # noqa: F403
from server_fixtures import make_batch, make_rating
from server.ingest import STORED_AS
from stored_rules import invalid_rows
from sync.protocol import INT64_MAX, MAX_BATCH_RATINGS
from sync.vocabulary import LEVELS, RATING_CONTENT_FIELDS, REASONS, SOURCES

pytestmark = pytest.mark.reliability

BATCHES = scale(60, 2_500)  # per backend
COMMAND = "HAILONG_SOAK=1 .venv/bin/python -m pytest -m reliability tests/test_generated_batches.py"
BATCH_BOOT = "boot-1"
BATCH_MONOTONIC = 9_000_000_000
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- valid ratings ---------------------------------------------------------------------------------------------

@st.composite
def valid_ratings(draw, terminal_id: str) -> dict:
    level = draw(st.sampled_from(LEVELS))
    reason, outcome = None, None
    if level == "dissatisfied":
        outcome = draw(st.sampled_from([None, "given", "skipped", "timeout"]))
        reason = draw(st.sampled_from(REASONS)) if outcome == "given" else None
    boot = draw(st.sampled_from([BATCH_BOOT, "boot-0", "b" * 64, "khởi động 2"]))
    top = BATCH_MONOTONIC if boot == BATCH_BOOT else INT64_MAX
    moment = EPOCH + timedelta(milliseconds=draw(st.integers(0, 10 * 366 * 86_400_000)))
    return make_rating(terminal_id, id=str(uuid.uuid4()), rating=level, reason=reason, reason_outcome=outcome,
                       source=draw(st.sampled_from(SOURCES)), created_at=iso(moment), boot_id=boot,
                       monotonic_ns=draw(st.integers(0, top)), clock_synced=draw(st.sampled_from([0, 1])),
                       filtered=draw(st.sampled_from([0, 1])))


# -- one field made invalid: (field the reason must name, value; None: remove the field) -----------------------

MISSING = object()
FAULTS: list[tuple[str, object]] = [
    ("rating", "happy"), ("rating", 1), ("rating", None), ("rating", "Satisfied"),
    ("reason", "queue_length"), ("reason", 3),
    ("reason_outcome", "forgot"), ("reason_outcome", True),
    ("source", "keyboard"), ("source", None),
    ("created_at", "2026-02-30T09:30:12.345Z"), ("created_at", "2026-11-25 09:30:12"), ("created_at", 0),
    ("created_at", "2026-11-25T24:00:00.000Z"), ("created_at", "2026-11-25T09:30:12.345+07:00"),
    ("boot_id", ""), ("boot_id", "b" * 65), ("boot_id", "boot\x00"), ("boot_id", 7),
    ("monotonic_ns", -1), ("monotonic_ns", 1.5), ("monotonic_ns", "6000"), ("monotonic_ns", INT64_MAX + 1),
    ("monotonic_ns", BATCH_MONOTONIC + 1), ("monotonic_ns", None),
    ("clock_synced", 2), ("clock_synced", "1"), ("clock_synced", -1), ("clock_synced", True),
    ("filtered", 2), ("filtered", "0"), ("filtered", 0.5),
    ("colour", "red"),
    ("rating", MISSING), ("source", MISSING), ("created_at", MISSING), ("monotonic_ns", MISSING),
    ("boot_id", MISSING), ("clock_synced", MISSING), ("terminal_id", MISSING),
]
#: Faults of the reason rules (a reason where none may be): the reason names "reason".
RULE_FAULTS = [
    {"rating": "satisfied", "reason": "facilities", "reason_outcome": "given"},
    {"rating": "very_satisfied", "reason_outcome": "skipped"},
    {"rating": "dissatisfied", "reason": "facilities", "reason_outcome": "skipped"},
    {"rating": "dissatisfied", "reason": None, "reason_outcome": "given"},
    {"rating": "dissatisfied", "reason": "facilities", "reason_outcome": None},
]


@st.composite
def invalid_ratings(draw, terminal_id: str) -> tuple[dict, str]:
    """A rating with one fault and the field its refusal must name."""
    rating = draw(valid_ratings(terminal_id))
    if draw(st.integers(0, 7)) == 0:
        rating.update(draw(st.sampled_from(RULE_FAULTS)))
        return rating, "reason"
    field, value = draw(st.sampled_from(FAULTS))
    if field == "monotonic_ns" and value == BATCH_MONOTONIC + 1:
        rating["boot_id"] = BATCH_BOOT  # later than its own batch was sent
    if value is MISSING:
        del rating[field]
    else:
        rating[field] = value
    return rating, field


# -- broken envelopes: how to break a batch whose ratings are otherwise fine ----------------------------------

def _break(kind: str, batch: dict, other_terminal: str):
    """The body (bytes or a dict) of ``batch`` broken in one way, and the statuses it may get."""
    ratings = batch["ratings"]
    if kind == "sent_at":
        return {**batch, "sent_at": "2026-02-30T09:30:15.000Z"}, {422}
    if kind == "sent_at pattern":
        return {**batch, "sent_at": "yesterday"}, {422}
    if kind == "batch monotonic_ns":
        return {**batch, "monotonic_ns": -5}, {422}
    if kind == "health missing":
        return {k: v for k, v in batch.items() if k != "health"}, {422}
    if kind == "health pending":
        return {**batch, "health": {**batch["health"], "pending": -1}}, {422}
    if kind == "health app_version":
        return {**batch, "health": {**batch["health"], "app_version": "v" * 33}}, {422}
    if kind == "health last_error NUL":
        return {**batch, "health": {**batch["health"], "last_error": "disk\x00"}}, {422}
    if kind == "ratings not a list":
        return {**batch, "ratings": {"0": ratings[:1]}}, {422}
    if kind == "unknown envelope field":
        return {**batch, "colour": "red"}, {422}
    if kind == "rating without id" and ratings:
        return {**batch, "ratings": [*ratings[:-1], {k: v for k, v in ratings[-1].items() if k != "id"}]}, {422}
    if kind == "rating with a bad id" and ratings:
        return {**batch, "ratings": [*ratings[:-1], {**ratings[-1], "id": "not-a-uuid"}]}, {422}
    if kind == "rating not an object" and ratings:
        return {**batch, "ratings": [*ratings, "satisfied"]}, {422}
    if kind == "id twice" and ratings:
        return {**batch, "ratings": [*ratings, dict(ratings[0])]}, {422}
    if kind == "another terminal" and ratings:
        return {**batch, "ratings": [*ratings[:-1], {**ratings[-1], "terminal_id": other_terminal}]}, {403}
    if kind == "too many":
        filler = [{**(ratings[0] if ratings else make_rating(batch["_terminal"])), "id": str(uuid.uuid4())}
                  for _ in range(MAX_BATCH_RATINGS + 1 - len(ratings))]
        return {**batch, "ratings": [*ratings, *filler]}, {413}
    # not JSON at all (the default, also for list faults of an empty batch)
    return json.dumps(batch)[:-1].encode(), {400, 422}


ENVELOPE_FAULTS = ["sent_at", "sent_at pattern", "batch monotonic_ns", "health missing", "health pending",
                   "health app_version", "health last_error NUL", "ratings not a list", "unknown envelope field",
                   "rating without id", "rating with a bad id", "rating not an object", "id twice",
                   "another terminal", "too many", "not JSON"]


@st.composite
def batches(draw, terminal_id: str):
    """(batch, [field named by the refusal or None for a valid rating], envelope fault or None)."""
    items = draw(st.lists(st.one_of(valid_ratings(terminal_id).map(lambda r: (r, None)),
                                    invalid_ratings(terminal_id)), max_size=12))
    batch = make_batch([rating for rating, _ in items], boot_id=BATCH_BOOT, monotonic_ns=BATCH_MONOTONIC,
                       health={"pending": draw(st.integers(0, 10**6)), "last_error": None})
    fault = draw(st.sampled_from(ENVELOPE_FAULTS)) if draw(st.integers(0, 4)) == 0 else None
    return batch, [field for _, field in items], fault


# -- the property ---------------------------------------------------------------------------------------------

def _stored(server, rating_id: str) -> list[dict]:
    return server.rows("ratings", id=rating_id)


def _health(server, terminal_id: str) -> dict:
    (row,) = server.rows("terminals", id=terminal_id)
    return {k: row[k] for k in ("last_seen_at", "pending", "app_version", "last_error", "last_boot_id")}


def _post(server, terminal, body: bytes | dict) -> requests.Response:
    if isinstance(body, bytes):
        return server.post("/api/v1/batches", data=body,
                           headers={**terminal.headers, "Content-Type": "application/json"})
    return server.upload(terminal, body)


def test_generated_batches_store_the_valid_once_and_refuse_the_invalid_with_a_reason(start_server, server_db_url):
    server = start_server(rate_limit_per_s=1_000_000.0, rate_limit_burst=1_000_000)
    terminal, other = server.enroll(), server.enroll(site="UBND phường Văn Quán")
    figures = Counter()

    @settings(max_examples=BATCHES, deadline=None, database=None, derandomize=not SOAK,
              suppress_health_check=list(HealthCheck))
    @given(case=batches(terminal.id))
    def check(case):
        batch, faults, envelope = case
        ratings = batch["ratings"]
        figures["batches"] += 1
        if envelope is not None:
            body, expected = _break(envelope, {**batch, "_terminal": terminal.id}, other.id)
            if isinstance(body, dict):
                body.pop("_terminal", None)
            before = (server.count("ratings"), server.count("rating_conflicts"), _health(server, terminal.id))
            answer = _post(server, terminal, body)
            figures["server_errors"] += answer.status_code >= 500
            assert answer.status_code in expected, (envelope, answer.status_code, answer.text)
            assert answer.json()["ok"] is False and answer.json()["error"].strip(), answer.text
            after = (server.count("ratings"), server.count("rating_conflicts"), _health(server, terminal.id))
            assert after == before, f"{envelope}: a refused batch changed the database"
            figures["envelopes_refused"] += 1
            return
        for attempt in ("first", "again"):
            answer = server.upload(terminal, batch)
            figures["server_errors"] += answer.status_code >= 500
            assert answer.status_code == 200, (attempt, answer.status_code, answer.text)
            acks = answer.json()["acks"]
            assert [ack["id"] for ack in acks] == [r["id"] for r in ratings]
            for rating, fault, ack in zip(ratings, faults, acks):
                rows = _stored(server, rating["id"])
                if fault is None:
                    assert ack["status"] == ("stored" if attempt == "first" else "duplicate"), ack
                    assert len(rows) == 1, f"a valid rating is stored {len(rows)} times"
                    assert {k: rows[0][STORED_AS.get(k, k)] for k in RATING_CONTENT_FIELDS} == \
                        {k: rating.get(k) for k in RATING_CONTENT_FIELDS}
                else:
                    assert ack["status"] == "refused" and fault in ack["reason"], (fault, rating, ack)
                    assert rows == [], f"a refused rating ({fault}) was stored"
            figures["valid_ratings" if attempt == "first" else "resent"] += faults.count(None)
            figures["refused_ratings"] += (attempt == "first") * (len(faults) - faults.count(None))

    check()
    # Every valid rating sent is in the database once; nothing else is.
    assert server.count("ratings") == figures["valid_ratings"]
    assert figures["server_errors"] == 0
    invalid = invalid_rows(server.engine)
    assert not invalid, "\n".join(invalid[:20])
    backend = "SQLite" if server_db_url.startswith("sqlite") else "PostgreSQL"
    stored = Counter(row["id"] for row in server.rows("ratings"))
    record(f"Generated batches ({backend})", cases=figures["batches"], server_errors=figures["server_errors"],
           duplicated=sum(n - 1 for n in stored.values()), lost=figures["valid_ratings"] - len(stored),
           ratings_stored=len(stored), ratings_refused=figures["refused_ratings"],
           envelopes_refused=figures["envelopes_refused"], invalid_stored=len(invalid), command=COMMAND)


# -- a defect the generated batches found ---------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [("clock_synced", True), ("filtered", False), ("filtered", True)])
def test_a_flag_sent_as_true_or_false_is_refused_as_the_documented_schema_says(server, field, value):
    # The schema documents clock_synced and filtered as the integers 0 and 1; JSON's true and false were
    # stored as 1 and 0.
    terminal = server.enroll()
    ratings = [make_rating(terminal.id, **{field: value}), make_rating(terminal.id)]
    answer = server.upload(terminal, make_batch(ratings))
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["acks"]
    assert first["status"] == "refused" and first["reason"].startswith(f"{field}:"), first
    assert second["status"] == "stored"
    assert server.count("ratings", id=ratings[0]["id"]) == 0 and server.count("ratings", id=ratings[1]["id"]) == 1

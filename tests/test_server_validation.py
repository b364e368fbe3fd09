"""Malformed batches: each gets its 4xx with a plain message and a field, and nothing is stored;
an invalid rating in a valid envelope is answered ``refused`` with its reason, and only it is left out.

No request, however malformed, gets a 500.
"""

from __future__ import annotations

import json
import random

import pytest

from server_fixtures import *  # noqa: F403

JSON = {"Content-Type": "application/json"}


def rating_case(**fields):
    return lambda tid: make_batch([make_rating(tid), make_rating(tid, **fields)])


def without(field):
    def build(tid):
        rating = make_rating(tid)
        del rating[field]
        return make_batch([rating])
    return build


def raw(data: bytes, content_type="application/json"):
    return (data, content_type)


# name -> (body builder or raw bytes, status, field)
CASES = {
    "bad JSON": (raw(b'{"sent_at": "2026-11-25T09:30:15.000Z", '), 422, None),
    "empty body": (raw(b""), 422, None),
    "JSON but not an object": (raw(b"[1, 2, 3]"), 422, None),
    "missing id": (without("id"), 422, "ratings.0.id"),
    "id not a UUID": (rating_case(id="not-a-uuid"), 422, "ratings.1.id"),
    "id a number": (rating_case(id=12345), 422, "ratings.1.id"),
    "lone surrogate in boot_id": (raw(None), 422, None),  # built below: JSON escapes cannot be made by json.dumps
    "ratings not a list": (lambda tid: make_batch([]) | {"ratings": {"a": 1}}, 422, "ratings"),
    "health missing": (lambda tid: {k: v for k, v in make_batch([]).items() if k != "health"}, 422, "health"),
    "pending negative": (lambda tid: make_batch([], health={"pending": -5}), 422, "health.pending"),
    "pending beyond 64 bits": (lambda tid: make_batch([], health={"pending": 2**70}), 422, "health.pending"),
    "sent_at not a real date": (lambda tid: make_batch([], sent_at="2026-02-30T00:00:00.000Z"), 422, "sent_at"),
    "batch monotonic_ns beyond 64 bits": (lambda tid: make_batch([], monotonic_ns=2**64), 422, "monotonic_ns"),
    "unknown top-level field": (lambda tid: make_batch([]) | {"extra": [1, {"b": [None]}]}, 422, "extra"),
    "501 ratings": (lambda tid: make_batch([make_rating(tid, monotonic_ns=i) for i in range(501)]), 413, "ratings"),
    "over 512 KiB": (lambda tid: make_batch([make_rating(tid)], health={"last_error": "x" * 400})
                     | {"padding": "y" * (600 * 1024)}, 413, None),
    "text/plain content type": (lambda tid: raw(json.dumps(make_batch([make_rating(tid)])).encode(), "text/plain"),
                                415, None),
    "form content type": (raw(b"a=1&b=2", "application/x-www-form-urlencoded"), 415, None),
    "no content type": (lambda tid: raw(json.dumps(make_batch([make_rating(tid)])).encode(), None), 415, None),
    "not UTF-8": (raw(b'{"sent_at": "\xff\xfe\x00\xc3(", "boot_id": "b"}'), 422, None),
    "UTF-16": (lambda tid: raw(json.dumps(make_batch([make_rating(tid)])).encode("utf-16")), 422, None),
    "deeply nested junk": (raw(b'{"ratings": ' + b"[" * 5000 + b"]" * 5000 + b"}"), 422, None),
}

# name -> (body builder, position of the refused rating, the field its reason names ("" for the rating whole))
REFUSED = {
    "unknown rating": (rating_case(rating="meh"), 1, "rating"),
    "missing terminal_id": (without("terminal_id"), 0, "terminal_id"),
    "monotonic_ns as text": (rating_case(monotonic_ns="6000000000"), 1, "monotonic_ns"),
    "monotonic_ns negative": (rating_case(monotonic_ns=-1), 1, "monotonic_ns"),
    "monotonic_ns a float": (rating_case(monotonic_ns=6.5), 1, "monotonic_ns"),
    "monotonic_ns beyond 64 bits": (rating_case(monotonic_ns=10**30, boot_id="boot-0"), 1, "monotonic_ns"),
    "clock_synced as text": (rating_case(clock_synced="1"), 1, "clock_synced"),
    "clock_synced 2": (rating_case(clock_synced=2), 1, "clock_synced"),
    "created_at not ISO": (rating_case(created_at="25/11/2026 09:30"), 1, "created_at"),
    "created_at not a real date": (rating_case(created_at="2026-13-45T09:30:12.345Z"), 1, "created_at"),
    "reason on a satisfied rating": (rating_case(reason="processing_time", reason_outcome="given"), 1, ""),
    "reason without outcome given": (rating_case(rating="dissatisfied", reason="processing_time",
                                                 reason_outcome="skipped"), 1, ""),
    "unknown reason": (rating_case(rating="dissatisfied", reason="weather", reason_outcome="given"), 1, "reason"),
    "unknown field in a rating": (rating_case(colour="blue"), 1, "colour"),
    "rating after the batch was sent": (rating_case(monotonic_ns=9_000_000_001), 1, "monotonic_ns"),
    "NUL in boot_id": (rating_case(boot_id="boot\x00-1"), 1, "boot_id"),
}


def build(case, tid):
    spec = CASES[case][0]
    if case == "lone surrogate in boot_id":
        text = json.dumps(make_batch([make_rating(tid, boot_id="BOOT")]))
        return text.replace('"BOOT"', '"\\ud800"').encode(), "application/json"
    if isinstance(spec, tuple):
        return spec
    document = spec(tid)
    if isinstance(document, tuple):
        return document
    return json.dumps(document).encode(), "application/json"


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_batch(server, case):
    terminal = server.enroll()
    data, content_type = build(case, terminal.id)
    headers = {**terminal.headers, **({"Content-Type": content_type} if content_type else {})}
    answer = server.post("/api/v1/batches", data=data, headers=headers)
    status, field = CASES[case][1], CASES[case][2]
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["ok"] is False and isinstance(body["error"], str) and len(body["error"]) > 10
    if field is not None:
        assert body["field"] == field, body
        assert body["error"].startswith(field), body
    assert server.count("ratings") == 0
    assert server.rows("terminals", id=terminal.id)[0]["last_seen_at"] is None


@pytest.mark.parametrize("case", list(REFUSED))
def test_an_invalid_rating_is_refused_with_its_reason_and_the_rest_stored(server, case):
    terminal = server.enroll()
    builder, position, field = REFUSED[case]
    document = builder(terminal.id)
    answer = server.upload(terminal, document)
    assert answer.status_code == 200, answer.text
    acks = answer.json()["acks"]
    assert [a["id"] for a in acks] == [r["id"] for r in document["ratings"]]  # every rating, in order
    refused = acks[position]
    assert refused["status"] == "refused" and len(refused["reason"]) > 10, refused
    if field:
        assert refused["reason"].startswith(f"{field}: "), refused
    others = [a for i, a in enumerate(acks) if i != position]
    assert all(a["status"] == "stored" and "reason" not in a for a in others)
    assert {r["id"] for r in server.rows("ratings")} == {a["id"] for a in others}
    assert server.rows("terminals", id=terminal.id)[0]["pending"] == 0  # the refused one is answered too


def test_oversized_content_length_is_refused_before_reading(server):
    import http.client
    from urllib.parse import urlsplit

    terminal = server.enroll()
    address = urlsplit(server.url)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        conn.putrequest("POST", "/api/v1/batches")
        for name, value in {**terminal.headers, **JSON, "Content-Length": str(10 * 1024 * 1024)}.items():
            conn.putheader(name, value)
        # Only two bytes of the announced 10 MiB are sent: the answer must come from the header alone.
        conn.endheaders(b"{}")
        answer = conn.getresponse()
        assert answer.status == 413
        assert json.loads(answer.read())["ok"] is False
    finally:
        conn.close()


def test_oversized_chunked_body_is_refused(server):
    terminal = server.enroll()

    def chunks():
        yield b'{"padding": "'
        for _ in range(700):
            yield b"z" * 1024
        yield b'"}'

    answer = server.post("/api/v1/batches", data=chunks(), headers={**terminal.headers, **JSON})
    assert answer.status_code == 413
    assert answer.json()["ok"] is False


def test_garbage_never_gets_a_500(server):
    """Random bytes, random JSON shapes, wrong methods and paths: always a 4xx envelope."""
    terminal = server.enroll()
    rng = random.Random(20261125)
    valid = json.dumps(make_batch([make_rating(terminal.id)])).encode()
    bodies = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) for _ in range(40)]
    bodies += [valid[:cut] for cut in range(0, len(valid), 37)]
    bodies += [bytes(b ^ (1 << rng.randrange(8)) if rng.random() < 0.05 else b for b in valid) for _ in range(40)]
    bodies += [json.dumps(v).encode() for v in (None, 1e308, -1, "x", [], {"ratings": None}, {"health": []},
                                                 {"sent_at": 10**400 if False else 1e400})]
    for body in bodies:
        answer = server.post("/api/v1/batches", data=body, headers={**terminal.headers, **JSON})
        assert 400 <= answer.status_code < 500 or answer.status_code == 200, (body, answer.text)
        assert answer.json()["ok"] is (answer.status_code == 200)
    for body in bodies[::3] + [b'{"code": "' + rb'\ud800' * 10 + b'"}', rb'{"code": "hl_enr_\u0000xxxx"}']:
        answer = server.post("/api/v1/enroll", data=body, headers=JSON)
        assert 400 <= answer.status_code < 500, (body, answer.text)
        assert answer.json()["ok"] is False
    for method, path in [("GET", "/api/v1/batches"), ("PUT", "/api/v1/batches"), ("DELETE", "/api/v1/ratings"),
                         ("GET", "/api/v1/nothing"), ("POST", "/api/v1/ratings")]:
        answer = server.http.request(method, server.url + path, headers=terminal.headers, timeout=30)
        assert answer.status_code in (404, 405), answer.text
        assert answer.json()["ok"] is False
    for query in ("after=-1", "after=abc", "limit=0", "limit=x", f"after={2**70}", "format=xml"):
        answer = server.get(f"/api/v1/ratings?{query}", headers=server.admin_headers())
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] in ("after", "limit", "format")

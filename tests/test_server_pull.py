"""GET /api/v1/ratings (cursor paging, JSON and CSV) and GET /api/v1/terminals."""

from __future__ import annotations

import csv
import io
import threading
import time

import pytest

from server_fixtures import *  # noqa: F403
from sync.protocol import Batch


def upload_many(server, terminal, n, per_batch=50):
    ids = []
    for start in range(0, n, per_batch):
        batch = [make_rating(terminal.id, monotonic_ns=i) for i in range(start, min(n, start + per_batch))]
        answer = server.upload(terminal, make_batch(batch))
        assert answer.status_code == 200, answer.text
        ids += [r["id"] for r in batch]
    return ids


def pull_json(server, headers, limit, after=0):
    ids, cursors, pages = [], [], 0
    while True:
        answer = server.get("/api/v1/ratings", params={"after": after, "limit": limit}, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["ok"] is True and len(body["ratings"]) <= limit
        ids += [r["id"] for r in body["ratings"]]
        cursors += [r["cursor"] for r in body["ratings"]]
        pages += 1
        if body["next"] is None:
            return ids, cursors, pages, (cursors[-1] if cursors else after)
        assert body["next"] == body["ratings"][-1]["cursor"]
        after = body["next"]


def test_json_pages_have_no_gaps_or_repeats(server):
    terminal = server.enroll()
    sent = upload_many(server, terminal, 230)
    headers = server.admin_headers()
    ids, cursors, pages, last = pull_json(server, headers, limit=50)
    assert ids == sent  # every rating once, in upload order
    assert cursors == sorted(set(cursors))
    assert pages == 5
    # Later pulls start where the last one ended and see only what is new.
    more = upload_many(server, terminal, 7)
    assert pull_json(server, headers, limit=50, after=last)[0] == more


def test_json_rating_has_every_field(server):
    terminal = server.enroll()
    rating = make_rating(terminal.id, rating="dissatisfied", reason="staff_attitude", reason_outcome="given")
    server.upload(terminal, make_batch([rating]))
    pulled, = server.get("/api/v1/ratings", headers=server.admin_headers()).json()["ratings"]
    for key, value in rating.items():
        assert pulled[key] == value
    assert pulled["site"] == TERMINAL_SITE and pulled["counter"] == TERMINAL_COUNTER
    assert pulled["time_quality"] == "exact" and pulled["corrected_at"] and pulled["received_at"]


@pytest.mark.parametrize("how", ["accept", "query"])
def test_csv_pages_with_bom_have_no_gaps_or_repeats(server, how):
    terminal = server.enroll()
    sent = upload_many(server, terminal, 120)
    headers = server.admin_headers()
    got, after = [], 0
    while True:
        params = {"after": after, "limit": 25}
        if how == "query":
            params["format"] = "csv"
        answer = server.get("/api/v1/ratings", params=params,
                            headers={**headers, **({"Accept": "text/csv"} if how == "accept" else {})})
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"].startswith("text/csv")
        assert answer.content.startswith("\ufeff".encode("utf-8"))
        rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
        got += [row["id"] for row in rows]
        if not answer.headers["X-Next-Cursor"]:
            break
        assert answer.headers["X-Next-Cursor"] == rows[-1]["cursor"]
        after = int(answer.headers["X-Next-Cursor"])
    assert got == sent
    assert rows[0]["site"] == TERMINAL_SITE  # Vietnamese survives the round trip


def test_limit_is_capped_by_the_server(start_server):
    server = start_server(ratings_page_max=30)
    terminal = server.enroll()
    upload_many(server, terminal, 45)
    body = server.get("/api/v1/ratings", params={"limit": 1000}, headers=server.admin_headers()).json()
    assert len(body["ratings"]) == 30 and body["next"] == body["ratings"][-1]["cursor"]


def test_paging_while_terminals_upload_misses_nothing(server):
    """Cursors become visible in commit order, so a reader racing the writers never skips one."""
    terminals = [server.enroll() for _ in range(4)]
    headers = server.admin_headers()
    sent: list[str] = []
    lock = threading.Lock()

    def write(terminal):
        import requests
        with requests.Session() as http:
            for _ in range(15):
                batch = [make_rating(terminal.id) for _ in range(20)]
                answer = http.post(server.url + "/api/v1/batches", json=make_batch(batch), headers=terminal.headers,
                                   timeout=60)
                assert answer.status_code == 200
                with lock:
                    sent.extend(r["id"] for r in batch)

    writers = [threading.Thread(target=write, args=(t,)) for t in terminals]
    for writer in writers:
        writer.start()
    seen, after = [], 0
    while any(w.is_alive() for w in writers):
        ids, _cursors, _pages, after = pull_json(server, headers, limit=7, after=after)
        seen += ids
    for writer in writers:
        writer.join()
    seen += pull_json(server, headers, limit=7, after=after)[0]
    assert len(seen) == len(set(seen)) == 4 * 15 * 20
    assert set(seen) == set(sent)


def test_terminals_lists_health_and_revocation(start_server):
    clock = FakeClock()
    server = start_server(clock=clock)
    quiet = server.enroll(counter="Quầy 2")
    busy = server.enroll()
    server.upload(busy, make_batch([make_rating(busy.id)], sent_at="2026-11-25T09:30:03.000Z",
                                   health={"pending": 17, "app_version": "0.3.1", "clock_synced": True,
                                           "last_error": "timeout talking to the server"}))
    server.revoke(quiet.id)
    answer = server.get("/api/v1/terminals", headers=server.admin_headers())
    assert answer.status_code == 200, answer.text
    listed = {t["id"]: t for t in answer.json()["terminals"]}
    assert set(listed) == {quiet.id, busy.id}
    assert listed[busy.id] | {} == {
        "id": busy.id, "site": TERMINAL_SITE, "counter": TERMINAL_COUNTER,
        "node_id": server.rows("terminals", id=busy.id)[0]["counter_id"], "enrolled_at": "2026-11-25T09:30:00.000Z",
        "revoked": False, "revoked_at": None, "last_seen_at": "2026-11-25T09:30:00.000Z", "app_version": "0.3.1",
        "pending": 16, "clock_synced": True, "clock_offset_s": pytest.approx(3.0),  # 17 minus this batch
        "last_error": "timeout talking to the server", "kept_aside": None, "kept_aside_causes": None,
        "settings_wanted": None, "settings_applied": None, "settings_error": None,  # issue 13: none set
        "update_state": None, "update_version": None, "update_error": None}  # issue 13: no update offered
    assert listed[quiet.id]["revoked"] is True and listed[quiet.id]["last_seen_at"] is None
    assert listed[quiet.id]["counter"] == "Quầy 2"


def test_a_later_batch_waits_for_an_uncommitted_earlier_one(server, monkeypatch):
    """Cursors are visible in commit order: while one batch is inserted but not committed, the next
    batch's insert waits, so a reader can never see cursor N+1 before N (PostgreSQL sequences alone
    would allow that; the cursor lock prevents it, SQLite's single writer too)."""
    import server.ingest as ingest
    from server.accounts import Terminal

    # Two terminals, so that nothing but the cursor lock orders them (not the terminal's row).
    one, two = server.enroll(), server.enroll()
    terminals = {one.id: Terminal(one.id, TERMINAL_SITE, TERMINAL_COUNTER),
                 two.id: Terminal(two.id, TERMINAL_SITE, TERMINAL_COUNTER)}
    first = Batch.model_validate(make_batch([make_rating(one.id)]))
    second = Batch.model_validate(make_batch([make_rating(two.id)]))
    inserted, release = threading.Event(), threading.Event()
    holder = {}
    original = ingest.answered

    def slow_ack(*args, **kwargs):  # called inside the transaction, after the insert
        if threading.get_ident() == holder.get("thread"):
            inserted.set()
            release.wait(20)
        return original(*args, **kwargs)

    monkeypatch.setattr(ingest, "answered", slow_ack)

    def ingest_in_thread(batch, results, hold=False):
        if hold:
            holder["thread"] = threading.get_ident()
        with server.engine.connect() as conn:
            terminal = terminals[batch.ratings[0].terminal_id]
            results.append(ingest.ingest_batch(conn, terminal, batch, received_ns=time.time_ns()))

    results_first, results_second = [], []
    holding = threading.Thread(target=ingest_in_thread, args=(first, results_first, True))
    holding.start()
    assert inserted.wait(20)
    following = threading.Thread(target=ingest_in_thread, args=(second, results_second))
    following.start()
    following.join(1.0)
    try:
        assert following.is_alive(), "the second batch committed while the first was still open"
        assert server.count("ratings") == 0
    finally:
        release.set()
        holding.join(20)
        following.join(20)
    cursors = {row["id"]: row["cursor"] for row in server.rows("ratings")}
    assert cursors[str(first.ratings[0].id)] < cursors[str(second.ratings[0].id)]

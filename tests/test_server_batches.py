"""POST /api/v1/batches: every rating stored exactly once, atomically; resends acknowledged."""

from __future__ import annotations

import json
import threading

import pytest

from server_fixtures import *  # noqa: F403

CONTENT = ("id", "terminal_id", "rating", "reason", "reason_outcome", "source", "created_at", "boot_id",
           "monotonic_ns", "clock_synced", "filtered")


def acks(answer) -> dict:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is True
    return {ack["id"]: ack["status"] for ack in body["acks"]}


def test_new_ratings_are_stored_with_all_fields_site_and_counter(server):
    terminal = server.enroll()
    sent = [make_rating(terminal.id), make_rating(terminal.id, rating="dissatisfied", reason="processing_time",
                                                  reason_outcome="given", source="touch", filtered=1)]
    answer = server.upload(terminal, make_batch(sent))
    assert acks(answer) == {r["id"]: "stored" for r in sent}
    assert [a["id"] for a in answer.json()["acks"]] == [r["id"] for r in sent]  # in order
    stored = {row["id"]: row for row in server.rows("ratings")}
    for rating in sent:
        row = stored[rating["id"]]
        assert {k: row[k] for k in CONTENT} == rating
        assert (row["site"], row["counter"]) == (TERMINAL_SITE, TERMINAL_COUNTER)
        assert row["received_at"] == answer.json()["received_at"]


def test_identical_resend_is_duplicate_and_stores_nothing_more(server):
    terminal = server.enroll()
    sent = [make_rating(terminal.id) for _ in range(3)]
    acks(server.upload(terminal, make_batch(sent)))
    assert acks(server.upload(terminal, make_batch(sent))) == {r["id"]: "duplicate" for r in sent}
    assert server.count("ratings") == 3
    assert server.count("rating_conflicts") == 0


def test_same_id_other_content_is_conflict_kept_aside_never_overwriting(server):
    terminal = server.enroll()
    original = make_rating(terminal.id)
    acks(server.upload(terminal, make_batch([original])))
    changed = {**original, "rating": "very_satisfied"}
    assert acks(server.upload(terminal, make_batch([changed]))) == {original["id"]: "conflict"}
    row, = server.rows("ratings")
    assert row["rating"] == "satisfied"
    conflict, = server.rows("rating_conflicts")
    assert conflict["rating_id"] == original["id"] and conflict["terminal_id"] == terminal.id
    assert json.loads(conflict["content"])["rating"] == "very_satisfied"
    # The same conflicting resend is kept once; a different one is kept too.
    acks(server.upload(terminal, make_batch([changed])))
    assert server.count("rating_conflicts") == 1
    acks(server.upload(terminal, make_batch([{**original, "source": "touch"}])))
    assert server.count("rating_conflicts") == 2


def test_batch_mixing_new_duplicate_and_conflict(server):
    terminal = server.enroll()
    old_same, old_changed = make_rating(terminal.id), make_rating(terminal.id)
    acks(server.upload(terminal, make_batch([old_same, old_changed])))
    new = make_rating(terminal.id, rating="very_satisfied")
    batch = make_batch([new, old_same, {**old_changed, "created_at": "2026-11-25T09:31:00.000Z"}])
    assert acks(server.upload(terminal, batch)) == {new["id"]: "stored", old_same["id"]: "duplicate",
                                                     old_changed["id"]: "conflict"}
    assert server.count("ratings") == 3
    assert server.count("rating_conflicts") == 1


def test_uuid_in_capitals_is_the_same_rating(server):
    terminal = server.enroll()
    rating = make_rating(terminal.id)
    acks(server.upload(terminal, make_batch([rating])))
    assert acks(server.upload(terminal, make_batch([{**rating, "id": rating["id"].upper()}]))) == \
        {rating["id"]: "duplicate"}


def test_a_mixed_batch_stores_only_the_valid_ratings_and_refuses_the_others_with_a_reason(server):
    terminal = server.enroll()
    old = make_rating(terminal.id)
    acks(server.upload(terminal, make_batch([old])))
    good = [make_rating(terminal.id, monotonic_ns=1_000 * i) for i in range(4)]
    negative = make_rating(terminal.id, monotonic_ns=-5)
    not_integer = make_rating(terminal.id, monotonic_ns="12abc")
    a_float = make_rating(terminal.id, monotonic_ns=6.5)
    sent = [good[0], negative, good[1], old, not_integer, good[2], {**old, "id": make_rating(terminal.id)["id"],
            "rating": "meh"}, a_float, good[3]]
    answer = server.upload(terminal, make_batch(sent, health={"pending": len(sent) + 2}))
    assert answer.status_code == 200, answer.text
    answered = answer.json()["acks"]
    assert [a["id"] for a in answered] == [r["id"] for r in sent]
    assert [a["status"] for a in answered] == ["stored", "refused", "stored", "duplicate", "refused", "stored",
                                               "refused", "refused", "stored"]
    reasons = [a.get("reason") for a in answered]
    assert reasons[1].startswith("monotonic_ns: ") and "greater than or equal to 0" in reasons[1]
    assert reasons[4].startswith("monotonic_ns: ") and "integer" in reasons[4]
    assert reasons[6].startswith("rating: ") and reasons[7].startswith("monotonic_ns: ")
    assert [r for i, r in enumerate(reasons) if i not in (1, 4, 6, 7)] == [None] * 5  # only refusals explain
    # Nothing of a refused rating is stored: not the row, not a conflict, not a tally.
    assert {r["id"] for r in server.rows("ratings")} == {old["id"]} | {r["id"] for r in good}
    assert server.count("rating_conflicts") == 0
    assert sum(r["n"] for r in server.rows("rating_tallies")) == 5
    assert server.rows("terminals")[0]["pending"] == 2  # every rating sent was answered


def test_a_batch_of_valid_ratings_is_answered_exactly_as_before(server):
    # Old terminals read the receipt with the old model (no "refused", no "reason"): nothing new appears.
    terminal = server.enroll()
    answer = server.upload(terminal, make_batch([make_rating(terminal.id) for _ in range(3)]))
    assert answer.status_code == 200
    assert set(answer.json()) == {"ok", "acks", "received_at", "clock_offset_s"}
    assert all(set(ack) == {"id", "status"} for ack in answer.json()["acks"])


def test_a_rating_without_a_usable_id_refuses_the_whole_batch(server):
    # It could not be answered by id, so the terminal is told which one, and nothing is stored.
    terminal = server.enroll()
    answer = server.upload(terminal, make_batch([make_rating(terminal.id), make_rating(terminal.id, id="nope",
                                                                                         monotonic_ns=-1)]))
    assert answer.status_code == 422
    assert answer.json()["field"] == "ratings.1.id"
    assert server.count("ratings") == 0


def test_ratings_kept_aside_on_a_terminal_show_on_the_fleet_page(server):
    terminal = server.enroll()
    acks(server.upload(terminal, make_batch([], health={"kept_aside": 3})))  # a terminal that names no cause
    listed, = server.get("/api/v1/terminals", headers=server.admin_headers()).json()["terminals"]
    assert (listed["kept_aside"], listed["kept_aside_causes"], listed["last_error"]) == (3, None, None)
    from dashboard_fixtures import log_in

    page = log_in(server, server.person(), next_path="/fleet").get(server.url + "/fleet", timeout=30)
    assert page.status_code == 200 and "<bdi>nguyên nhân không rõ</bdi>: 3" in page.text


def test_failure_inside_the_transaction_rolls_back_every_rating(server, monkeypatch):
    """The ratings are inserted before the conflict rows; a failure after them undoes them."""
    import server.ingest as ingest

    terminal = server.enroll()
    old = make_rating(terminal.id)
    acks(server.upload(terminal, make_batch([old])))

    class BrokenHashlib:
        @staticmethod
        def sha256(*args):
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(ingest, "hashlib", BrokenHashlib)
    fresh = [make_rating(terminal.id) for _ in range(3)]
    answer = server.upload(terminal, make_batch(fresh + [{**old, "rating": "dissatisfied"}]))
    assert answer.status_code == 500
    assert answer.json()["ok"] is False and "server" in answer.json()["error"]
    assert server.count("ratings") == 1


def test_duplicate_id_inside_one_batch_is_refused(server):
    terminal = server.enroll()
    rating = make_rating(terminal.id)
    answer = server.upload(terminal, make_batch([make_rating(terminal.id), rating, dict(rating)]))
    assert answer.status_code == 422
    assert answer.json()["field"] == "ratings.2.id"
    assert "twice" in answer.json()["error"]
    assert server.count("ratings") == 0


def test_empty_batch_is_a_heartbeat_updating_health(start_server):
    clock = FakeClock()
    server = start_server(clock=clock)
    terminal = server.enroll()
    batch = make_batch([], sent_at="2026-11-25T09:30:02.500Z",
                       health={"pending": 42, "app_version": "0.2.0", "clock_synced": False,
                               "last_error": "server unreachable: connection refused"})
    answer = server.upload(terminal, batch)
    assert answer.status_code == 200, answer.text
    assert answer.json()["acks"] == []
    assert answer.json()["received_at"] == "2026-11-25T09:30:00.000Z"
    assert answer.json()["clock_offset_s"] == pytest.approx(2.5)
    row, = server.rows("terminals")
    assert row["last_seen_at"] == "2026-11-25T09:30:00.000Z"
    assert (row["pending"], row["app_version"], row["clock_synced"], row["last_error"]) == \
        (42, "0.2.0", False, "server unreachable: connection refused")
    assert row["clock_offset_s"] == pytest.approx(2.5)
    assert server.count("ratings") == 0


def test_rating_of_another_terminal_is_403_and_nothing_stored(server):
    mine, other = server.enroll(), server.enroll()
    answer = server.upload(mine, make_batch([make_rating(mine.id), make_rating(other.id)]))
    assert answer.status_code == 403
    assert answer.json()["field"] == "ratings.1.terminal_id"
    assert server.count("ratings") == 0


def test_concurrent_identical_uploads_store_each_rating_once(start_server):
    """The UNIQUE constraint decides, not a check-then-insert: racing resends never store twice."""
    server = start_server(ingest_concurrency=6)  # all six admitted at once (past the limit: 429, test_admission.py)
    terminal = server.enroll()
    batch = make_batch([make_rating(terminal.id) for _ in range(50)])
    results = []

    def send():
        import requests
        results.append(requests.post(server.url + "/api/v1/batches", json=batch, headers=terminal.headers,
                                     timeout=60))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answer.status_code == 200 for answer in results), [a.text for a in results]
    statuses = [ack["status"] for answer in results for ack in answer.json()["acks"]]
    assert statuses.count("stored") == 50
    assert statuses.count("duplicate") == 50 * 5
    assert server.count("ratings") == 50


def test_full_batch_of_500_is_accepted(server):
    terminal = server.enroll()
    sent = [make_rating(terminal.id, monotonic_ns=1_000_000 * i) for i in range(500)]
    assert len(acks(server.upload(terminal, make_batch(sent)))) == 500
    assert server.count("ratings") == 500


def test_the_fleet_shows_the_backlog_left_after_each_batch(server):
    # health.pending counts the batch's own ratings; once they are answered (stored, duplicate or conflict,
    # which the terminal keeps aside) the terminal has that many fewer to send.
    terminal = server.enroll()

    def pending_listed() -> int:
        answer = server.get("/api/v1/terminals", headers=server.admin_headers())
        assert answer.status_code == 200, answer.text
        listed, = answer.json()["terminals"]
        return listed["pending"]

    first = [make_rating(terminal.id, monotonic_ns=1_000_000_000 + i) for i in range(3)]
    acks(server.upload(terminal, make_batch(first[:2], health={"pending": 3})))
    assert pending_listed() == 1
    last = [first[2], first[0], {**first[1], "rating": "very_satisfied"}]  # stored, duplicate, conflict
    assert list(acks(server.upload(terminal, make_batch(last, health={"pending": 3}))).values()) == \
        ["stored", "duplicate", "conflict"]
    assert pending_listed() == 0
    acks(server.upload(terminal, make_batch([], health={"pending": 2})))  # a heartbeat: nothing answered
    assert pending_listed() == 2

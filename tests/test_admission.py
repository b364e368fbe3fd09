"""Admission control of the batch path (issue 14): the ingest gate, alone and in a real server.

The gate's logic runs on an injected clock. The server tests saturate ingest deterministically: the database's
write lock is held from the test (SQLite: ``BEGIN IMMEDIATE`` from another connection to the same file;
PostgreSQL: the ratings-cursor advisory lock from another session), so the admitted batches wait on it while the
rest are answered 429 at once, and the health check, the dashboard, the admin API and enrolment answer meanwhile.
"""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager

import pytest
import requests

from server_fixtures import *  # noqa: F401,F403
from dashboard_fixtures import log_in

from server.admission import RESERVATION_KEPT_S, IngestGate
from server.errors import SettingsError
from server.routes.batches import receipt_pace
from server.settings import Settings

BUSY = re.compile(r"the server is busy with other terminals' batches; try again in (\d+) s")
#: Refused at once: far below any storage time, with room for a shared, slow test machine.
AT_ONCE_S = 1.0
#: The protected endpoints answer within this while ingest is saturated.
PROTECTED_S = 2.0


# -- the gate alone ----------------------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_the_gate_admits_up_to_its_limit_then_refuses_with_at_least_one_second(clock):
    gate = IngestGate(concurrency=2, max_wait_s=0.2, clock=clock)
    assert [gate.try_enter(f"t{n}") for n in range(2)] == [None, None]
    waits = [gate.try_enter(f"t{n}") for n in range(2, 6)]
    assert all(isinstance(w, int) and w >= 1 for w in waits)
    assert gate.figures() | {"throughput_per_s": 0} == {
        "in_flight": 2, "limit": 2, "concurrency": 2, "admitted": 2, "refused": 4, "throughput_per_s": 0,
        "lock_wait_ms": 0.0, "reserved": 4, "retry_after_s": gate.figures()["retry_after_s"], "queued": 0}


def test_refused_batches_reserve_slots_one_batch_time_apart_in_the_order_refused(clock):
    gate = IngestGate(concurrency=1, max_wait_s=0.2, clock=clock)
    gate.try_enter("first")
    clock.now += 1.0
    gate.leave(lock_wait_s=0.0)  # one batch took about 1 s (the moving average moves towards it)
    gate.try_enter("busy")
    waits = [gate.try_enter(f"t{n}") for n in range(20)]
    assert waits == sorted(waits), "later refusals must not be asked back earlier"
    assert waits[-1] > waits[0], "twenty terminals must not all be asked back at the same second"


def test_a_terminal_back_early_keeps_its_slot_and_is_told_the_rest(clock):
    gate = IngestGate(concurrency=1, max_wait_s=0.2, clock=clock)
    gate.try_enter("holder")
    for n in range(40):
        gate.try_enter(f"t{n}")
    last = gate.try_enter("late")
    clock.now += 1.0
    again = gate.try_enter("late")
    assert again is not None and again <= last
    assert gate.figures()["reserved"] == 41, "coming back early must not reserve a second slot"


def test_a_terminal_back_at_its_slot_passes_newcomers_up_to_twice_the_limit(clock):
    gate = IngestGate(concurrency=2, max_wait_s=0.2, clock=clock)
    assert gate.try_enter("a") is None and gate.try_enter("b") is None
    waits = {name: gate.try_enter(name) for name in ("c", "d", "e")}
    clock.now += max(waits.values())
    assert gate.try_enter("newcomer") is not None, "the limit is full: a newcomer waits"
    assert gate.try_enter("c") is None and gate.try_enter("d") is None, "back at their turn: admitted"
    assert gate.figures()["in_flight"] == 4
    assert gate.try_enter("e") is not None, "twice the limit is the hard cap, even at one's turn"


def test_reservations_not_used_are_forgotten(clock):
    gate = IngestGate(concurrency=1, max_wait_s=0.2, clock=clock)
    gate.try_enter("holder")
    gate.try_enter("gone")
    clock.now += RESERVATION_KEPT_S + 2
    assert gate.figures()["reserved"] == 0


def test_the_limit_drops_on_long_lock_waits_down_to_one_and_grows_back(clock):
    gate = IngestGate(concurrency=3, max_wait_s=0.2, clock=clock)
    for _ in range(5):
        assert gate.try_enter("t") is None
        clock.now += 1.5
        gate.leave(lock_wait_s=0.5)
    assert gate.limit == 1
    assert gate.try_enter("a") is None and gate.try_enter("b") is not None
    gate.leave(lock_wait_s=0.01)
    for _ in range(10):
        gate.try_enter("t")
        clock.now += 0.1
        gate.leave(lock_wait_s=0.01)
    assert gate.limit == 3


def test_a_long_wait_lowers_the_limit_at_most_once_a_second(clock):
    gate = IngestGate(concurrency=4, max_wait_s=0.2, clock=clock)
    for name in "abcd":
        gate.try_enter(name)
    for _ in range(4):  # four batches that queued together all report the same long wait
        gate.leave(lock_wait_s=1.0)
    assert gate.limit == 3


def test_the_shed_log_line_comes_at_most_once_a_minute(clock):
    gate = IngestGate(concurrency=1, max_wait_s=0.2, clock=clock)
    gate.try_enter("holder")
    assert gate.shed_report() is None, "nothing shed, nothing to say"
    for n in range(5):
        gate.try_enter(f"t{n}")
    line = gate.shed_report()
    assert line.startswith("ingest gate: shed 5 batches in the last 60 s, limit 1 of 1")
    gate.try_enter("more")
    assert gate.shed_report() is None
    clock.now += 61
    gate.try_enter("again")
    assert gate.shed_report().startswith("ingest gate: shed 1 batches in the last 60 s")


def test_receipts_carry_a_pace_when_busy_or_when_the_settings_ask(clock):
    gate = IngestGate(concurrency=1, max_wait_s=0.2, clock=clock)
    assert receipt_pace(gate, batch_size=0, pause_s=0.0) is None
    assert receipt_pace(gate, batch_size=0, pause_s=3.0).model_dump() == {"batch_size": 500, "pause_s": 3.0}
    gate.try_enter("holder")
    for n in range(50):
        gate.try_enter(f"t{n}")
    busy = receipt_pace(gate, batch_size=100, pause_s=0.0)
    assert busy.batch_size == 100 and busy.pause_s > 0
    clock.now += 11  # nothing shed for a while, nobody heard from: idle again
    gate.leave(lock_wait_s=0.0)
    assert receipt_pace(gate, batch_size=0, pause_s=0.0) is None


async def settle() -> None:
    """Let the event loop pass a place handed over on to the waiting task (a few turns: shield, wait_for)."""
    for _ in range(10):
        await asyncio.sleep(0)


def test_a_burst_a_moment_too_big_waits_in_the_queue_in_order_instead_of_being_refused():
    async def burst():
        gate = IngestGate(concurrency=2, max_wait_s=0.2, max_queue_s=0.1)  # one batch takes 50 ms at first
        assert [await gate.enter(k) for k in ("a", "b")] == [None, None]
        queued = [asyncio.ensure_future(gate.enter(k)) for k in ("c", "d", "e", "f")]
        await settle()
        # c, d, e, f: 1..4 ahead x 50 ms / 2 at once = 25..100 ms, all within 100 ms: they wait
        assert not any(t.done() for t in queued) and gate.figures()["refused"] == 0
        refused = await gate.enter("g")  # a fifth would wait 125 ms: refused at once
        assert isinstance(refused, int) and refused >= 1
        gate.leave(lock_wait_s=0.0)  # a's place goes to c, the first in line
        await settle()
        assert [t.done() for t in queued] == [True, False, False, False] and queued[0].result() is None
        gate.leave(lock_wait_s=0.0)
        gate.leave(lock_wait_s=0.0)
        await settle()
        assert [t.done() for t in queued] == [True, True, True, False]
        figures = gate.figures()
        assert (figures["in_flight"], figures["admitted"], figures["queued"], figures["refused"]) == (2, 5, 3, 1)
        await asyncio.sleep(0.5)  # f never got a place within 4 x 100 ms: refused then, with a turn
        assert isinstance(queued[3].result(), int) and gate.figures()["refused"] == 2
        assert gate.figures()["in_flight"] == 2

    asyncio.run(burst())


def test_a_client_gone_while_queued_gives_its_place_back():
    async def gone():
        gate = IngestGate(concurrency=1, max_wait_s=0.2, max_queue_s=1.0)
        assert await gate.enter("a") is None
        waiting = asyncio.ensure_future(gate.enter("b"))
        await settle()
        waiting.cancel()  # the terminal hung up while it waited
        await asyncio.gather(waiting, return_exceptions=True)
        gate.leave(lock_wait_s=0.0)
        assert gate.figures()["in_flight"] == 0 and await gate.enter("c") is None

    asyncio.run(gone())


def test_without_a_queue_a_full_gate_refuses_at_once():
    async def no_queue():
        gate = IngestGate(concurrency=1, max_wait_s=0.2, max_queue_s=0.0)
        assert await gate.enter("a") is None
        assert isinstance(await gate.enter("b"), int)

    asyncio.run(no_queue())


@pytest.mark.parametrize("key, value, words", [
    ("ingest_concurrency", 0, "ingest_concurrency: must be positive"),
    ("ingest_max_wait_ms", -5, "ingest_max_wait_ms: must be positive"),
    ("pace_batch_size", 501, "pace_batch_size: must be 0 (none asked) or 1-500"),
    ("pace_batch_size", -1, "pace_batch_size: must be 0 (none asked) or 1-500"),
    ("pace_pause_s", 301.0, "pace_pause_s: must be 0-300 seconds"),
    ("pace_pause_s", -0.5, "pace_pause_s: must be 0-300 seconds"),
    ("ingest_queue_ms", -1, "ingest_queue_ms: must be 0-10000 milliseconds"),
])
def test_bad_gate_settings_name_the_key(key, value, words):
    with pytest.raises(SettingsError, match=re.escape(words)):
        Settings(**{key: value})


# -- a real server, its ingest saturated ------------------------------------------------------------------------

@contextmanager
def ratings_lock_held(server_db_url: str):
    """Hold what every ratings insert waits for, from outside the server, until the block ends."""
    if server_db_url.startswith("sqlite"):
        holder = sqlite3.connect(server_db_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    else:
        import psycopg

        from server.db import RATINGS_INSERT_LOCK

        with psycopg.connect(server_db_url.replace("postgresql+psycopg://", "postgresql://"),
                             autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (RATINGS_INSERT_LOCK,))
            try:
                yield
            finally:
                holder.execute("SELECT pg_advisory_unlock(%s)", (RATINGS_INSERT_LOCK,))


def wait_until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def timed(call):
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def post_in_thread(server, terminal, batch, results: list) -> threading.Thread:
    def post():
        results.append(requests.post(server.url + "/api/v1/batches", json=batch, headers=terminal.headers,
                                     timeout=60))

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def test_a_saturated_ingest_refuses_at_once_while_the_rest_of_the_server_answers(start_server, server_db_url):
    server = start_server(ingest_concurrency=2, sqlite_busy_timeout_ms=60_000)
    gate = server.app.state.ingest_gate
    admitted = [server.enroll(site=f"Site {n}") for n in range(2)]
    extra = [server.enroll(site=f"Extra {n}") for n in range(3)]
    admin = server.admin_headers()
    dashboard = log_in(server, server.person())
    code = server.issue_code(site="Site mới")
    batches = {t.id: make_batch([make_rating(t.id) for _ in range(20)]) for t in admitted + extra}

    with ratings_lock_held(server_db_url):
        results: list[requests.Response] = []
        threads = [post_in_thread(server, t, batches[t.id], results) for t in admitted]
        wait_until(lambda: gate.figures()["in_flight"] == 2)
        assert server.app.state.ingest_limiter.borrowed_tokens == 2, "stored on ingest's own threads"

        for terminal in extra:
            answer, took = timed(lambda: server.upload(terminal, batches[terminal.id]))
            assert answer.status_code == 429, answer.text
            assert took < AT_ONCE_S, f"a refusal must not wait for the database ({took:.2f} s)"
            assert answer.json()["ok"] is False and answer.json()["field"] is None
            wait_s = int(BUSY.fullmatch(answer.json()["error"]).group(1))
            assert int(answer.headers["Retry-After"]) == wait_s >= 1

        health, took = timed(lambda: server.get("/healthz"))
        assert health.status_code == 200 and took < PROTECTED_S
        figures = health.json()["ingest"]
        assert figures["in_flight"] == 2 and figures["refused"] == 3 and figures["concurrency"] == 2
        assert figures["reserved"] == 3

        listing, took = timed(lambda: server.get("/api/v1/terminals", headers=admin))
        assert listing.status_code == 200 and took < PROTECTED_S, listing.text
        page, took = timed(lambda: dashboard.get(server.url + "/", timeout=30))
        assert page.status_code == 200 and "login" not in page.url and took < PROTECTED_S
        if not server_db_url.startswith("sqlite"):  # SQLite: the test holds the file's one write lock itself
            enrolled, took = timed(lambda: server.post("/api/v1/enroll", json={"code": code, "app_version": "0.1.0"}))
            assert enrolled.status_code == 201 and took < PROTECTED_S, enrolled.text
        time.sleep(0.5)  # long past ingest_max_wait_ms: the waits lower the limit

    for thread in threads:
        thread.join(timeout=60)
    assert [answer.status_code for answer in results] == [200, 200], [answer.text for answer in results]
    assert all("pace" in answer.json() and answer.json()["pace"]["pause_s"] > 0 for answer in results), \
        "batches stored right after shedding carry a pace"
    for terminal in admitted:
        assert server.count("ratings", terminal_id=terminal.id) == 20
    for terminal in extra:
        assert server.count("ratings", terminal_id=terminal.id) == 0, "nothing of a refused batch is stored"
    after = server.get("/healthz").json()["ingest"]
    assert after["in_flight"] == 0 and after["admitted"] == 2
    assert after["limit"] == 1 and after["lock_wait_ms"] > 100, "the long lock wait was measured and lowered the limit"


def test_a_refused_terminal_delivers_at_its_turn(start_server, server_db_url):
    server = start_server(ingest_concurrency=1, sqlite_busy_timeout_ms=60_000)
    holder, late = server.enroll(site="Holder"), server.enroll(site="Late")
    batch = make_batch([make_rating(late.id) for _ in range(10)])
    with ratings_lock_held(server_db_url):
        results: list[requests.Response] = []
        thread = post_in_thread(server, holder, make_batch([make_rating(holder.id)]), results)
        wait_until(lambda: server.app.state.ingest_gate.figures()["in_flight"] == 1)
        refused = server.upload(late, batch)
        assert refused.status_code == 429
    thread.join(timeout=60)
    time.sleep(int(refused.headers["Retry-After"]))
    stored = server.upload(late, batch)
    assert stored.status_code == 200, stored.text
    assert [ack["status"] for ack in stored.json()["acks"]] == ["stored"] * 10
    assert server.count("ratings", terminal_id=late.id) == 10


def test_the_gate_answers_before_the_body_and_enrolment_is_not_behind_it(start_server):
    server = start_server(ingest_concurrency=1)
    slow, other = server.enroll(site="Slow"), server.enroll(site="Other")
    code = server.issue_code(site="Site mới")
    body = requests.models.complexjson.dumps(make_batch([make_rating(slow.id)])).encode()
    host, port = server.url.removeprefix("http://").split(":")

    def start_upload(terminal) -> socket.socket:
        sock = socket.create_connection((host, int(port)), timeout=30)
        sock.sendall((f"POST /api/v1/batches HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                      f"Authorization: Bearer {terminal.token}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                     + body[:10])
        return sock

    trickling = start_upload(slow)  # admitted, its body not yet all here: it holds the one slot
    try:
        wait_until(lambda: server.app.state.ingest_gate.figures()["in_flight"] == 1)
        waiting = start_upload(other)  # refused from its headers alone: the rest of its body is never sent
        try:
            answer, took = timed(lambda: waiting.recv(4096))
            assert answer.startswith(b"HTTP/1.1 429") and b"retry-after:" in answer.lower(), answer
            assert took < AT_ONCE_S
        finally:
            waiting.close()
        enrolled, took = timed(lambda: server.post("/api/v1/enroll", json={"code": code, "app_version": "0.1.0"}))
        assert enrolled.status_code == 201 and took < PROTECTED_S, enrolled.text
        trickling.sendall(body[10:])
        assert trickling.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        trickling.close()
    assert server.count("ratings", terminal_id=slow.id) == 1
    assert server.count("ratings", terminal_id=other.id) == 0


def test_receipts_carry_the_pace_the_settings_ask_for(start_server):
    server = start_server(pace_batch_size=100, pace_pause_s=2.5)
    terminal = server.enroll()
    receipt = server.upload(terminal, make_batch([make_rating(terminal.id)])).json()
    assert receipt["pace"] == {"batch_size": 100, "pause_s": 2.5}


def test_an_idle_server_sends_no_pace_and_shows_its_gate_in_healthz(server):
    terminal = server.enroll()
    receipt = server.upload(terminal, make_batch([make_rating(terminal.id)])).json()
    assert "pace" not in receipt
    figures = server.get("/healthz").json()["ingest"]
    assert figures["admitted"] == 1 and figures["refused"] == 0 and figures["limit"] == figures["concurrency"] == 8


def test_a_dashboard_page_does_not_wait_behind_ingest_to_move_its_idle_deadline(start_server, server_db_url):
    """Opening a page moves the session's idle deadline (a write); behind a saturated SQLite writer it is put off
    to a later page instead of holding the page up. PostgreSQL's ratings lock does not stand in its way."""
    clock = FakeClock()
    server = start_server(clock=clock, ingest_concurrency=1, sqlite_busy_timeout_ms=60_000)
    terminal = server.enroll()
    dashboard = log_in(server, server.person())
    expiry = lambda: server.rows("dashboard_sessions")[0]["expires_at"]  # noqa: E731
    before = expiry()
    clock.advance(120)  # past the step at which a page moves the idle deadline
    with ratings_lock_held(server_db_url):
        results: list[requests.Response] = []
        thread = post_in_thread(server, terminal, make_batch([make_rating(terminal.id)]), results)
        wait_until(lambda: server.app.state.ingest_gate.figures()["in_flight"] == 1)
        page, took = timed(lambda: dashboard.get(server.url + "/", timeout=30))
        assert page.status_code == 200 and "login" not in page.url and took < PROTECTED_S
        if server_db_url.startswith("sqlite"):
            assert expiry() == before, "the write waits for a later page"
        else:
            assert expiry() > before
    thread.join(timeout=60)
    assert results[0].status_code == 200
    assert dashboard.get(server.url + "/", timeout=30).status_code == 200
    assert expiry() > before


def test_a_real_uploader_refused_while_busy_delivers_everything_later(start_server, server_db_url, tmp_path):
    """The 429 path end to end: a terminal's own uploader is refused while ingest is saturated, backs off, and
    once the database is free again every rating of its backlog is stored, none twice."""
    from test_sync import Terminal  # a terminal's real parts (store, flow, uploader) on a SQLite file

    server = start_server(ingest_concurrency=1, sqlite_busy_timeout_ms=60_000)
    gate = server.app.state.ingest_gate
    holder, enrolled = server.enroll(site="Holder"), server.enroll(site="Backlog")
    terminal = Terminal(tmp_path, enrolled.id, enrolled.token, server.url, batch_size=10)
    pressed = terminal.press_many(30)
    with ratings_lock_held(server_db_url):
        results: list[requests.Response] = []
        thread = post_in_thread(server, holder, make_batch([make_rating(holder.id)]), results)
        wait_until(lambda: gate.figures()["in_flight"] == 1)
        terminal.uploader.start()
        try:
            wait_until(lambda: gate.figures()["refused"] >= 1)
            assert server.count("ratings", terminal_id=enrolled.id) == 0
        except BaseException:
            terminal.uploader.stop()
            raise
    try:
        thread.join(timeout=60)
        wait_until(lambda: server.count("ratings", terminal_id=enrolled.id) == 30, timeout_s=60)
        wait_until(lambda: terminal.local.pending_count() == 0, timeout_s=30)
    finally:
        terminal.uploader.stop()
    assert sorted(row["id"] for row in server.rows("ratings", terminal_id=enrolled.id)) == sorted(pressed)

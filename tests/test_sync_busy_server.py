"""The uploader and a busy server (issue 14): Retry-After honoured with jitter, a press does not cut the wait,
the receipt's pace followed, and after a long outage a heartbeat first and the backlog spread.

Against the real server (uvicorn on loopback, both database backends): its per-terminal rate limit
(``rate_limit_per_s``) answers 429 with Retry-After the way its admission control does under a storm
(tests/test_admission.py saturates the gate itself). The server's own pace settings (``pace_batch_size``,
``pace_pause_s``) pace a real uploader below; a pace that changes from one receipt to the next (paced, paced,
then none) is put into the real server's receipts with a thin ASGI layer around the real app (the server's
storage and receipts stay real). Pure rules (the jitter,
the pace's arithmetic, the outage's clock) are tested with a fake clock and a seeded rng.
"""

from __future__ import annotations

import http.server
import json
import random
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from kiosk.status import format_status, server_pace, service_summary
from kiosk.store import RatingStore
from server_fixtures import *  # noqa: F401,F403 - server_db_url, start_server
from sync.local import LocalRatings
from sync.protocol import Pace
from sync.uploader import UPLOAD_RETRY, Uploader, _retry_after, make_session


class RecordingAdapter(requests.adapters.HTTPAdapter):
    """The session's transport, noting each batch request: when it left, how many ratings, when and how it was
    answered (status, Retry-After)."""

    def __init__(self):
        super().__init__(max_retries=UPLOAD_RETRY)
        self.sent: list[dict] = []

    def send(self, request, **kwargs):
        noted = {"at": time.monotonic(), "path": request.path_url}
        if request.path_url.endswith("/batches"):
            noted["ratings"] = len(json.loads(request.body)["ratings"])
        response = super().send(request, **kwargs)
        noted.update(answered=time.monotonic(), status=response.status_code,
                     retry_after=response.headers.get("Retry-After"))
        self.sent.append(noted)
        return response

    def batches(self) -> list[dict]:
        return [s for s in self.sent if s["path"].endswith("/batches")]


class Counter:
    """A terminal's file with presses in it and an uploader on its own connection, as ``kiosk run`` makes them."""

    def __init__(self, tmp_path, enrolled, url: str, *, saved_state: dict | None = None, **options):
        self.store = RatingStore(tmp_path / "kiosk.db", terminal_id=enrolled.id)
        self.local = LocalRatings(tmp_path / "kiosk.db")
        if saved_state:
            self.local.save_state(saved_state)
        self.adapter = RecordingAdapter()
        session = make_session()
        session.mount("http://", self.adapter)
        options = {"timeout": (2.0, 10.0), "pause_s": 0.0, "rng": random.Random(7), **options}
        self.uploader = Uploader(self.local, server_url=url, token=enrolled.token, stamp=self.store.clock.stamp,
                                 app_version="0.1.0", session=session, **options)

    def press(self, n: int) -> None:
        for i in range(n):
            self.store.record_press(("very_satisfied", "satisfied")[i % 2], source="touch")

    def local_ids(self) -> set[str]:
        return {r["id"] for r in self.store.db["ratings"].rows}

    def wait_until_empty(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.local.pending_count() and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.uploader.stop()
        self.local.close()
        self.store.close()


@pytest.fixture
def counter_for(tmp_path):
    made = []

    def make(server, *, url: str | None = None, **options) -> Counter:
        made.append(Counter(tmp_path, server.enroll(), url or server.url, **options))
        return made[-1]

    yield make
    for counter in made:
        counter.close()


def wait_for(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def assert_delivered_once(server, counter) -> None:
    """Every rating of the terminal is on the server, once; none is still waiting."""
    assert counter.local.pending_count() == 0
    server_ids = [r["id"] for r in server.rows("ratings")]
    assert len(server_ids) == len(set(server_ids)) == len(counter.local_ids())
    assert set(server_ids) == counter.local_ids()


# -- against the real server ---------------------------------------------------------------------------------

def test_a_429_with_retry_after_is_waited_out_and_everything_arrives(start_server, counter_for):
    server = start_server(rate_limit_per_s=1.0, rate_limit_burst=1)
    counter = counter_for(server, batch_size=5, backoff_base_s=0.01, backoff_cap_s=0.05)
    counter.press(17)
    states = []
    counter.uploader.when_changed = lambda state, pending: states.append((state.failures_in_a_row, state.last_error))
    counter.uploader.start()
    counter.wait_until_empty()
    counter.uploader.stop()
    assert_delivered_once(server, counter)
    batches = counter.adapter.batches()
    refused = [i for i, b in enumerate(batches) if b["status"] == 429]
    assert refused, "the server's rate limit never answered 429: the test proves nothing"
    for i in refused:  # the next request left no sooner than the server asked
        assert batches[i + 1]["at"] - batches[i]["answered"] >= float(batches[i]["retry_after"])
    # The server answered: no failure counted, and the reason said with the next try's time.
    assert all(failures == 0 for failures, _error in states)
    busy = [error for _failures, error in states if error]
    assert busy and all("the server is busy (429: too many requests from this terminal" in e
                        and "the next try is at" in e for e in busy)
    assert counter.uploader.busy_answers == len(refused)
    assert counter.uploader.last_pending == 0  # what a bench reads from its own thread
    assert counter.uploader.state.last_error is None and counter.uploader.state.server_wait_until is None



def test_kiosk_sync_once_honours_retry_after_too(start_server, counter_for):
    server = start_server(rate_limit_per_s=1.0, rate_limit_burst=1)
    counter = counter_for(server, batch_size=5, backoff_base_s=0.01, backoff_cap_s=0.05)
    counter.press(12)
    report = counter.uploader.drain(max_failures=1)  # answers asking to wait are not failures
    assert report["pending"] == 0 and report["sent"] == 12 and report["failures_in_a_row"] == 0
    batches = counter.adapter.batches()
    refused = [i for i, b in enumerate(batches) if b["status"] == 429]
    assert refused
    for i in refused:  # without the fix it slept the failures' back-off (here at most 0.05 s)
        assert batches[i + 1]["at"] - batches[i]["answered"] >= float(batches[i]["retry_after"])
    assert_delivered_once(server, counter)

def test_a_press_does_not_cut_the_servers_wait_but_sync_now_does(start_server, counter_for):
    server = start_server(rate_limit_per_s=0.2, rate_limit_burst=1)  # Retry-After: 5 s
    counter = counter_for(server)
    counter.press(3)
    counter.uploader.start()
    wait_for(lambda: counter.local.pending_count() == 0)
    counter.press(2)
    counter.uploader.wake()
    wait_for(lambda: any(b["status"] == 429 for b in counter.adapter.batches()))
    asked = counter.uploader.state.server_wait_until
    assert asked and counter.uploader.state.server_wait_cause == "busy"
    wait_for(lambda: "the server is busy" in format_status(status_with(counter)), timeout_s=2)  # once saved
    seen = len(counter.adapter.sent)
    for _ in range(3):  # citizens press during the wait: stored, not sent
        counter.press(1)
        counter.uploader.wake()
        time.sleep(0.4)
    assert len(counter.adapter.sent) == seen
    counter.uploader.send_now()  # the technician's "sync now" goes at once
    wait_for(lambda: len(counter.adapter.sent) > seen, timeout_s=5.0)
    counter.wait_until_empty()
    counter.uploader.stop()
    assert_delivered_once(server, counter)
    assert server.count() == 8
    [row] = server.rows("terminals")
    assert row["last_error"] is None  # waiting as the server asked is not the terminal's error


def test_after_a_long_outage_a_heartbeat_first_then_the_backlog_within_the_spread(start_server, counter_for):
    server = start_server()
    day_ago = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    counter = counter_for(server, saved_state={"last_success_at": day_ago}, drain_spread_s=3.0,
                          rng=random.Random(20))
    counter.press(7)
    expected_delay = random.Random(20).uniform(0, 3.0)  # the uploader's first draw: 2.7 s, time to read the status
    assert counter.uploader.long_outage()
    counter.uploader.start()
    wait_for(lambda: counter.adapter.batches())
    # The uploader notes the wait in memory, then saves it; the status reads the saved file, so wait for it.
    wait_for(lambda: "the backlog starts at" in format_status(status_with(counter)), timeout_s=2)
    assert counter.uploader.state.server_wait_cause == "spread"
    counter.press(1)
    counter.uploader.wake()  # a press does not start the drain early
    counter.wait_until_empty()
    counter.uploader.stop()
    first, second = counter.adapter.batches()[:2]
    assert first["ratings"] == 0 and first["status"] == 200  # the heartbeat: the network is back
    assert second["ratings"] == 8
    assert expected_delay <= second["at"] - first["answered"] <= expected_delay + 1.5  # slack: a shared machine
    assert second["at"] - first["answered"] <= 3.0 + 1.5  # within the window
    assert_delivered_once(server, counter)
    [row] = server.rows("terminals")
    assert row["last_seen_at"]



def test_an_outage_while_running_ends_with_a_heartbeat_then_the_spread_backlog(start_server, counter_for):
    from fault_proxy import FaultProxy

    server = start_server()
    proxy = FaultProxy(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))).start()
    try:
        counter = counter_for(server, url=proxy.url, outage_s=1.0, drain_spread_s=2.0, batch_size=3,
                              backoff_base_s=0.05, backoff_cap_s=0.1)
        counter.press(2)
        counter.uploader.start()
        counter.wait_until_empty(timeout_s=10)
        proxy.inject(*["http_500"] * 10_000)  # the province's network breaks: a proxy answers 500, nothing gets through
        counter.press(5)
        counter.uploader.wake()
        time.sleep(1.8)  # longer than outage_s without an answer from the server, ratings waiting
        before = len(counter.adapter.batches())
        proxy.clear()  # the network is back
        counter.wait_until_empty(timeout_s=20)
        counter.uploader.stop()
        after = [b for b in counter.adapter.batches()[before:] if b["status"] == 200]
        assert after[0]["ratings"] == 0  # the first request to reach the server: a heartbeat
        assert [b["ratings"] for b in after[1:]] == [3, 2]
        assert after[1]["at"] - after[0]["answered"] <= 2.0 + 1.0  # the backlog within the spread
        assert_delivered_once(server, counter)
    finally:
        proxy.stop()

def test_a_recent_last_upload_is_no_outage_the_backlog_goes_at_once(start_server, counter_for):
    server = start_server()
    minute_ago = (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    counter = counter_for(server, saved_state={"last_success_at": minute_ago}, drain_spread_s=30.0)
    counter.press(4)
    assert not counter.uploader.long_outage()
    counter.uploader.start()
    counter.wait_until_empty(timeout_s=10)
    assert [b["ratings"] for b in counter.adapter.batches()][:1] == [4]


class PacingLayer:
    """The real app, with ``pace`` put into its batch receipts as the server's admission control will:
    ``paces`` is consumed one receipt at a time (None: a receipt without pace)."""

    def __init__(self, app, paces: list):
        self.app, self.paces = app, list(paces)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].endswith("/batches"):
            return await self.app(scope, receive, send)
        started, body = {}, []

        async def keep(message):
            if message["type"] == "http.response.start":
                started.update(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            data = b"".join(body)
            if started["status"] == 200 and self.paces:
                pace = self.paces.pop(0)
                if pace is not None:
                    data = json.dumps({**json.loads(data), "pace": pace}).encode()
            headers = [(k, v) for k, v in started["headers"] if k.lower() != b"content-length"]
            await send({**started, "headers": headers + [(b"content-length", str(len(data)).encode())]})
            await send({"type": "http.response.body", "body": data})

        await self.app(scope, receive, keep)


@pytest.fixture
def paced_server(start_server):
    """``paced_server(paces)``: the real server behind a layer that puts ``paces`` in its receipts, one each."""
    return lambda paces: start_server(wrap=lambda app: PacingLayer(app, paces))


def test_the_receipts_pace_sets_the_next_batches_size_and_pause(paced_server, counter_for):
    pause = 1.0
    server = paced_server([{"batch_size": 2, "pause_s": pause}, {"batch_size": 2, "pause_s": pause}, None])
    counter = counter_for(server, batch_size=5, pause_s=0.0)
    counter.press(14)
    report = counter.uploader.drain()
    assert report["pending"] == 0
    batches = counter.adapter.batches()
    assert [b["ratings"] for b in batches] == [5, 2, 2, 5]  # paced for two receipts, then its own size again
    gaps = [later["at"] - earlier["answered"] for earlier, later in zip(batches, batches[1:])]
    assert gaps[0] >= pause and gaps[1] >= pause  # the pace's pause after each paced receipt
    assert gaps[2] < pause  # the third receipt carried no pace: its own pause (none)
    assert counter.uploader.pace is None and counter.local.load_state()["pace"] is None
    assert_delivered_once(server, counter)


def test_the_servers_pace_settings_pace_a_real_terminal(start_server, counter_for):
    # The province's server set to pace its fleet: every receipt asks for 3 ratings per batch, 0.4 s apart.
    server = start_server(pace_batch_size=3, pace_pause_s=0.4)
    counter = counter_for(server, batch_size=500, pause_s=0.0)
    counter.press(1)
    assert counter.uploader.drain()["pending"] == 0  # its first receipt carries the pace
    counter.press(8)
    assert counter.uploader.drain()["pending"] == 0
    batches = counter.adapter.batches()
    assert [b["ratings"] for b in batches] == [1, 3, 3, 2]
    gaps = [later["at"] - earlier["answered"] for earlier, later in zip(batches[1:], batches[2:])]
    assert all(gap >= 0.4 for gap in gaps), gaps
    assert counter.local.load_state()["pace"] == {"batch_size": 3, "pause_s": 0.4}
    assert_delivered_once(server, counter)


def test_a_pace_is_shown_while_it_holds(paced_server, counter_for):
    server = paced_server([{"batch_size": 50, "pause_s": 2.5}])
    counter = counter_for(server)
    counter.press(1)
    assert counter.uploader.send_batch().ok
    assert counter.local.load_state()["pace"] == {"batch_size": 50, "pause_s": 2.5}
    status = status_with(counter)
    assert "Server pacing: at most 50 ratings per batch, 2.5 s apart" in format_status(status)
    said = service_summary(status, language="vi")
    assert "Máy chủ điều tiết: tối đa 50 đánh giá mỗi lần gửi, cách nhau 2.5 giây" in said



def test_sync_now_cuts_a_long_pace_pause(paced_server, counter_for):
    server = paced_server([{"batch_size": 5, "pause_s": 60}])
    counter = counter_for(server)
    counter.press(2)
    assert counter.uploader.send_batch().ok
    counter.press(1)
    counter.uploader.send_now()  # the service screen's "sync now", asked while the pace's pause runs
    started = time.monotonic()
    assert counter.uploader.send_batch().ok
    assert time.monotonic() - started < 10
    assert_delivered_once(server, counter)

def status_with(counter) -> dict:
    from kiosk.config import load_config
    from kiosk.status import terminal_status

    return terminal_status(load_config(None), counter.store)


# -- pure rules: a fake clock, a seeded rng ------------------------------------------------------------------

class FakeLocal:
    """The few parts of sync.local.LocalRatings the rules read: a saved state and a queue's length."""

    def __init__(self, state: dict | None = None, pending: int = 0):
        self.state, self.waiting = dict(state or {}), pending

    def load_state(self) -> dict:
        return dict(self.state)

    def save_state(self, state: dict) -> None:
        self.state = dict(state)

    def pending(self, limit: int) -> list:
        return [{}] * min(limit, self.waiting)


def rules(local=None, *, now=None, **options) -> Uploader:
    clock = now or [1000.0]
    return Uploader(local or FakeLocal(), server_url="http://127.0.0.1:9", token="t", stamp=None,
                    app_version="0.1.0", rng=random.Random(3), monotonic=lambda: clock[0], **options)


def ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.mark.parametrize(("retry_after", "low", "high"), [(0, 0, 1), (1, 1, 2), (2, 2, 3), (8, 8, 10),
                                                           (40, 40, 50), (10**6, 3600, 4500)])
def test_the_servers_wait_is_retry_after_plus_up_to_a_quarter(retry_after, low, high):
    uploader = rules()
    waits = [uploader.server_wait(retry_after) for _ in range(400)]
    assert low <= min(waits) and max(waits) <= high
    assert max(waits) - min(waits) > 0.8 * (high - low)  # spread over the whole range, not one moment


@pytest.mark.parametrize(("last_success_s_ago", "pending", "outage_s", "expected"), [
    (86400, 3, 600, True),
    (86400, 0, 600, False),  # nothing to drain: nothing to spread
    (60, 3, 600, False),
    (None, 3, 600, False),  # never uploaded: a new terminal, not an outage
    (86400, 3, 0, False),  # outage_s = 0: never
    (-86400, 3, 600, False),  # a clock behind the saved time tells nothing
])
def test_a_long_outage_at_the_start_is_read_from_the_saved_last_upload(last_success_s_ago, pending, outage_s,
                                                                       expected):
    # The saved time is made when the test runs, not when it is collected (a long suite runs it minutes later).
    state = {} if last_success_s_ago is None else {"last_success_at": ago(last_success_s_ago)}
    assert rules(FakeLocal(state, pending), outage_s=outage_s).long_outage() is expected


def test_a_long_outage_while_running_counts_from_the_last_answer_and_a_servers_wait_is_contact():
    now = [1000.0]
    uploader = rules(FakeLocal({"last_success_at": ago(30)}, 5), now=now, outage_s=600, drain_spread_s=60)
    now[0] += 560
    assert not uploader.long_outage()
    now[0] += 20
    assert uploader.long_outage()
    uploader._spread_drain()  # the heartbeat was answered
    expected = random.Random(3).uniform(0, 60)
    assert uploader._resume_at == pytest.approx(now[0] + expected)
    assert uploader.state.server_wait_cause == "spread"
    now[0] += expected + 599  # the spread's wait counts as contact: not an outage again when it ends
    assert not uploader.long_outage()


@pytest.mark.parametrize(("own", "pace", "size", "pause"), [
    ((500, 0.01), None, 500, 0.01),
    ((500, 0.01), Pace(batch_size=50, pause_s=2.0), 50, 2.0),
    ((20, 5.0), Pace(batch_size=50, pause_s=2.0), 20, 5.0),  # its own stricter settings win
])
def test_the_pace_takes_the_smaller_batch_and_the_longer_pause(own, pace, size, pause):
    uploader = rules(batch_size=own[0], pause_s=own[1])
    uploader._follow_pace(pace)
    assert (uploader.current_batch_size(), uploader.current_pause_s()) == (size, pause)


def test_a_pace_pause_is_not_cut_by_a_press_but_by_sync_now():
    uploader = rules(pause_s=0)
    uploader._follow_pace(Pace(batch_size=10, pause_s=30))
    uploader._answered_at = uploader.monotonic()
    done = threading.Event()
    holder = threading.Thread(target=lambda: (uploader._hold(), done.set()), daemon=True)
    holder.start()
    uploader.wake()
    assert not done.wait(0.3)
    uploader.send_now()
    assert done.wait(2)


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("-3", 0.0), ("soon", None), ("", None),
                                                ("inf", None), ("nan", None)])
def test_retry_after_in_seconds(header, expected):
    assert _retry_after(requests.Response() if not header else _with_header(header)) == expected


def test_retry_after_as_an_http_date():
    from email.utils import format_datetime

    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 27 <= _retry_after(_with_header(when)) <= 30


def _with_header(value: str) -> requests.Response:
    response = requests.Response()
    response.headers["Retry-After"] = value
    return response


@pytest.mark.parametrize(("headers", "requests_made"), [({"Retry-After": "3"}, 1), ({}, 3)])
def test_a_503_with_retry_after_is_not_retried_quickly(headers, requests_made):
    """urllib3's quick retries are for a proxy between restarts; a server that says when to come back is asked once."""
    seen = []

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.path)
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"ok": false, "error": "the server is busy", "field": null}'
            self.send_response(503)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    busy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=busy.serve_forever, daemon=True).start()
    try:
        answer = make_session().post(f"http://127.0.0.1:{busy.server_address[1]}/api/v1/batches", data=b"{}",
                                     timeout=5)
    finally:
        busy.shutdown()
        busy.server_close()
    assert answer.status_code == 503 and len(seen) == requests_made


def test_server_pace_words_without_a_wait():
    assert server_pace({"server_wait_until": None, "pace": None}) is None


@pytest.mark.parametrize(("values", "says"), [
    ({"drain_spread_s": 4000}, "[server] drain_spread_s: expected at most 3600 seconds, got 4000"),
    ({"drain_spread_s": -1}, "[server] drain_spread_s: expected at least 0 seconds, got -1"),
    ({"outage_s": "10 minutes"}, "[server] outage_s: expected a number of seconds, got '10 minutes'"),
])
def test_bad_spread_or_outage_settings_are_refused_naming_the_key(values, says):
    from kiosk.config import parse_config
    from kiosk.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        parse_config({"server": values})
    assert str(refused.value) == says


def test_the_defaults_are_a_minute_of_spread_and_ten_minutes_of_outage():
    from kiosk.config import load_config

    server = load_config(None).server
    assert (server.drain_spread_s, server.outage_s) == (60.0, 600.0)

"""``kiosk-admin pull`` stopped part way (the network gone, kill -9, a crash mid-append) resumes exactly.

The network faults come from a real proxy between the pull and a real
server (tests/fault_proxy.py); the kill is a real ``kill -9`` of the
``kiosk-admin`` process while it waits on a stalled page.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fault_proxy import FaultProxy
from server_fixtures import *  # noqa: F403
from admin.client import PullError, default_retry, make_session
from admin.pulling import PullInterrupted, pull_ratings
from test_admin_pull import FORMATS, fleet, read_back, seed, served_rows

KIOSK_ADMIN = Path(sys.executable).with_name("kiosk-admin")
PAGE_MAX = 5


@pytest.fixture
def paged_server(start_server):
    return start_server(ratings_page_max=PAGE_MAX)


@pytest.fixture
def proxy(paged_server):
    parts = urlsplit(paged_server.url)
    proxy = FaultProxy((parts.hostname, parts.port), retry_after_s=1).start()
    yield proxy
    proxy.stop()


def quick_session():
    """The real retry policy with few tries and no waiting, so giving up is quick."""
    return make_session(retry=default_retry(total=2, backoff_factor=0))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_pull_cut_off_by_the_network_keeps_its_pages_and_the_next_one_completes(paged_server, proxy,
                                                                                 tmp_path, fmt):
    server = paged_server
    seed(server, fleet(server), 23)
    token = server.admin_token()
    out = tmp_path / f"ratings.{fmt}"
    proxy.inject("pass", "pass", *["reset_before"] * 3)  # two pages, then every try of the third is reset
    with pytest.raises(PullInterrupted, match="cannot reach the server") as stopped:
        pull_ratings(out, proxy.url, token, session=quick_session())
    assert stopped.value.summary.added == 10 and not stopped.value.summary.complete
    served = served_rows(server, token)
    assert read_back(out) == served[:10]
    summary = pull_ratings(out, proxy.url, token, session=quick_session())
    assert (summary.added, summary.total) == (13, 23)
    assert read_back(out) == served


def test_refused_reset_5xx_and_429_are_retried_and_retry_after_is_waited_out(paged_server, proxy, tmp_path):
    server = paged_server
    seed(server, fleet(server), 12)
    token = server.admin_token()
    out = tmp_path / "ratings.jsonl"
    proxy.inject("pass", "reset_before", "http_500", "http_429", "pass", "reset_after", "refuse")
    started = time.monotonic()
    summary = pull_ratings(out, proxy.url, token, session=make_session(retry=default_retry(backoff_factor=0.1)))
    assert time.monotonic() - started >= 1.0  # Retry-After: 1
    assert summary.added == 12 and read_back(out) == served_rows(server, token)
    assert {"reset_before", "http_500", "http_429", "reset_after", "refuse"} <= set(proxy.seen)


def test_a_captive_portal_page_is_not_taken_for_ratings(paged_server, proxy, tmp_path):
    server = paged_server
    seed(server, fleet(server), 3)
    proxy.inject("html_200")
    out = tmp_path / "ratings.csv"
    with pytest.raises(PullError, match="not a Hài Lòng ratings page"):
        pull_ratings(out, proxy.url, server.admin_token(), session=quick_session())
    assert read_back(out) == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_page_written_but_not_recorded_is_cut_back_and_not_written_twice(paged_server, tmp_path, fmt):
    """A crash between appending a page and saving its cursor: the next pull cuts the tail off first."""
    server = paged_server
    terminals = fleet(server)
    seed(server, terminals, 8)
    token = server.admin_token()
    out = tmp_path / f"ratings.{fmt}"
    pull_ratings(out, server.url, token)
    recorded = out.read_bytes()
    seed(server, terminals, 6, start=8)
    # What the dead pull left: a whole page of the new ratings and half a line of the next, unrecorded.
    served = served_rows(server, token)
    tail = out.with_name("tail." + fmt)
    pull_ratings(tail, server.url, token)
    with open(out, "ab") as damaged:
        damaged.write(tail.read_bytes().splitlines(keepends=True)[-6])  # the first new rating, whole
        half_line = '{"cursor": 10, "site": "Quầy' if fmt == "jsonl" else '10,"half a line, Quầy'
        damaged.write(half_line.encode())
    assert out.read_bytes() != recorded
    summary = pull_ratings(out, server.url, token)
    assert (summary.added, summary.total) == (6, 14)
    assert read_back(out) == served


def test_a_text_file_shorter_than_its_state_is_refused(paged_server, tmp_path):
    server = paged_server
    seed(server, fleet(server), 4)
    token = server.admin_token()
    out = tmp_path / "ratings.csv"
    pull_ratings(out, server.url, token)
    out.write_bytes(out.read_bytes()[:-10])
    with pytest.raises(PullError, match="shorter than ratings.csv.pull-state.json says"):
        pull_ratings(out, server.url, token)


def test_a_deleted_text_file_is_pulled_afresh_despite_its_old_state(paged_server, tmp_path):
    server = paged_server
    seed(server, fleet(server), 4)
    token = server.admin_token()
    out = tmp_path / "ratings.csv"
    pull_ratings(out, server.url, token)
    out.unlink()  # the sidecar stays behind
    assert pull_ratings(out, server.url, token).added == 4
    assert read_back(out) == served_rows(server, token)


def _wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.parametrize("fmt", FORMATS)
def test_kill_9_mid_pull_then_the_same_command_completes_without_duplicates(paged_server, proxy, tmp_path,
                                                                           fmt):
    server = paged_server
    seed(server, fleet(server), 23)
    token = server.admin_token()
    out = tmp_path / f"ratings.{fmt}"
    command = [str(KIOSK_ADMIN), "pull", "--server", proxy.url, "--out", str(out)]
    env = {**os.environ, "HAILONG_ADMIN_TOKEN": token}
    proxy.inject("pass", "pass", "stall")  # the third page never comes
    pulling = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: len(proxy.seen) >= 3 and proxy.forwarded >= 2, "the pull did not reach the third page")
        time.sleep(0.3)  # let it save the second page
    finally:
        os.kill(pulling.pid, signal.SIGKILL)
        pulling.communicate(timeout=30)
    assert pulling.returncode == -signal.SIGKILL
    served = served_rows(server, token)
    if fmt == "xlsx":  # saved only as a whole: killed, nothing of this pull is there
        assert not out.exists()
    else:
        assert read_back(out) == served[:10]
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    new = 23 if fmt == "xlsx" else 13
    assert again.stdout == (f"Pulled {new} new ratings into ratings.{fmt} (23 in the file, "
                            f"last cursor {served[-1]['cursor']}).\n")
    assert read_back(out) == served


@pytest.mark.parametrize("fmt", FORMATS)
def test_ctrl_c_mid_pull_saves_the_pages_so_far_and_says_so(paged_server, proxy, tmp_path, fmt):
    server = paged_server
    seed(server, fleet(server), 23)
    token = server.admin_token()
    out = tmp_path / f"ratings.{fmt}"
    command = [str(KIOSK_ADMIN), "pull", "--server", proxy.url, "--out", str(out)]
    env = {**os.environ, "HAILONG_ADMIN_TOKEN": token}
    proxy.inject("pass", "pass", "stall")
    # Ctrl-C's SIGINT as a terminal delivers it: a runner that started the tests in the background (a shell's
    # `&`) hands its children SIGINT ignored, and Python then keeps ignoring it.
    pulling = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for(lambda: len(proxy.seen) >= 3, "the pull did not reach the third page")
        pulling.send_signal(signal.SIGINT)
        stdout, stderr = pulling.communicate(timeout=60)
    finally:
        if pulling.poll() is None:
            pulling.kill()
    assert pulling.returncode == 130
    served = served_rows(server, token)
    assert stderr == (f"Saved 10 new ratings into ratings.{fmt} (10 in the file, last cursor "
                      f"{served[9]['cursor']}).\nInterrupted: run the same command again to continue.\n")
    assert read_back(out) == served[:10]  # an .xlsx too: saved on the way out
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.startswith("Pulled 13 new ratings")
    assert read_back(out) == served

"""A terminal sending too fast gets 429 with Retry-After; others are not slowed."""

from __future__ import annotations

import time

from server_fixtures import *  # noqa: F403


def test_too_fast_is_429_with_retry_after_and_nothing_stored(start_server):
    server = start_server(rate_limit_per_s=0.5, rate_limit_burst=2)
    terminal, other = server.enroll(), server.enroll()
    for _ in range(2):
        assert server.upload(terminal, make_batch([])).status_code == 200
    refused = server.upload(terminal, make_batch([make_rating(terminal.id)]))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    assert refused.json()["ok"] is False and "retry in 2 s" in refused.json()["error"]
    assert server.count("ratings") == 0
    assert server.upload(other, make_batch([make_rating(other.id)])).status_code == 200


def test_bucket_refills(start_server):
    server = start_server(rate_limit_per_s=20, rate_limit_burst=1)
    terminal = server.enroll()
    assert server.upload(terminal, make_batch([])).status_code == 200
    refused = server.upload(terminal, make_batch([]))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    time.sleep(0.06)
    assert server.upload(terminal, make_batch([])).status_code == 200

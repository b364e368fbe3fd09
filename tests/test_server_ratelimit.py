"""A terminal sending too fast gets 429 with Retry-After; others are not slowed."""

from __future__ import annotations

from server_fixtures import *  # noqa: F403


def test_too_fast_is_429_with_retry_after_and_nothing_stored(start_server):
    server = start_server(clock=FakeClock(), rate_limit_per_s=0.5, rate_limit_burst=2)
    terminal, other = server.enroll(), server.enroll()
    for _ in range(2):
        assert server.upload(terminal, make_batch([])).status_code == 200
    refused = server.upload(terminal, make_batch([make_rating(terminal.id)]))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    assert refused.json()["ok"] is False and "retry in 2 s" in refused.json()["error"]
    assert server.count("ratings") == 0
    assert server.upload(other, make_batch([make_rating(other.id)])).status_code == 200


def test_bucket_refills_by_the_apps_clock(start_server):
    clock = FakeClock()
    server = start_server(clock=clock, rate_limit_per_s=20, rate_limit_burst=1)
    terminal = server.enroll()
    assert server.upload(terminal, make_batch([])).status_code == 200
    refused = server.upload(terminal, make_batch([]))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    clock.advance(0.04)  # not yet a whole token at 20 per second
    assert server.upload(terminal, make_batch([])).status_code == 429
    clock.advance(0.02)
    assert server.upload(terminal, make_batch([])).status_code == 200
    assert server.upload(terminal, make_batch([])).status_code == 429


def test_a_clock_set_back_refills_nothing(start_server):
    clock = FakeClock()
    server = start_server(clock=clock, rate_limit_per_s=1, rate_limit_burst=1)
    terminal = server.enroll()
    assert server.upload(terminal, make_batch([])).status_code == 200
    clock.advance(-3600)
    assert server.upload(terminal, make_batch([])).status_code == 429
    clock.advance(1)
    assert server.upload(terminal, make_batch([])).status_code == 200

"""Time correction at ingest, with the server's clock injected (FakeClock)."""

from __future__ import annotations

import pytest

from server.timekeeping import iso_from_ns, ns_from_iso
from server_fixtures import *  # noqa: F403

S = 1_000_000_000
MS = 1_000_000


def stored(server, rating_id):
    row, = server.rows("ratings", id=rating_id)
    return row


@pytest.fixture
def clocked(start_server):
    clock = FakeClock()
    server = start_server(clock=clock)
    return server, clock, server.enroll()


def test_same_boot_is_exact_from_the_monotonic_clock_even_when_the_wall_clock_is_years_off(clocked):
    server, clock, terminal = clocked
    truth_ns = clock.now_ns  # the true time of the first press
    # No RTC after a power cut: the Pi believes it is 2019, then the network sets its clock mid-boot.
    presses = [make_rating(terminal.id, monotonic_ns=40 * S, created_at="2019-01-01T00:00:40.000Z",
                           clock_synced=0),
               make_rating(terminal.id, monotonic_ns=40 * S + 1234 * MS + 567_891,
                           created_at="2019-01-01T00:00:41.234Z", clock_synced=0),
               make_rating(terminal.id, monotonic_ns=100 * S, created_at="2026-11-25T09:31:00.000Z",
                           clock_synced=1)]
    clock.now_ns = truth_ns + 125 * S  # the batch is sent at monotonic 165 s
    answer = server.upload(terminal, make_batch(presses, monotonic_ns=165 * S, sent_at="2026-11-25T09:32:05.000Z"))
    assert answer.status_code == 200, answer.text
    for rating in presses:
        row = stored(server, rating["id"])
        assert row["time_quality"] == "exact"
        expected_ns = truth_ns + (rating["monotonic_ns"] - 40 * S)
        assert abs(ns_from_iso(row["corrected_at"]) - expected_ns) <= 1 * MS, row
        assert row["created_at"] == rating["created_at"]  # the device's clock is kept as sent
        assert row["received_at"] == iso_from_ns(clock.now_ns)


def test_earlier_boot_uses_the_base_learned_from_that_boot(clocked):
    server, clock, terminal = clocked
    boot_a_zero = clock.now_ns - 1000 * S  # boot A started 1000 s ago
    # A heartbeat from boot A teaches the server its base.
    assert server.upload(terminal, make_batch([], boot_id="boot-A", monotonic_ns=1000 * S)).status_code == 200
    # Power cut; boot B uploads a rating left from boot A (pressed at A's monotonic 1500 s).
    clock.advance(3600)
    left_over = make_rating(terminal.id, boot_id="boot-A", monotonic_ns=1500 * S, clock_synced=0,
                            created_at="2019-01-01T00:25:00.000Z")
    answer = server.upload(terminal, make_batch([left_over], boot_id="boot-B", monotonic_ns=30 * S))
    assert answer.status_code == 200, answer.text
    row = stored(server, left_over["id"])
    assert row["time_quality"] == "exact"
    assert abs(ns_from_iso(row["corrected_at"]) - (boot_a_zero + 1500 * S)) <= 1 * MS


def test_boot_base_keeps_the_batch_with_the_least_network_delay(clocked):
    server, clock, terminal = clocked
    zero = clock.now_ns
    clock.now_ns = zero + 10 * S + 300 * MS  # sent at monotonic 10 s, 300 ms on the network
    server.upload(terminal, make_batch([], boot_id="boot-A", monotonic_ns=10 * S))
    clock.now_ns = zero + 20 * S + 2 * MS  # 2 ms on the network: the better measure
    server.upload(terminal, make_batch([], boot_id="boot-A", monotonic_ns=20 * S))
    clock.now_ns = zero + 30 * S + 900 * MS  # a slow one again must not spoil it
    server.upload(terminal, make_batch([], boot_id="boot-A", monotonic_ns=30 * S))
    offset, = server.rows("boot_offsets", terminal_id=terminal.id, boot_id="boot-A")
    assert offset["base_ns"] == zero + 2 * MS
    clock.advance(600)
    left_over = make_rating(terminal.id, boot_id="boot-A", monotonic_ns=25 * S)
    server.upload(terminal, make_batch([left_over], boot_id="boot-B", monotonic_ns=5 * S))
    assert ns_from_iso(stored(server, left_over["id"])["corrected_at"]) == zero + 25 * S + 2 * MS


@pytest.mark.parametrize("clock_synced, quality", [(1, "device"), (0, "estimated")])
def test_unknown_earlier_boot_falls_back_to_the_device_clock(clocked, clock_synced, quality):
    server, clock, terminal = clocked
    rating = make_rating(terminal.id, boot_id="boot-never-seen", monotonic_ns=5 * S, clock_synced=clock_synced,
                         created_at="2026-11-24T08:00:00.123Z")
    answer = server.upload(terminal, make_batch([rating], boot_id="boot-now", monotonic_ns=60 * S))
    assert answer.status_code == 200, answer.text
    row = stored(server, rating["id"])
    assert (row["corrected_at"], row["time_quality"]) == ("2026-11-24T08:00:00.123Z", quality)


def test_implausible_monotonic_distance_falls_back_to_the_device_clock(clocked):
    server, clock, terminal = clocked
    # 60 years of uptime between press and batch: not a real terminal; never "exact" junk.
    rating = make_rating(terminal.id, monotonic_ns=0, clock_synced=1, created_at="2026-11-25T09:00:00.000Z")
    server.upload(terminal, make_batch([rating], monotonic_ns=60 * 365 * 86400 * S))
    row = stored(server, rating["id"])
    assert (row["corrected_at"], row["time_quality"]) == ("2026-11-25T09:00:00.000Z", "device")


def test_receipt_and_terminal_report_the_clock_offset(clocked):
    server, clock, terminal = clocked
    answer = server.upload(terminal, make_batch([], sent_at=iso_from_ns(clock.now_ns - 7 * 86400 * S)))
    assert answer.json()["clock_offset_s"] == pytest.approx(-7 * 86400)
    assert server.rows("terminals", id=terminal.id)[0]["clock_offset_s"] == pytest.approx(-7 * 86400)


@pytest.mark.parametrize("jump_s", [-3 * 365 * 86400, +2 * 86400], ids=["stale-then-forward", "ahead-then-backward"])
def test_a_boot_spent_offline_is_dated_by_its_synced_presses_and_keeps_press_order(clocked, jump_s):
    server, clock, terminal = clocked
    boot_zero = clock.now_ns - 100 * S  # boot A began 100 s ago; the server never hears from it
    # Three presses while the wall clock is off by jump_s, then the network sets it, two more presses.
    monotonic = [110, 130, 150, 170, 190]
    presses = [make_rating(terminal.id, boot_id="boot-A", monotonic_ns=m * S, clock_synced=int(i >= 3),
                           created_at=iso_from_ns(boot_zero + m * S + (0 if i >= 3 else -jump_s * S)))
               for i, m in enumerate(monotonic)]
    clock.advance(3600)  # rebooted (offline boot A ended): boot B uploads A's presses
    answer = server.upload(terminal, make_batch(presses, boot_id="boot-B", monotonic_ns=20 * S))
    assert answer.status_code == 200, answer.text
    rows = [stored(server, p["id"]) for p in presses]
    assert [r["time_quality"] for r in rows] == ["device"] * 5
    assert [ns_from_iso(r["corrected_at"]) for r in rows] == [boot_zero + m * S for m in monotonic]

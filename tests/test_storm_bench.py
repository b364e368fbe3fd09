"""The issue 14 benches at a tiny size, so that CI catches a broken bench: the reconnect storm (5 terminals ×
20 pending, real uploaders, real server) and the fleet bench's overload steps. The timings are the benches'
business; here only that they run to the end, deliver everything and print their figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_bench(*argv: str, timeout: float = 240) -> str:
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_tiny_reconnect_storm_delivers_every_rating(backend):
    out = run_bench("bench/reconnect_storm.py", "--backend", backend, "--terminals", "5", "--pending", "20",
                    "--window", "2", "--limit-s", "90", "--drain-spread", "1", "--outage", "600")
    assert "everything stored      : " in out and "NOT within" not in out, out
    assert re.search(r"lost +: 0 \(acknowledged 100, server 100, still pending on terminals 0", out), out
    assert re.search(r"terminal done \(from the storm's start\): median [\d.]+ s, last [\d.]+ s", out), out
    assert re.search(r"GET /healthz +: \d+ answered, p50 \d+ ms, p99 \d+ ms", out), out
    assert re.search(r"GET / +: \d+ answered", out), out  # the dashboard page, logged in
    assert "client" in out and "load average" in out


def test_the_fleet_bench_offers_multiples_of_a_given_capacity():
    out = run_bench("bench/fleet.py", "--backend", "sqlite", "--terminals", "10", "--batch", "10", "--load", "200",
                    "--step-s", "2", "--overload", "1.5,3", "--capacity", "200", "--retry-window-s", "10")
    assert "past the knee (capacity 200 ratings/s)" in out, out
    lines = [line for line in out.splitlines() if re.match(r"\s+(1\.5|3\.0)x ", line)]
    assert len(lines) == 2, out
    for multiple in ("1.5x", "3.0x"):
        assert re.search(rf"{re.escape(multiple)}: accepted p99 ≤ 250 ms \w+; 429 p99 ≤ 20 ms \w+; errors 0 met; "
                         r"lost 0 met; all stored in the end yes", out), out


def test_bad_overload_multiples_are_refused_naming_the_option():
    done = subprocess.run([sys.executable, "bench/fleet.py", "--overload", "1.5,x"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "--overload" in done.stderr, done.stderr

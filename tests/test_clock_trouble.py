"""Suite 8 of issue 10, clock trouble: terminals whose wall clock is wrong, jumps, or reboots offline.

End to end: the real rating flow and store on a SQLite file, the real uploader, a real
uvicorn server (SQLite file and PostgreSQL). The clocks go through the seams the code has:
the terminal's ``stamp()`` (wall clock, boot id, monotonic clock, sync state), the flow's
monotonic ``clock`` and the server's injected wall clock, which is the truth here.

Each generated scenario (seeded) is a few boots of one terminal: a stale wall clock years
behind that the network then sets (a jump forward), a clock ahead that the network sets back
(a jump backward), and boots spent offline whose ratings reach the server only after the
next reboot, perhaps after another clock change. Every rating must come back with the best
``corrected_at`` the evidence allows and a ``time_quality`` that says how good it is:

- ``exact`` when the server measured the rating's boot itself (a batch sent in that boot);
- ``device`` when it did not, but the terminal's clock was set by the network in that boot
  (the rating's own ``created_at``, or the monotonic distance to a synced rating of that boot);
- ``estimated`` only when there is no such evidence.

And within a boot, ordering by ``corrected_at`` gives the press order.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from reliability import record, scale

from kiosk.flow import RatingFlow
from kiosk.store import RatingStore
from kiosk.timekeeping import Stamp, iso_utc
from server.timekeeping import ns_from_iso
from server_fixtures import *  # noqa: F401,F403 - server_db_url, start_server
from server_fixtures import FakeClock
from sync.local import LocalRatings
from sync.uploader import Uploader

S = 1_000_000_000
YEAR = 365 * 86_400 * S
COMMAND = "HAILONG_SOAK=1 .venv/bin/python -m pytest -m reliability tests/test_clock_trouble.py"
#: How far off an "exact" or "device" time may be: the clocks here have no network delay,
#: so only the protocol's millisecond rounding remains.
TOLERANCE_NS = 2_000_000
RATINGS = ("very_satisfied", "satisfied", "dissatisfied")


class TerminalClocks:
    """The terminal's clocks against the truth (the server's clock): a wall clock that may be
    off by ``wall_error_ns`` and a monotonic clock that starts again at each boot."""

    def __init__(self, truth: FakeClock):
        self.truth = truth
        self.boot_id = ""
        self.boot_zero_ns = 0  # the true time at this boot's monotonic zero
        self.wall_error_ns = 0
        self.synced = 0

    def boot(self, boot_id: str, *, wall_error_ns: int, uptime_s: float) -> None:
        self.boot_id = boot_id
        self.boot_zero_ns = self.truth.now_ns - int(uptime_s * S)
        self.wall_error_ns = wall_error_ns
        self.synced = 0

    def set_by_network(self) -> None:
        """NTP steps the wall clock to the truth: a jump forward or backward."""
        self.wall_error_ns = 0
        self.synced = 1

    @property
    def monotonic_ns(self) -> int:
        return self.truth.now_ns - self.boot_zero_ns

    def seconds(self) -> float:
        return self.monotonic_ns / S

    def stamp(self) -> Stamp:
        wall = datetime.fromtimestamp((self.truth.now_ns + self.wall_error_ns) / S, tz=timezone.utc)
        return Stamp(iso_utc(wall), self.boot_id, self.monotonic_ns, self.synced)


@dataclass
class Press:
    rating_id: str
    boot_id: str
    true_ns: int
    synced: int


@dataclass
class Expectations:
    """What the test knows the server can know, press by press."""

    presses: list[Press] = field(default_factory=list)
    measured_boots: set[str] = field(default_factory=set)  # boots the server received a batch in
    quality: dict[str, str] = field(default_factory=dict)

    def uploaded(self, during_boot: str, sent: list[Press]) -> None:
        """``sent`` (one batch) reached the server during boot ``during_boot``."""
        synced_boots = {p.boot_id for p in sent if p.synced}
        for press in sent:
            if press.boot_id == during_boot or press.boot_id in self.measured_boots:
                self.quality[press.rating_id] = "exact"
            elif press.boot_id in synced_boots:
                self.quality[press.rating_id] = "device"
            else:
                self.quality[press.rating_id] = "estimated"
        self.measured_boots.add(during_boot)


class OneTerminal:
    """A terminal's core parts on a SQLite file; ``reboot`` opens them again as a restart does."""

    def __init__(self, path, clocks: TerminalClocks, terminal_id: str, token: str, url: str):
        self.path, self.clocks, self.terminal_id, self.token, self.url = path, clocks, terminal_id, token, url
        self.parts = None

    def start(self) -> None:
        store = RatingStore(self.path, terminal_id=self.terminal_id, clock=self.clocks)
        store.seal_open_ratings()
        flow = RatingFlow(store, repeat_interval_s=0, thanks_s=0.5, clock=self.clocks.seconds)
        local = LocalRatings(self.path)
        uploader = Uploader(local, server_url=self.url, token=self.token, stamp=self.clocks.stamp,
                            app_version="0.1.0", timeout=(5.0, 10.0), pause_s=0, rng=random.Random(3))
        self.parts = (store, flow, local, uploader)

    def stop(self) -> None:
        store, _flow, local, uploader = self.parts
        uploader.stop()
        local.close()
        store.close()

    def press(self, rating: str) -> str:
        _store, flow, _local, _uploader = self.parts
        event = flow.press(rating, source="button")
        assert event.kind == "rated", event
        if flow.screen == "reason":
            flow.skip_reason(source="button")
        return event.rating_id

    def pending_ids(self) -> list[str]:
        return [r["id"] for r in self.parts[2].pending(10_000)]

    def drain(self) -> dict:
        return self.parts[3].drain()


def run_scenario(seed: int, server, truth: FakeClock, tmp_path) -> dict:
    """One terminal through a few boots; returns the figures of this scenario."""
    rng = random.Random(seed)
    kind = ("forward", "backward", "offline")[seed % 3]
    enrolled = server.enroll()
    clocks = TerminalClocks(truth)
    terminal = OneTerminal(tmp_path / f"kiosk-{seed}.db", clocks, enrolled.id, enrolled.token, server.url)
    expect = Expectations()
    by_id: dict[str, Press] = {}
    boots = 2 if kind == "offline" else rng.randint(1, 2)
    for boot in range(boots):
        last_boot = boot == boots - 1
        online = last_boot or (kind != "offline" and rng.random() < 0.7)
        if boot == 0:
            if kind == "backward":  # a clock ahead (a bad RTC, a wrong time zone set by hand)
                error = int(rng.uniform(60, 3 * 86_400) * S)
            else:  # no battery clock: years behind after a long power cut
                error = -int(rng.uniform(1, 6) * YEAR)
        else:  # fake-hwclock: the time of the last shutdown, behind by the time the power was off
            truth.advance(rng.uniform(60, 2 * 86_400))
            error = -int(rng.uniform(60, 2 * 86_400) * S)
        clocks.boot(f"boot-{seed}-{boot}", wall_error_ns=error, uptime_s=rng.uniform(12, 40))
        terminal.start()
        presses = rng.randint(4, 12)
        # An offline boot may still reach a time server (its own server is down, or only the VPN is).
        sync_at = rng.randint(0, presses) if (online or rng.random() < 0.6) else None
        for n in range(presses + 1):
            if n == sync_at:
                clocks.set_by_network()
            if n == presses:
                break
            truth.advance(rng.uniform(1, 90))
            rating_id = terminal.press(rng.choice(RATINGS))
            by_id[rating_id] = Press(rating_id, clocks.boot_id, truth.now_ns - 0, clocks.synced)
            # The press's true time is the truth when it was stamped (the flow stamps at once).
            expect.presses.append(by_id[rating_id])
            if online and rng.random() < 0.3:
                upload(terminal, expect, by_id, truth, rng)
        if online:
            upload(terminal, expect, by_id, truth, rng)
        truth.advance(rng.uniform(1, 600))
        terminal.stop()
    return check(server, enrolled.id, expect, by_id)


def upload(terminal: OneTerminal, expect: Expectations, by_id: dict[str, Press], truth: FakeClock,
           rng: random.Random) -> None:
    truth.advance(rng.uniform(0.5, 30))
    sending = [by_id[i] for i in terminal.pending_ids()]
    report = terminal.drain()
    assert report["pending"] == 0 and report["batches"] == 1, report
    expect.uploaded(terminal.clocks.boot_id, sending)


def check(server, terminal_id: str, expect: Expectations, by_id: dict[str, Press]) -> dict:
    rows = {r["id"]: r for r in server.rows("ratings", terminal_id=terminal_id)}
    lost = sum(1 for p in expect.presses if p.rating_id not in rows)
    wrong_quality = misordered = 0
    max_error_ns = 0
    problems = []
    for press in expect.presses:
        row = rows.get(press.rating_id)
        if row is None:
            continue
        error = abs(ns_from_iso(row["corrected_at"]) - press.true_ns)
        wanted = expect.quality[press.rating_id]
        honest = row["time_quality"] == wanted and (wanted == "estimated" or error <= TOLERANCE_NS)
        if not honest:
            wrong_quality += 1
            problems.append((press, row["corrected_at"], row["time_quality"], wanted, error / S))
        if row["time_quality"] != "estimated":
            max_error_ns = max(max_error_ns, error)
    for boot in {p.boot_id for p in expect.presses}:
        in_press_order = [p.rating_id for p in expect.presses if p.boot_id == boot and p.rating_id in rows]
        by_corrected = sorted(in_press_order, key=lambda i: (rows[i]["corrected_at"], in_press_order.index(i)))
        inverted = sum(1 for a, b in zip(by_corrected, in_press_order) if a != b)
        if inverted:
            misordered += 1
            problems.append(("misordered", boot, [(rows[i]["corrected_at"], rows[i]["time_quality"])
                                                  for i in in_press_order]))
    return {"ratings": len(expect.presses), "lost": lost, "wrong_quality": wrong_quality,
            "misordered": misordered, "max_error_ns": max_error_ns, "problems": problems}


@pytest.mark.reliability
def test_clock_trouble(start_server, server_db_url, tmp_path):
    truth = FakeClock()
    server = start_server(clock=truth)
    scenarios = scale(9, 150)
    started = time.monotonic()
    totals = {"ratings": 0, "lost": 0, "wrong_quality": 0, "misordered": 0, "max_error_ns": 0}
    problems = []
    for seed in range(scenarios):
        figures = run_scenario(seed, server, truth, tmp_path)
        problems += [(seed, *p) for p in figures.pop("problems")]
        for key, value in figures.items():
            totals[key] = max(totals[key], value) if key == "max_error_ns" else totals[key] + value
    if server_db_url.startswith("sqlite"):  # one row per run: the SQLite one (PostgreSQL checks the same)
        record("Clock trouble", cases=scenarios, lost=totals["lost"], command=COMMAND,
               ratings=totals["ratings"], misordered=totals["misordered"], wrong_quality=totals["wrong_quality"],
               max_error_s=round(totals["max_error_ns"] / S, 3), seconds=round(time.monotonic() - started, 1))
    assert problems == []
    assert (totals["lost"], totals["wrong_quality"], totals["misordered"]) == (0, 0, 0)

"""Issue 10, suite 2: network and server faults. Nothing lost, nothing twice, and the backlog drains.

Several terminals (the real rating flow, store and uploader thread, each on its
own SQLite file) keep taking presses while they upload through the fault proxy
(tests/fault_proxy.py), which cycles every fault: refused, stalled, reset
before and after the server commits, 5xx, 429, a captive portal's HTML 200,
and an answer that trickles in a byte at a time. Meanwhile the server — a real
``kiosk-server serve`` process — is killed with SIGKILL at random moments,
mostly while a batch is in flight, and started again on the same database.

For the last ``OUTAGE_S`` seconds of pressing the network is down (every
connection refused), so a backlog builds up as it does in the field. Then the
network returns and the faults stop, the time until every terminal's backlog
is empty is measured (``drain_s``), and the server's ratings are compared with every
terminal's, id by id and field by field: none missing, none twice, none
changed, no server error (5xx) but the injected ones. On SQLite and PostgreSQL.

The terminals' uploaders run with short timeouts and back-off (see
``UPLOADER``) so the soak measures the protocol, not the waits: in the field
the back-off reaches 300 s and ``drain_s`` grows with it.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import Counter

import pytest
import requests

from fault_proxy import FAULTS, FaultProxy
from kiosk.flow import RatingFlow
from kiosk.store import RatingStore
from kiosk.timekeeping import SystemClock
from reliability import SOAK, record, scale
from server_fixtures import server_db_url  # noqa: F401 - the two backends (PostgreSQL fails, not skips, in CI)
from server_process import ServerProcess
from sync.local import LocalRatings
from sync.uploader import Uploader, make_session

RATINGS = scale(2_000, 30_000)
KILLS = scale(3, 24)
TERMINALS = scale(3, 6)
PRESSING_S = scale(10.0, 240.0)  # presses are spread over this long, while faults and kills go on
OUTAGE_S = scale(3.0, 30.0)  # the end of the pressing, with the network down: the backlog to drain
COMMAND = "HAILONG_SOAK=1 .venv/bin/python -m pytest -m reliability tests/test_fault_soak.py"
#: The uploaders' settings in this soak; everything else is the terminal's own (session, retries, batch size).
UPLOADER = {"timeout": (1.0, 2.0), "answer_deadline_s": 3.0, "backoff_base_s": 0.1, "backoff_cap_s": 2.0}
INJECTED = tuple(f for f in FAULTS if f != "pass")
CONTENT = ("id", "terminal_id", "rating", "reason", "reason_outcome", "source", "created_at", "boot_id",
           "monotonic_ns", "clock_synced", "filtered")
RATING_KINDS = ("very_satisfied", "satisfied", "dissatisfied")
REASONS = ("processing_time", "staff_attitude", "unclear_guidance")


class SoakTerminal:
    """A terminal's core on its own SQLite file: flow, store and the uploader thread, as ``kiosk run`` wires them."""

    def __init__(self, folder, terminal_id: str, token: str, url: str, seed: int):
        folder.mkdir()
        self.path = folder / "kiosk.db"
        self.rng = random.Random(seed)
        self.flow_now = 1000.0  # the flow's clock: each press comes after the thank-you ends
        clock = SystemClock()
        self.store = RatingStore(self.path, terminal_id=terminal_id, clock=clock)
        self.flow = RatingFlow(self.store, reasons=REASONS, repeat_interval_s=0, thanks_s=1,
                               clock=lambda: self.flow_now)
        self.local = LocalRatings(self.path)
        self.uploader = Uploader(self.local, server_url=url, token=token, stamp=clock.stamp, app_version="0.1.0",
                                 session=make_session(), rng=random.Random(seed), **UPLOADER)
        self.flow.add_listener(lambda event: self.uploader.wake())
        self.pressed = 0

    def press(self) -> None:
        """One citizen: a rating; a dissatisfied one answers the reason question (or skips it)."""
        self.flow_now += 2
        self.flow.press(self.rng.choice(RATING_KINDS), source=self.rng.choice(("button", "touch")))
        if self.flow.screen == "reason":
            if self.rng.random() < 0.8:
                self.flow.choose_reason(self.rng.choice(REASONS))
            else:
                self.flow.skip_reason()
        self.pressed += 1

    def rows(self) -> dict[str, tuple]:
        with sqlite3.connect(self.path) as conn:
            return {row[0]: row for row in conn.execute(f"SELECT {', '.join(CONTENT)} FROM ratings")}

    def close(self) -> None:
        self.uploader.stop()
        self.local.close()
        self.store.close()


def enroll(db_url: str, server_url: str, n: int) -> list[tuple[str, str]]:
    """``n`` terminals enrolled the way a technician does it: a code from the database, then POST /enroll."""
    from server.accounts import issue_enrollment_code
    from server.db import open_engine, write_transaction
    from server.settings import Settings

    engine = open_engine(Settings(db_url=db_url))
    try:
        enrolled = []
        for i in range(n):
            with engine.connect() as conn, write_transaction(conn):
                code = issue_enrollment_code(conn, site="UBND phường Phúc La", counter=f"Quầy {i + 1}",
                                             ttl_s=3600, now_ns=time.time_ns())
            answer = requests.post(f"{server_url}/api/v1/enroll", json={"code": code, "app_version": "0.1.0"},
                                   timeout=30)
            assert answer.status_code == 201, answer.text
            enrolled.append((answer.json()["terminal_id"], answer.json()["device_token"]))
        return enrolled
    finally:
        engine.dispose()


def server_ratings(db_url: str) -> list[tuple]:
    from sqlalchemy import select

    from server import schema
    from server.db import open_engine
    from server.settings import Settings

    engine = open_engine(Settings(db_url=db_url))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(select(*[schema.ratings.c[k] for k in CONTENT]))]
    finally:
        engine.dispose()


def keep_faults_coming(proxy: FaultProxy, rng: random.Random, stop: threading.Event, outage_at: float) -> None:
    """Every fault in turn, in a shuffled order, each followed by a few requests that pass; from ``outage_at``
    (monotonic) on, the network is down until the faults stop."""
    while not stop.is_set() and time.monotonic() < outage_at:
        if proxy.queued() < 4:
            round_ = list(INJECTED)
            rng.shuffle(round_)
            proxy.inject(*[step for fault in round_ for step in (fault, *["pass"] * rng.randint(1, 3))])
        stop.wait(0.05)
    if not stop.is_set():
        proxy.clear()
        proxy.inject(*["refuse"] * 1_000_000)  # every connection refused until clear()


def kill_and_restart(server: ServerProcess, proxy: FaultProxy, rng: random.Random, kills: int,
                     every_s: float, mid_batch: list[bool]) -> None:
    """SIGKILL the server ``kills`` times, each at a random moment while a batch is in flight when one comes."""
    for _ in range(kills):
        time.sleep(rng.uniform(0.3, 1.7) * every_s)
        waited = time.monotonic() + 2.0
        while proxy.in_flight == 0 and time.monotonic() < waited:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.02))  # somewhere in the batch: reading it, writing, committing, answering
        mid_batch.append(proxy.in_flight > 0)
        server.kill()
        time.sleep(rng.uniform(0, 0.5))  # down for a moment: connections are refused
        server.start()


@pytest.mark.reliability
def test_network_and_server_faults_lose_nothing_and_duplicate_nothing(server_db_url, tmp_path):  # noqa: F811
    backend = "PostgreSQL" if server_db_url.startswith("postgresql") else "SQLite"
    rng = random.Random(20261202)
    server = ServerProcess(server_db_url, log_path=tmp_path / "server.log").start()
    proxy = FaultProxy(("127.0.0.1", server.port), trickle_s=0.01).start()
    terminals: list[SoakTerminal] = []
    try:
        for i, (terminal_id, token) in enumerate(enroll(server_db_url, server.url, TERMINALS)):
            terminals.append(SoakTerminal(tmp_path / f"terminal-{i}", terminal_id, token, proxy.url, seed=i))
        for terminal in terminals:
            terminal.uploader.start()

        stop_faults = threading.Event()
        outage_at = time.monotonic() + PRESSING_S - OUTAGE_S
        faults = threading.Thread(target=keep_faults_coming, args=(proxy, rng, stop_faults, outage_at), daemon=True)
        faults.start()
        mid_batch: list[bool] = []
        killer = threading.Thread(target=kill_and_restart, daemon=True,
                                  args=(server, proxy, random.Random(rng.random()), KILLS, (PRESSING_S - OUTAGE_S) / KILLS,
                                        mid_batch))
        killer.start()

        def press_share(terminal: SoakTerminal, count: int) -> None:
            started = time.monotonic()
            for n in range(count):
                terminal.press()
                behind = started + PRESSING_S * (n + 1) / count - time.monotonic()
                if behind > 0:
                    time.sleep(behind)

        shares = [RATINGS // TERMINALS + (1 if i < RATINGS % TERMINALS else 0) for i in range(TERMINALS)]
        pressers = [threading.Thread(target=press_share, args=(t, n), daemon=True) for t, n in zip(terminals, shares)]
        for presser in pressers:
            presser.start()
        for presser in pressers:
            presser.join()
        killer.join()

        # The network returns and the faults stop (a stalled or trickling request may still be on its way);
        # the backlog drains.
        stop_faults.set()
        faults.join()
        proxy.clear()
        backlog = sum(t.local.pending_count() for t in terminals)
        stopped = time.monotonic()
        deadline = stopped + scale(120, 300)
        while any(t.local.pending_count() for t in terminals) and time.monotonic() < deadline:
            time.sleep(0.05)
        drain_s = time.monotonic() - stopped
        waiting = sum(t.local.pending_count() for t in terminals)
        kept_aside = sum(t.local.quarantined() for t in terminals)  # conflicts and refusals
        for terminal in terminals:
            terminal.uploader.stop()
    finally:
        proxy.stop()
        for terminal in terminals:
            terminal.close()
        server.stop()

    local = {}
    for terminal in terminals:
        local.update(terminal.rows())
    held = server_ratings(server_db_url)
    held_by_id = {row[0]: row for row in held}
    missing = sum(1 for rating_id in local if rating_id not in held_by_id)
    duplicated = len(held) - len(held_by_id)
    foreign = sum(1 for rating_id in held_by_id if rating_id not in local)  # on the server, on no terminal
    changed = sum(1 for rating_id, row in local.items() if rating_id in held_by_id and held_by_id[rating_id] != row)
    server_errors = sum(n for status, n in proxy.upstream_statuses.items() if status >= 500)
    injected = Counter(f for f in proxy.seen if f != "pass")
    record(f"Network and server faults ({backend})", cases=len(local), lost=missing, duplicated=duplicated,
           server_errors=server_errors, command=COMMAND, server_kills=server.kills, kills_mid_batch=sum(mid_batch),
           faults=sum(injected.values()), outage_s=OUTAGE_S, backlog_at_stop=backlog, drain_s=round(drain_s, 1),
           terminals=TERMINALS)

    assert len(local) == RATINGS == sum(t.pressed for t in terminals)  # every press was stored
    assert waiting == 0, f"{waiting} rating(s) still waiting {drain_s:.0f} s after the faults stopped"
    assert (missing, duplicated, foreign, changed, kept_aside) == (0, 0, 0, 0, 0)
    assert server_errors == 0, proxy.upstream_statuses
    assert "Traceback" not in server.log_text(), server.log_tail(40)
    assert server.kills == KILLS
    if SOAK:  # with 24 kills some land mid-batch; with CI's 3 on a loaded machine, maybe none
        assert sum(mid_batch) >= 1
    assert set(injected) == set(INJECTED), injected  # every fault was met
    assert backlog > 0, "the outage at the end left nothing to drain"

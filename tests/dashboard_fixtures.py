"""What the dashboard and alert tests share: ratings sent at the (fake) server clock's time, a known data set,
a server on a fake clock (``dash``) and logging in over HTTP.

Each terminal's boot is placed so that its monotonic clock agrees with the
server's fake wall clock; a rating sent ``age_s`` seconds before the batch is
then dated (``corrected_at``) exactly ``age_s`` seconds before the clock.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import requests

from server_fixtures import FakeClock, make_batch, make_rating
from server.timekeeping import iso_from_ns

NS = 1_000_000_000
BOOT_NS = 1_700_000_000 * NS  # the terminals' boot, wall time (long before every test's clock)

SITE_A, SITE_B = "UBND phường Phúc La", "UBND phường Nam Hà"


def at(iso: str) -> int:
    """ns since the epoch of an ISO UTC time: ``at("2026-11-25T01:00:00Z")``."""
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()) * NS


def rating(level: str, *, reason: str | None = None, skipped: bool = False,
           filtered: int = 0, age_s: float = 1.0) -> dict:
    fields = {"rating": level, "filtered": filtered, "_age_s": age_s}
    if level == "dissatisfied":
        fields |= {"reason": reason, "reason_outcome": "given" if reason else ("skipped" if skipped else "timeout")}
    return fields


def send(server, terminal, clock: FakeClock, specs: list[dict], *, pending: int = 0,
         last_error: str | None = None):
    """Upload ``specs`` (from :func:`rating`) as one batch of ``terminal`` at ``clock``'s time; an empty list is a heartbeat.

    ``pending`` is what the terminal still has to send after this batch (its health counts the batch too)."""
    mono = clock.now_ns - BOOT_NS
    ratings = []
    for i, spec in enumerate(specs):
        spec = dict(spec)
        age_ns = int(spec.pop("_age_s") * NS)
        ratings.append(make_rating(terminal.id, monotonic_ns=mono - age_ns - i, boot_id="boot-x",
                                   created_at=iso_from_ns(clock.now_ns - age_ns), **spec))
    batch = make_batch(ratings, boot_id="boot-x", monotonic_ns=mono, sent_at=iso_from_ns(clock.now_ns),
                       health={"pending": pending + len(ratings), "last_error": last_error})
    answer = server.upload(terminal, batch)
    assert answer.status_code == 200, answer.text
    assert all(ack["status"] == "stored" for ack in answer.json()["acks"])
    return answer


# -- the known data set ----------------------------------------------------------------------------

#: Wednesday 25/11/2026 08:00 in Hà Nội (UTC+7).
KNOWN_START = at("2026-11-25T01:00:00Z")


def load_known_data_set(server, clock: FakeClock):
    """Two sites; returns (terminal at A, terminal at B). The clock ends at 10:30 local, B silent since 08:00.

    Counted: 27 very satisfied, 10 satisfied, 3 dissatisfied (1 processing time, 1 staff attitude,
    1 no reason) = 40; 1 filtered press. Site A: 24/10/2 (n=36), site B: 3/0/1 (n=4, too few).
    Local hours (Wednesday): 07h 4 (1 dissatisfied), 09h 24, 10h 12 (2 dissatisfied).
    """
    clock.now_ns = KNOWN_START
    a = server.enroll(site=SITE_A, counter="Quầy 1")
    b = server.enroll(site=SITE_B, counter="Quầy 2")
    send(server, b, clock, [rating("very_satisfied", age_s=60 + i) for i in range(3)]
         + [rating("dissatisfied", reason="staff_attitude", age_s=30)], pending=0)
    clock.advance(2.5 * 3600)  # 10:30 local: B has been silent for 2 h 30 min of opening hours
    send(server, a, clock, [rating("very_satisfied", age_s=2000 + i) for i in range(24)]
         + [rating("satisfied", age_s=1500 + i) for i in range(10)]
         + [rating("dissatisfied", reason="processing_time", age_s=1200),
            rating("dissatisfied", skipped=True, age_s=1100),
            rating("very_satisfied", filtered=1, age_s=1099)], pending=3, last_error=None)
    return a, b


# -- a server on a fake clock, and logging in ---------------------------------------------------------

@pytest.fixture
def dash(start_server):
    """A server whose clock the test sets (``dash.clock``), alerts checked only when asked."""
    clock = FakeClock()
    server = start_server(clock=clock, alert_check_interval_s=0)
    server.clock = clock
    return server


def login_form(server, session: requests.Session, next_path: str = "/") -> str:
    """Open the login page in ``session``: its CSRF token."""
    answer = session.get(server.url + "/login", params={"next": next_path}, timeout=30)
    assert answer.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', answer.text).group(1)


def post_login(server, session: requests.Session, person, *, next_path: str = "/", code: str = "",
               password: str | None = None) -> requests.Response:
    """Open the login page in ``session`` and send ``person``'s user name and password (or ``password``)."""
    csrf = login_form(server, session, next_path)
    data = {"username": person.username, "password": person.password if password is None else password,
            "code": code, "csrf": csrf, "next": next_path}
    return session.post(server.url + "/login", data=data, allow_redirects=False, timeout=30)


def log_in(server, person, *, next_path: str = "/", code: str = "") -> requests.Session:
    """A session logged in to the dashboard as ``person`` (a :class:`server_fixtures.Person`)."""
    session = requests.Session()
    answer = post_login(server, session, person, next_path=next_path, code=code)
    assert answer.status_code == 303, answer.text
    return session

"""Data sets for the report tests (``tests/test_reports_*.py``, ``tests/test_admin_report*.py``).

Ratings are rows as a pull writes them (the columns of ``server.models.RATING_OUTPUT_FIELDS``);
:func:`write_pulled_db` stores them in a ``.db`` file shaped like ``kiosk-admin pull --out x.db``
makes (sqlite-utils, ``cursor`` primary key, a ``pull_state`` table).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import sqlite_utils

import server_fixtures

from server.models import RATING_OUTPUT_FIELDS
from sync.protocol import MAX_BATCH_RATINGS

VN = ZoneInfo("Asia/Ho_Chi_Minh")

SITE_A, SITE_B, SITE_C = "UBND phường Phúc La", "UBND phường Văn Quán", "UBND phường Yết Kiêu"
Q1, Q2 = "Quầy 1", "Quầy 2"


def local_iso(year, month, day, hour=9, minute=0, second=0, ms=0, *, tz=VN) -> str:
    """The ISO UTC text (as ``corrected_at`` holds it) of a local wall-clock time."""
    moment = datetime(year, month, day, hour, minute, second, ms * 1000, tzinfo=tz).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def rating_row(terminal_id: str, site: str, counter: str | None, rating: str, at: str, *, reason=None,
               filtered=0, **fields) -> dict:
    row = {"cursor": None, "id": str(uuid.uuid4()), "terminal_id": terminal_id, "site": site, "counter": counter,
           "rating": rating, "reason": reason,
           "reason_outcome": ("given" if reason else "skipped") if rating == "dissatisfied" else None,
           "source": "button", "filtered": filtered, "created_at": at, "corrected_at": at,
           "time_quality": "device", "received_at": at, "boot_id": "boot-r", "monotonic_ns": 1,
           "clock_synced": 1}
    row.update(fields)
    return row


def spread(n: int, *, year=2026, month=11, salt=0) -> list[str]:
    """``n`` local times in opening hours spread over the days of a month (deterministic)."""
    times = []
    for i in range(n):
        day = 1 + (i * 7 + salt) % 28
        hour = (7, 8, 9, 10, 14, 15, 16)[(i + salt) % 7]
        times.append(local_iso(year, month, day, hour, (i * 13) % 60))
    return times


def terminal_rows(terminal_id, site, counter, *, very=0, satisfied=0, dissatisfied=(), filtered=(),
                  salt=0) -> list[dict]:
    """Counted ratings of one terminal (``dissatisfied`` is a list of reasons, None for none given)
    plus ``filtered`` presses (a list of levels)."""
    levels = ["very_satisfied"] * very + ["satisfied"] * satisfied + ["dissatisfied"] * len(dissatisfied)
    reasons = [None] * (very + satisfied) + list(dissatisfied)
    rows = [rating_row(terminal_id, site, counter, level, at, reason=reason)
            for level, reason, at in zip(levels, reasons, spread(len(levels), salt=salt))]
    rows += [rating_row(terminal_id, site, counter, level, at, filtered=1)
             for level, at in zip(filtered, spread(len(filtered), salt=salt + 3))]
    return rows


def known_rows() -> list[dict]:
    """November 2026: three sites, four counters, five terminals (the expected tables are in the tests).

    Site A: pl-1 (Quầy 1) 40 very, 15 satisfied, 5 dissatisfied (3 processing time, 2 none), 2 filtered;
            pl-2 (Quầy 2) 10 very, 8 satisfied, 2 dissatisfied (staff attitude, "wifi_down"), 1 filtered.
    Site B: vq-1 (Quầy 1) 1 dissatisfied, no reason — "1 of 1 dissatisfied".
    Site C: yk-1 (Quầy 1) 20 very, 10 satisfied, 10 dissatisfied (processing time); yk-2 (Quầy 1) 5 very.
    Plus four ratings just outside November (local), which no November report may count.
    """
    rows = []
    rows += terminal_rows("pl-1", SITE_A, Q1, very=40, satisfied=15,
                          dissatisfied=["processing_time"] * 3 + [None] * 2,
                          filtered=["very_satisfied", "very_satisfied"], salt=0)
    rows += terminal_rows("pl-2", SITE_A, Q2, very=10, satisfied=8, dissatisfied=["staff_attitude", "wifi_down"],
                          filtered=["dissatisfied"], salt=1)
    rows += terminal_rows("vq-1", SITE_B, Q1, dissatisfied=[None], salt=2)
    rows += terminal_rows("yk-1", SITE_C, Q1, very=20, satisfied=10, dissatisfied=["processing_time"] * 10, salt=3)
    rows += terminal_rows("yk-2", SITE_C, Q1, very=5, salt=4)
    # The edges: the first and last instants of November count, the ones around them do not.
    rows[0]["corrected_at"] = local_iso(2026, 11, 1, 0, 0, 0, 0)
    rows[1]["corrected_at"] = local_iso(2026, 11, 30, 23, 59, 59, 999)
    rows.append(rating_row("pl-1", SITE_A, Q1, "dissatisfied", local_iso(2026, 10, 31, 23, 59, 59, 999)))
    rows.append(rating_row("pl-1", SITE_A, Q1, "dissatisfied", local_iso(2026, 12, 1, 0, 0, 0, 0)))
    rows.append(rating_row("vq-1", SITE_B, Q1, "satisfied", local_iso(2026, 10, 15)))
    rows.append(rating_row("yk-1", SITE_C, Q1, "very_satisfied", local_iso(2026, 12, 2), filtered=1))
    return rows


def seed_article_rows() -> list[dict]:
    """Shaped like the Hà Đông report in seeds/: 2,220 very satisfied, 715 satisfied, 3 dissatisfied about
    processing time and 1 with no reason — 2,939 in all — over the first half of 2026, at one site."""
    site = "Bộ phận Một cửa quận Hà Đông"
    times = [local_iso(2026, 1 + i % 6, 1 + (i // 6) % 28, (7, 8, 9, 10, 14, 15, 16)[i % 7], i % 60)
             for i in range(2939)]
    levels = ["very_satisfied"] * 2220 + ["satisfied"] * 715 + ["dissatisfied"] * 4
    reasons = [None] * 2935 + ["processing_time"] * 3 + [None]
    counters = [Q1, Q2, "Quầy 3"]
    return [rating_row(f"hd-{i % 3 + 1}", site, counters[i % 3], level, at, reason=reason)
            for i, (level, reason, at) in enumerate(zip(levels, reasons, times))]


def write_pulled_db(path, rows: list[dict], *, server_url: str = "http://127.0.0.1:8000") -> None:
    """A ``.db`` file as ``kiosk-admin pull`` writes it: the ratings with their cursors, and the pull state."""
    db = sqlite_utils.Database(path)
    numbered = []
    for cursor, row in enumerate(rows, 1):
        numbered.append({name: (cursor if name == "cursor" else row[name]) for name in RATING_OUTPUT_FIELDS})
    db["ratings"].insert_all(numbered, pk="cursor", columns={"cursor": int, "filtered": int, "monotonic_ns": int,
                                                             "clock_synced": int})
    db["pull_state"].insert({"id": 1, "server": server_url, "last_cursor": len(rows)}, pk="id", replace=True)
    db.close()


# -- through a real server (tests/server_fixtures.py) ------------------------------------------------

def upload_known(server) -> dict[str, str]:
    """The known data set through the real batch API; returns our terminal names → server ids.

    The ratings come from an earlier boot the server knows nothing of, with a synced clock,
    so the server keeps their ``created_at`` as ``corrected_at`` (time quality "device"). The server
    takes only known reason codes, so the data set's unknown "wifi_down" goes up as "facilities"."""
    places = {"pl-1": (SITE_A, "Quầy 1"), "pl-2": (SITE_A, "Quầy 2"), "vq-1": (SITE_B, "Quầy 1"),
              "yk-1": (SITE_C, "Quầy 1"), "yk-2": (SITE_C, "Quầy 1")}
    terminals = {name: server.enroll(site=site, counter=counter) for name, (site, counter) in places.items()}
    upload_rows(server, terminals, known_rows())
    return {name: t.id for name, t in terminals.items()}


def upload_rows(server, terminals: dict, rows: list[dict]) -> None:
    """``rows`` (as :func:`rating_row` makes them, ``terminal_id`` one of our names) through the batch API
    of the enrolled ``terminals`` (our name → terminal), in batches the server takes."""
    by_terminal: dict[str, list[dict]] = {}
    for i, row in enumerate(rows):
        terminal = terminals[row["terminal_id"]]
        by_terminal.setdefault(row["terminal_id"], []).append(server_fixtures.make_rating(
            terminal.id, rating=row["rating"], reason={"wifi_down": "facilities"}.get(row["reason"], row["reason"]),
            reason_outcome=row["reason_outcome"], filtered=row["filtered"], created_at=row["corrected_at"],
            boot_id="earlier-boot", monotonic_ns=i, clock_synced=1))
    for name, ratings in by_terminal.items():
        for first in range(0, len(ratings), MAX_BATCH_RATINGS):
            answer = server.upload(terminals[name], server_fixtures.make_batch(ratings[first:first + MAX_BATCH_RATINGS]))
            assert answer.status_code == 200, answer.text


def pull_to_db(server, headers, path) -> None:
    """What ``kiosk-admin pull --out x.db`` keeps: every rating, paged by the cursor."""
    rows, after = [], 0
    while True:
        body = server.get("/api/v1/ratings", params={"after": after, "limit": 500}, headers=headers).json()
        rows += body["ratings"]
        if body["next"] is None:
            break
        after = body["next"]
    write_pulled_db(path, rows, server_url=server.url)

"""Shared by the counter tests (officers, dossiers, scans): a terminal's store on a real SQLite file, its
officers list, and a flow with sign-in and dossier invitations on."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

from kiosk.dossiers import DossierRules
from kiosk.flow import RatingFlow
from kiosk.officers import OfficerDirectory
from kiosk.service_pin import hash_pin
from kiosk.store import RatingStore

DOSSIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{5,47}$"
BADGE_PATTERN = r"^CB(?P<code>[A-Za-z0-9._-]{2,32})$"
#: Few rounds: the scheme is the real one, the tests need not wait for 200,000.
PIN_ROUNDS = 1000
VN = timezone(timedelta(hours=7))


class WallClock:
    """The terminal's local time (Asia/Ho_Chi_Minh), moved by the test."""

    def __init__(self, start: datetime = datetime(2026, 12, 2, 8, 0, tzinfo=VN)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def add_officer(store: RatingStore, code: str, name: str, *, pin: str | None = None, counters=(),
                version: str = "v1") -> None:
    store.db["officers"].insert({"code": code, "name": name,
                                 "pin_hash": hash_pin(pin, rounds=PIN_ROUNDS) if pin else None,
                                 "counters": json.dumps(list(counters), ensure_ascii=False), "photo": None,
                                 "version": version})


def counter_flow(store: RatingStore, clock, *, wall=None, counter: str = "Quầy 1", officers: bool = True,
                 dossiers: bool = True, **options) -> RatingFlow:
    settings = {"reason_timeout_s": 20, "thanks_s": 3, "repeat_interval_s": 5, "invitation_s": 120,
                "pin_attempts": 3, "pin_lock_s": 60, "sign_out_at": "17:30", "reason_warning_s": 5, **options}
    return RatingFlow(store, clock=clock, wall_clock=wall or WallClock(),
                      officers=OfficerDirectory(store.db, counter=counter) if officers else None,
                      dossiers=DossierRules(DOSSIER_PATTERN) if dossiers else None, badge_pattern=BADGE_PATTERN,
                      **settings)


def file_store(tmp_path, name: str = "kiosk.db") -> RatingStore:
    return RatingStore(tmp_path / name, terminal_id="hd-phucla-01")


def read_committed(path, sql: str, params=()) -> list[tuple]:
    """Rows as another process sees them: a connection of its own, so only what is committed."""
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def ratings(store: RatingStore) -> list[dict]:
    return list(store.db["ratings"].rows_where(order_by="rowid"))

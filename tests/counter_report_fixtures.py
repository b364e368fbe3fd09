"""A province whose officers sign in at the counters and whose terminals invite citizens to rate dossiers:
the data set of the counter's report sections (tests/test_reports_officers.py), sent through the real batch
API (ratings with ``officer`` and ``dossier``, closed ``shifts`` and ``invitations``), November 2026.

Tree: Tỉnh Thử Nghiệm › Phường An Khánh (unit A: Quầy 1 with terminal a1, Quầy 2 with a2) and Xã Bình Minh
(unit B: Quầy 1 with b1). Officers: in A, CB01 Nguyễn Văn An and CB02 Trần Thị Bình; in B, CB01 Lê Văn Cường
(the same staff code in another unit). CB77 signs in at a2 but is in no list.

a1 (local times, Hà Nội):
  - CB01 signs in Mon 9/11 08:00: 3 very satisfied at 08:00:30, 08:01:00, 08:01:30 (a burst of 3), then 20 very
    satisfied, 12 satisfied and 3 dissatisfied (processing time) from 09:00 every 5 minutes;
  - CB01 signs in Tue 10/11 08:00: very satisfied, satisfied, very satisfied, very satisfied in the first two
    minutes (no 3 in a row);
  - CB01 signs in Wed 11/11 08:00: very satisfied at 08:00:30, 08:01:00 and 08:02:30 (the third after 120 s);
    2 very satisfied presses the terminal filtered at 10:00;
  - CB01 outside opening hours: Sat 14/11 14:00 and 14:05 satisfied, Sun 15/11 10:00 very satisfied, Mon 16/11
    07:29:59 satisfied (outside) and 07:30:00 satisfied (inside);
  - nobody signed in, Thu 12/11 10:00–10:04: 3 satisfied, 2 dissatisfied (no reason); and 11:00 a very
    satisfied rating for dossier HS-A-0001, which a2 had a counted rating for already: a dossier's second rating.
a2:
  - CB02 signs in Thu 12/11 08:55: very satisfied 09:00 (HS-A-0001), very satisfied 09:10 (HS-A-0002),
    satisfied 09:20 (HS-A-0003), dissatisfied 09:30 (staff attitude);
  - CB77 signs in Fri 13/11 08:59: satisfied 09:00 and 09:05;
  - invitations Thu 12/11: HS-A-0001..3 rated, HS-A-0004 and 5 unanswered, HS-A-0006 replaced.
b1: CB01 (Lê Văn Cường) 10 very satisfied Fri 13/11 from 09:00; invitations HS-B-0001 rated, HS-B-0002
unanswered.

So unit A counts 61 (32 very satisfied, 23 satisfied, 6 dissatisfied) and filters 3; CB01 An 50 (30/17/3) and
2 filtered, CB02 Bình 4 (2/1/1), CB77 2 (0/2/0), nobody 5 (0/3/2) and 1 filtered (the dossier's second).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import server_fixtures
from report_fixtures import local_iso

TREE = """code,name,kind,parent_code
T01,Tỉnh Thử Nghiệm,province,
U01,Phường An Khánh,unit,T01
O01,Bộ phận Một cửa An Khánh,office,U01
C11,Quầy 1 An Khánh,counter,O01
C12,Quầy 2 An Khánh,counter,O01
U02,Xã Bình Minh,unit,T01
O02,Bộ phận Một cửa Bình Minh,office,U02
C21,Quầy 1 Bình Minh,counter,O02
"""
UNIT_A, UNIT_B = "Phường An Khánh", "Xã Bình Minh"
AN, BINH, CUONG = "Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> str:
    return local_iso(2026, 11, day, hour, minute, second)


def later(iso: str, seconds: float) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class TerminalData:
    """What one terminal sends: ratings, closed shifts, closed invitations."""

    ratings: list[dict] = field(default_factory=list)
    shifts: list[dict] = field(default_factory=list)
    invitations: list[dict] = field(default_factory=list)

    def press(self, level: str, when: str, *, officer=None, dossier=None, filtered=0, reason=None) -> str:
        fields = {"rating": level, "created_at": when, "boot_id": "earlier-boot", "monotonic_ns": len(self.ratings),
                  "clock_synced": 1, "filtered": filtered, "officer": officer, "dossier": dossier}
        if level == "dissatisfied":
            fields |= {"reason": reason, "reason_outcome": "given" if reason else "skipped"}
        rating = server_fixtures.make_rating("", **fields)
        self.ratings.append(rating)
        return rating["id"]

    def shift(self, officer: str, signed_in_at: str, *, hours: float = 4) -> None:
        self.shifts.append({"id": str(uuid.uuid4()), "officer": officer, "signed_in_at": signed_in_at,
                            "signed_out_at": later(signed_in_at, hours * 3600), "sign_in_how": "badge",
                            "sign_out_how": "screen"})

    def invite(self, dossier: str, created_at: str, outcome: str, *, officer=None, rating_id=None,
               after_s: float = 10) -> None:
        self.invitations.append({"id": str(uuid.uuid4()), "dossier": dossier, "officer": officer,
                                 "created_at": created_at, "closed_at": later(created_at, after_s),
                                 "outcome": outcome, "rating_id": rating_id})


def counter_data() -> dict[str, TerminalData]:
    """The data set of the module's docstring, per terminal (a2 is sent before a1)."""
    a1, a2, b1 = TerminalData(), TerminalData(), TerminalData()

    a1.shift("CB01", at(9, 8))
    for second in (30, 60, 90):
        a1.press("very_satisfied", later(at(9, 8), second), officer="CB01")
    day = ["very_satisfied"] * 20 + ["satisfied"] * 12 + ["dissatisfied"] * 3
    for i, level in enumerate(day):
        a1.press(level, later(at(9, 9), 300 * i), officer="CB01",
                 reason="processing_time" if level == "dissatisfied" else None)
    a1.shift("CB01", at(10, 8))
    for second, level in ((30, "very_satisfied"), (60, "satisfied"), (90, "very_satisfied"), (105, "very_satisfied")):
        a1.press(level, later(at(10, 8), second), officer="CB01")
    a1.shift("CB01", at(11, 8))
    for second in (30, 60, 150):
        a1.press("very_satisfied", later(at(11, 8), second), officer="CB01")
    a1.press("very_satisfied", at(11, 10), officer="CB01", filtered=1)
    a1.press("very_satisfied", at(11, 10, 0, 1), officer="CB01", filtered=1)
    a1.press("satisfied", at(14, 14), officer="CB01")
    a1.press("satisfied", at(14, 14, 5), officer="CB01")
    a1.press("very_satisfied", at(15, 10), officer="CB01")
    a1.press("satisfied", at(16, 7, 29, 59), officer="CB01")
    a1.press("satisfied", at(16, 7, 30, 0), officer="CB01")
    for minute, level in enumerate(["satisfied"] * 3 + ["dissatisfied"] * 2):
        a1.press(level, at(12, 10, minute))
    a1.press("very_satisfied", at(12, 11), dossier="HS-A-0001")

    a2.shift("CB02", at(12, 8, 55))
    rated = [a2.press("very_satisfied", at(12, 9), officer="CB02", dossier="HS-A-0001"),
             a2.press("very_satisfied", at(12, 9, 10), officer="CB02", dossier="HS-A-0002"),
             a2.press("satisfied", at(12, 9, 20), officer="CB02", dossier="HS-A-0003")]
    a2.press("dissatisfied", at(12, 9, 30), officer="CB02", reason="staff_attitude")
    a2.shift("CB77", at(13, 8, 59))
    a2.press("satisfied", at(13, 9), officer="CB77")
    a2.press("satisfied", at(13, 9, 5), officer="CB77")
    for i, rating_id in enumerate(rated, 1):
        a2.invite(f"HS-A-000{i}", later(at(12, 9, 10 * (i - 1)), -10), "rated", officer="CB02", rating_id=rating_id)
    a2.invite("HS-A-0004", at(12, 9, 40), "unanswered", officer="CB02", after_s=120)
    a2.invite("HS-A-0005", at(12, 9, 50), "unanswered", officer="CB02", after_s=120)
    a2.invite("HS-A-0006", at(12, 10), "replaced", officer="CB02", after_s=30)

    first = None
    for minute in range(10):
        rating_id = b1.press("very_satisfied", at(13, 9, minute), officer="CB01",
                             dossier="HS-B-0001" if minute == 0 else None)
        first = first or rating_id
    b1.invite("HS-B-0001", later(at(13, 9), -10), "rated", officer="CB01", rating_id=first)
    b1.invite("HS-B-0002", at(13, 9, 30), "unanswered", officer="CB01", after_s=120)
    return {"a2": a2, "a1": a1, "b1": b1}


@dataclass
class CounterProvince:
    """The server with the tree, terminals, officers and data of the module's docstring."""

    server: object
    node: dict[str, int]
    terminal: dict[str, object]


def load_counter_province(server) -> CounterProvince:
    from server.accounts import issue_enrollment_code
    from server.db import write_transaction
    from server.officers import create_officer
    from server.org_tree import apply_tree, find_node, parse_tree
    from server_fixtures import EnrolledTerminal

    now = server.app.state.clock()
    with server.engine.connect() as conn, write_transaction(conn):
        apply_tree(conn, parse_tree(TREE), now_ns=now)
        node = {code: find_node(conn, code).id for code in ("T01", "U01", "U02", "C11", "C12", "C21")}
        for unit, code, name in (("U01", "CB01", AN), ("U01", "CB02", BINH), ("U02", "CB01", CUONG)):
            create_officer(conn, unit_id=node[unit], code=code, name=name, counters=[], pin=None, now_ns=now)
        codes = {name: issue_enrollment_code(conn, node_id=node[counter], ttl_s=3600, now_ns=now)
                 for name, counter in (("a1", "C11"), ("a2", "C12"), ("b1", "C21"))}
    terminal = {}
    for name, code in codes.items():
        answer = server.post("/api/v1/enroll", json={"code": code, "app_version": "0.1.0"})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        terminal[name] = EnrolledTerminal(body["terminal_id"], body["device_token"])
    for name, data in counter_data().items():  # a2 before a1: a1's HS-A-0001 is the dossier's second rating
        ratings = [{**rating, "terminal_id": terminal[name].id} for rating in data.ratings]
        batch = server_fixtures.make_batch(ratings, boot_id="batch-boot", shifts=data.shifts,
                                           invitations=data.invitations)
        answer = server.upload(terminal[name], batch)
        assert answer.status_code == 200, answer.text
        assert all(ack["status"] == "stored" for ack in answer.json()["acks"])
    return CounterProvince(server, node, terminal)


__all__ = ["TREE", "UNIT_A", "UNIT_B", "AN", "BINH", "CUONG", "counter_data", "load_counter_province",
           "CounterProvince"]

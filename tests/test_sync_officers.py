"""The uploader's side of issue 12: ratings carry the officer and the dossier, closed shifts and invitations
go with the batches and are marked when acknowledged, the officers list is fetched when the receipt's version
differs (If-None-Match, 304), the dossiers' retention is applied; and a server older than all this (no
``officers_version``, refusing the new fields) keeps working with a terminal that has them off.

The center here is a small FastAPI app on a real uvicorn socket that validates each batch against
:mod:`sync.protocol` (the contract the real server keeps), so the payload's shape is checked on the wire.
"""

from __future__ import annotations

import base64
import json
import random
from datetime import datetime, timedelta, timezone

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from counter_helpers import WallClock, add_officer, counter_flow
from kiosk.store import RatingStore
from kiosk.timekeeping import Stamp, iso_utc
from server_fixtures import LiveServer
from sync.local import LocalRatings
from sync.protocol import Batch
from sync.uploader import Uploader

CODE = "000.00.23.H26-261202-0007"
#: The top-level and rating keys a server from before issue 12 takes (its models forbid any other).
OLD_BATCH_KEYS = {"sent_at", "boot_id", "monotonic_ns", "health", "ratings"}
OLD_RATING_KEYS = {"id", "terminal_id", "rating", "reason", "reason_outcome", "source", "created_at", "boot_id",
                   "monotonic_ns", "clock_synced", "filtered"}
PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


class Center:
    """The central server's terminal API as the contract has it; ``old=True``: as it was before issue 12."""

    def __init__(self, *, old: bool = False, version: str = "v7", retention_days: int = 365):
        self.old, self.version, self.retention_days = old, version, retention_days
        self.batches: list[dict] = []
        self.officer_requests: list[dict] = []
        self.officers = [{"code": "0042", "name": "Nguyễn Thị Lan", "pin_hash": None, "counters": [],
                          "photo": base64.b64encode(PHOTO).decode()},
                         {"code": "0077", "name": "Trần Văn Minh", "pin_hash": None, "counters": ["Quầy 2", 17],
                          "photo": None}]
        app = FastAPI()
        app.post("/api/v1/batches")(self._batch)
        app.get("/api/v1/terminal/officers")(self._officers)
        self.live = LiveServer(app)
        self.url = self.live.url

    async def _batch(self, request: Request):
        body = json.loads(await request.body())
        if self.old:
            extra = sorted(set(body) - OLD_BATCH_KEYS)
            extra += [f"ratings.{i}.{k}" for i, r in enumerate(body.get("ratings", [])) for k in set(r) - OLD_RATING_KEYS]
            if extra:  # what server/bodies.py answers for a field its models forbid
                return JSONResponse({"ok": False, "error": f"{extra[0]}: Extra inputs are not permitted",
                                     "field": extra[0]}, status_code=422)
        try:
            batch = Batch.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            return JSONResponse({"ok": False, "error": f"{field}: {first['msg']}", "field": field}, status_code=422)
        self.batches.append(body)
        receipt = {"ok": True, "acks": [{"id": str(r.id), "status": "stored"} for r in batch.ratings],
                   "received_at": iso_utc(datetime.now(timezone.utc)), "clock_offset_s": 0.0}
        if not self.old:
            if batch.shifts:
                receipt["shift_acks"] = [str(s.id) for s in batch.shifts]
            if batch.invitations:
                receipt["invitation_acks"] = [str(i.id) for i in batch.invitations]
            receipt["officers_version"] = self.version
        return receipt

    async def _officers(self, request: Request):
        self.officer_requests.append(dict(request.headers))
        if self.old:
            return JSONResponse({"ok": False, "error": "not found"}, status_code=404)
        etag = f'"{self.version}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return JSONResponse({"version": self.version, "dossier_retention_days": self.retention_days,
                             "officers": self.officers}, headers={"ETag": etag})

    def close(self):
        self.live.stop()


class TerminalClock:
    def __init__(self):
        self.mono_ns = 5_000_000_000

    def stamp(self) -> Stamp:
        self.mono_ns += 1_000_000
        return Stamp(iso_utc(datetime.now(timezone.utc)), "boot-1", self.mono_ns, 1)


@pytest.fixture
def center():
    center = Center()
    yield center
    center.close()


@pytest.fixture
def old_center():
    center = Center(old=True)
    yield center
    center.close()


@pytest.fixture
def terminal(tmp_path, clock):
    store = RatingStore(tmp_path / "kiosk.db", terminal_id="hd-phucla-01", clock=TerminalClock())
    add_officer(store, "0042", "Nguyễn Thị Lan", pin="2468")
    local = LocalRatings(tmp_path / "kiosk.db")
    yield store, local
    local.close()
    store.close()


def uploader_for(local, url) -> Uploader:
    return Uploader(local, server_url=url, token="t0ken", stamp=TerminalClock().stamp, app_version="0.1.0",
                    allow_http=True, timeout=(2.0, 2.0), pause_s=0, rng=random.Random(1))


def a_morning(store, clock):
    """Sign in, one invited rating, one unanswered invitation, one rating without a dossier, sign out."""
    flow = counter_flow(store, clock, wall=WallClock())
    flow.scan("CB0042")
    flow.scan(CODE)
    rated = flow.press("very_satisfied")
    clock.advance(10)
    flow.tick()
    flow.invite("000.00.23.H26-261202-0008")
    clock.advance(121)
    flow.tick()
    plain = flow.press("satisfied")
    flow.sign_out("screen")
    return rated, plain


def test_ratings_carry_the_officer_and_the_dossier_and_leave_them_out_when_null(terminal, clock):
    store, local = terminal
    rated, plain = a_morning(store, clock)
    store.record_press("dissatisfied", source="touch")  # nobody signed in, no dossier
    by_id = {r["id"]: r for r in local.pending(10)}
    assert (by_id[rated.rating_id]["officer"], by_id[rated.rating_id]["dossier"]) == ("0042", CODE)
    assert by_id[plain.rating_id]["officer"] == "0042" and "dossier" not in by_id[plain.rating_id]
    [bare] = [r for r in by_id.values() if r["rating"] == "dissatisfied"]
    assert set(bare) == OLD_RATING_KEYS  # exactly what an older server takes


def test_only_closed_shifts_and_invitations_are_pending(terminal, clock):
    store, local = terminal
    flow = counter_flow(store, clock)
    flow.scan("CB0042")
    flow.invite(CODE)
    assert local.pending_shifts(10) == [] and local.pending_invitations(10) == []
    flow.press("satisfied")
    flow.sign_out("badge")
    [shift] = local.pending_shifts(10)
    [invitation] = local.pending_invitations(10)
    assert (shift["officer"], shift["sign_in_how"], shift["sign_out_how"]) == ("0042", "badge", "badge")
    assert (invitation["dossier"], invitation["outcome"], invitation["officer"]) == (CODE, "rated", "0042")
    assert set(shift) == {"id", "officer", "signed_in_at", "signed_out_at", "sign_in_how", "sign_out_how"}


def test_a_batch_carries_shifts_and_invitations_and_marks_what_the_receipt_acknowledges(terminal, clock, center):
    store, local = terminal
    rated, plain = a_morning(store, clock)
    uploader = uploader_for(local, center.url)
    report = uploader.drain()
    assert report["pending"] == 0 and report["last_error"] is None
    [body] = center.batches
    assert {s["officer"] for s in body["shifts"]} == {"0042"} and len(body["shifts"]) == 1
    assert sorted(i["outcome"] for i in body["invitations"]) == ["rated", "unanswered"]
    sent = {r["id"]: r for r in body["ratings"]}
    assert sent[rated.rating_id]["dossier"] == CODE and "dossier" not in sent[plain.rating_id]
    assert store.db.execute("SELECT count(*) FROM shifts WHERE synced_at IS NULL").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM invitations WHERE synced_at IS NULL").fetchone()[0] == 0
    # A heartbeat later sends none of them again.
    uploader.send_batch()
    assert "shifts" not in center.batches[-1] and "invitations" not in center.batches[-1]


def test_the_officers_list_is_fetched_when_the_version_differs_and_kept(terminal, center):
    store, local = terminal
    uploader = uploader_for(local, center.url)
    uploader.send_batch()
    assert local.officers_version() == "v7" and len(center.officer_requests) == 1
    assert "if-none-match" not in center.officer_requests[0]  # nothing held yet
    assert center.officer_requests[0]["authorization"] == "Bearer t0ken"
    rows = {r["code"]: r for r in store.db["officers"].rows}
    assert set(rows) == {"0042", "0077"}  # replaced whole: the test's own 0042 is the server's now
    assert (rows["0042"]["photo"], json.loads(rows["0077"]["counters"])) == (PHOTO, ["Quầy 2", "17"])
    assert local.dossier_retention_days() == 365
    uploader.send_batch()  # same version: no fetch
    assert len(center.officer_requests) == 1
    center.version = "v8"
    center.officers = center.officers[:1]
    uploader.send_batch()
    assert center.officer_requests[-1]["if-none-match"] == '"v7"'
    assert local.officers_version() == "v8" and [r["code"] for r in store.db["officers"].rows] == ["0042"]


def test_a_304_keeps_the_list(terminal, center):
    store, local = terminal
    uploader = uploader_for(local, center.url)
    uploader.send_batch()
    assert uploader.fetch_officers() is True
    assert center.officer_requests[-1]["if-none-match"] == '"v7"'
    assert local.officers_version() == "v7" and store.db["officers"].count == 2


def test_a_failed_fetch_is_noted_and_the_batch_still_counts(terminal, center):
    store, local = terminal
    center.officers = [{"code": "bad code!", "name": "x", "pin_hash": None, "counters": [], "photo": None}]
    uploader = uploader_for(local, center.url)
    store.record_press("satisfied", source="button")
    attempt = uploader.send_batch()
    assert attempt.ok and local.pending_count() == 0
    assert uploader.state.officers_error and local.officers_version() == ""
    assert [r["code"] for r in store.db["officers"].rows] == ["0042"]  # the list held is kept


def test_the_dossiers_retention_blanks_old_synced_codes_only(terminal, clock, center):
    store, local = terminal
    rated, _ = a_morning(store, clock)
    old = iso_utc(datetime.now(timezone.utc) - timedelta(days=400))
    store.db.execute("UPDATE ratings SET created_at = ? WHERE id = ?", [old, rated.rating_id])
    store.db.execute("UPDATE invitations SET created_at = ?", [old])
    flow = counter_flow(store, clock)
    clock.advance(10)
    flow.invite(CODE)  # a fresh open invitation: not synced, kept
    uploader = uploader_for(local, center.url)
    uploader.drain()
    row = store.get(rated.rating_id)
    assert row["dossier"] is None and row["officer"] == "0042" and row["rating"] == "very_satisfied"
    dossiers = [r["dossier"] for r in store.db["invitations"].rows_where(order_by="rowid")]
    assert dossiers == [None, None, CODE]


def test_an_older_server_keeps_working_with_a_terminal_that_has_it_all_off(terminal, old_center):
    store, local = terminal
    for rating in ("very_satisfied", "satisfied", "dissatisfied"):
        store.record_press(rating, source="button")
    uploader = uploader_for(local, old_center.url)
    report = uploader.drain()
    assert report["sent"] == 3 and report["pending"] == 0 and report["last_error"] is None
    assert old_center.officer_requests == []  # no officers_version in its receipts: nothing fetched
    assert local.officers_version() == ""


def test_an_older_server_refusing_shifts_still_gets_the_ratings(terminal, clock, old_center):
    store, local = terminal
    flow = counter_flow(store, clock, officers=True, dossiers=False)
    flow.scan("CB0042")
    flow.sign_out("badge")  # a closed shift, and a rating with no officer
    store.record_press("satisfied", source="button")
    uploader = uploader_for(local, old_center.url)
    report = uploader.drain(max_failures=2)
    assert report["pending"] == 0 and uploader.send_links is False
    assert "shifts" not in old_center.batches[-1]
    assert len(local.pending_shifts(10)) == 1  # it waits on the terminal for a server that takes it

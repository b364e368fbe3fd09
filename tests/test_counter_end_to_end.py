"""Terminal to server, end to end, at the counter (issue 12), on a real uvicorn server and both backends: the
officers list reaches the terminal, an officer signs in with the PIN the server hashed, a dossier is invited
and rated (and rated again: counted once), another goes unanswered, the officer signs out; the uploader sends
it all and the server holds each rating's officer and dossier, the shift and the invitations. A resend is a
duplicate (officer and dossier are content fields), and a terminal with all of it off is answered as before."""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone

import pytest

from counter_helpers import WallClock, counter_flow
from kiosk.store import RatingStore
from kiosk.timekeeping import Stamp, iso_utc
from officer_fixtures import Units
from server_fixtures import *  # noqa: F401,F403 - server_db_url, start_server, server
from sync.local import LocalRatings
from sync.uploader import Uploader

CODE = "000.00.23.H26-261202-0007"
OTHER = "000.00.23.H26-261202-0008"


class TerminalClock:
    def __init__(self):
        self.mono_ns = 5_000_000_000

    def stamp(self) -> Stamp:
        self.mono_ns += 1_000_000
        return Stamp(iso_utc(datetime.now(timezone.utc)), "boot-e2e", self.mono_ns, 1)


@pytest.fixture
def units(server):
    return Units(server)


def terminal_parts(tmp_path, server, enrolled):
    stamps = TerminalClock()
    store = RatingStore(tmp_path / "kiosk.db", terminal_id=enrolled.id, clock=stamps)
    local = LocalRatings(tmp_path / "kiosk.db")
    uploader = Uploader(local, server_url=server.url, token=enrolled.token, stamp=stamps.stamp, app_version="0.2.0",
                        allow_http=True, timeout=(5.0, 5.0), pause_s=0, rng=random.Random(3))
    return store, local, uploader


def test_a_morning_at_the_counter_reaches_the_server(tmp_path, server, units, clock):
    units.add_officer("U01", "NVA01", "Nguyễn Văn An", counters=["C01"], pin="2468")
    units.add_officer("U01", "NVB02", "Trần Thị Bình", counters=["C03"], pin="1357")
    store, local, uploader = terminal_parts(tmp_path, server, units.terminal["C01"])
    try:
        uploader.send_batch()  # a heartbeat: the receipt names the list's version, the terminal fetches it
        officers = {r["code"]: r for r in store.db["officers"].rows}
        assert set(officers) == {"NVA01", "NVB02"} and officers["NVA01"]["pin_hash"].startswith("pbkdf2_sha256$")
        assert local.officers_version() and local.dossier_retention_days() == 365

        flow = counter_flow(store, clock, wall=WallClock(), counter="Quầy An Khánh 1")
        flow.begin_signin()
        assert flow.check_pin("NVB02", "1357").message == "officer_not_here"  # the other counter's officer
        assert flow.check_pin("NVA01", "2468").kind == "signed_in"
        flow.invite(CODE)
        rated = flow.press("very_satisfied")
        clock.advance(10)
        flow.tick()
        flow.invite(CODE)  # the same receipt again
        repeat = flow.press("very_satisfied")
        clock.advance(10)
        flow.tick()
        flow.invite(OTHER)
        clock.advance(121)
        flow.tick()  # nobody answered
        plain = flow.press("dissatisfied")
        flow.skip_reason()
        flow.sign_out("screen")

        report = uploader.drain()
        assert report["pending"] == 0 and report["quarantined"] == 0 and report["last_error"] is None
        held = {r["id"]: r for r in server.rows("ratings")}
        assert (held[rated.rating_id]["officer_code"], held[rated.rating_id]["dossier"]) == ("NVA01", CODE)
        assert held[repeat.rating_id]["filtered"] == 1 and held[repeat.rating_id]["dossier"] == CODE
        assert (held[plain.rating_id]["officer_code"], held[plain.rating_id]["dossier"]) == ("NVA01", None)
        [shift] = server.rows("officer_shifts")
        assert (shift["officer_code"], shift["sign_in_how"], shift["sign_out_how"]) == ("NVA01", "pin", "screen")
        invitations = sorted((i["dossier"], i["outcome"]) for i in server.rows("dossier_invitations"))
        assert invitations == [(CODE, "rated"), (CODE, "rated"), (OTHER, "unanswered")]
        for table in ("shifts", "invitations"):
            assert store.db.execute(f"SELECT count(*) FROM {table} WHERE synced_at IS NULL").fetchone()[0] == 0

        # A resend of the same rows (a lost receipt) is a duplicate: officer and dossier match what is held.
        store.db.execute("UPDATE ratings SET synced_at = NULL")
        store.db.execute("UPDATE shifts SET synced_at = NULL")
        again = uploader.send_batch()
        assert again.ok and set(again.acks.values()) == {"duplicate"} and len(again.shift_acks) == 1
    finally:
        local.close()
        store.close()


def test_a_terminal_with_it_all_off_is_answered_as_before(tmp_path, server, units):
    store, local, uploader = terminal_parts(tmp_path, server, units.terminal["C02"])  # unit B: no officers
    try:
        ids = [store.record_press(r, source="button")["id"] for r in ("very_satisfied", "satisfied")]
        attempt = uploader.send_batch()
        assert attempt.ok and attempt.officers_version is None  # nothing of issue 12 in the receipt
        assert local.officers_version() == "" and store.db["officers"].count == 0
        held = {r["id"]: r for r in server.rows("ratings")}
        assert all(held[i]["officer_code"] is None and held[i]["dossier"] is None for i in ids)
    finally:
        local.close()
        store.close()

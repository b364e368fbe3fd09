"""Terminal to server to report to export, end to end, at the counter (issue 12), on a real uvicorn server and
both backends: the officers list reaches the terminal, a citizen rates before anyone signs in, an officer signs
in with the PIN the server hashed, a dossier is invited and rated (and rated again: counted once), another goes
unanswered, the officer signs out; the uploader sends it all and the server holds each rating's officer and
dossier, the shift and the invitations. A resend is a duplicate (officer and dossier are content fields). The
same morning then reads back, as an admin reads it, through the report API's by-officer, dossier and audit
sections and the CSV and workbook exports, with the same figures; a viewer without ``sees_officers`` gets no
officers' sections or sheets; the dossier rated again at the same terminal is in the dossiers' ``repeats``. A
terminal with all of it off is answered as before."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import openpyxl
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


@dataclass
class Morning:
    """What the morning at C01 did: the ids of its ratings, as the terminal recorded them."""

    nobody: str     # satisfied, before anyone signed in
    rated: str      # very satisfied, NVA01 signed in, dossier CODE
    repeat: str     # very satisfied, CODE again: filtered by the terminal
    plain: str      # dissatisfied (reason skipped), NVA01 signed in, no dossier


def a_morning_at_the_counter(store, uploader, clock) -> Morning:
    """The officers' list reaches the terminal, then the morning of the module's docstring is played and sent."""
    uploader.send_batch()  # a heartbeat: the receipt names the list's version, the terminal fetches it
    flow = counter_flow(store, clock, wall=WallClock(), counter="Quầy An Khánh 1")
    nobody = flow.press("satisfied")  # nobody signed in yet
    clock.advance(10)
    flow.tick()
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
    return Morning(nobody.rating_id, rated.rating_id, repeat.rating_id, plain.rating_id)


def with_officers(units) -> None:
    units.add_officer("U01", "NVA01", "Nguyễn Văn An", counters=["C01"], pin="2468")
    units.add_officer("U01", "NVB02", "Trần Thị Bình", counters=["C03"], pin="1357")


def test_a_morning_at_the_counter_reaches_the_server(tmp_path, server, units, clock):
    with_officers(units)
    store, local, uploader = terminal_parts(tmp_path, server, units.terminal["C01"])
    try:
        morning = a_morning_at_the_counter(store, uploader, clock)
        officers = {r["code"]: r for r in store.db["officers"].rows}
        assert set(officers) == {"NVA01", "NVB02"} and officers["NVA01"]["pin_hash"].startswith("pbkdf2_sha256$")
        assert local.officers_version() and local.dossier_retention_days() == 365

        held = {r["id"]: r for r in server.rows("ratings")}
        assert (held[morning.nobody]["officer_code"], held[morning.nobody]["dossier"]) == (None, None)
        assert (held[morning.rated]["officer_code"], held[morning.rated]["dossier"]) == ("NVA01", CODE)
        assert held[morning.repeat]["filtered"] == 1 and held[morning.repeat]["dossier"] == CODE
        assert (held[morning.plain]["officer_code"], held[morning.plain]["dossier"]) == ("NVA01", None)
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


SUMMARY = "/api/v1/reports/summary"
AN = "Nguyễn Văn An"
NOBODY = "Không có cán bộ đăng nhập"


def the_days_of(server, ratings: list[dict]) -> dict:
    """The report's period: the local days (the server's time zone) the morning's ratings fell on."""
    tz = ZoneInfo(server.app.state.settings.timezone)
    days = sorted({utc(r["corrected_at"]).astimezone(tz).date().isoformat() for r in ratings})
    return {"period": "range", "start": days[0], "end": days[-1]}


def utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc)


def outside_hours(server, ratings: list[dict]) -> int:
    """How many of ``ratings`` fell outside the server's opening hours (the wall clock decides when the test runs)."""
    from server.opening import OpeningHours

    settings = server.app.state.settings
    hours, tz = OpeningHours.parse(settings.opening_hours), ZoneInfo(settings.timezone)
    return sum(not hours.is_open(utc(r["corrected_at"]).astimezone(tz)) for r in ratings)


def csv_of(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def sheet_rows(book, title: str) -> list[list]:
    return [[c.value for c in row] for row in book[title].iter_rows()]


def row_named(rows: list[list], first: str, at: int = 0) -> list:
    [row] = [row for row in rows if len(row) > at and row[at] == first]
    return row


def sent_and_held(tmp_path, server, units, clock) -> tuple[Morning, dict[str, dict], dict]:
    """The morning played and sent; the server's rows of it by id; the report period that covers it."""
    with_officers(units)
    store, local, uploader = terminal_parts(tmp_path, server, units.terminal["C01"])
    try:
        morning = a_morning_at_the_counter(store, uploader, clock)
    finally:
        local.close()
        store.close()
    held = {r["id"]: r for r in server.rows("ratings")}
    return morning, held, the_days_of(server, list(held.values()))


def report_of(server, units, role: str, params: dict, fmt: str = "json"):
    answer = server.get(SUMMARY, params={**params, "format": fmt}, headers=units.headers(role))
    assert answer.status_code == 200, answer.text
    return answer.json()["report"] if fmt == "json" else answer.content


def test_the_same_morning_reads_back_through_the_reports_and_exports(tmp_path, server, units, clock):
    """The report API's sections, the CSV and the workbook show the morning the terminal sent, figure for figure,
    to a unit and a province admin; a viewer without ``sees_officers`` gets the dossiers but no officer."""
    morning, held, period = sent_and_held(tmp_path, server, units, clock)
    counted = [held[i] for i in (morning.nobody, morning.rated, morning.plain)]  # the repeat is filtered
    signed_in = [held[morning.rated], held[morning.plain]]
    terminal = units.terminal["C01"].id

    def report_for(role: str, **params) -> dict:
        return report_of(server, units, role, {**period, **params})

    report = report_for("unit_admin")  # scoped to unit A, the morning's unit
    total = report["total"]
    assert (total["counted"], total["very_satisfied"], total["satisfied"], total["dissatisfied"],
            total["filtered"]) == (3, 1, 1, 1, 1)
    [an] = report["officers"]["lines"]
    assert (an["label"], an["officer_code"], an["counted"], an["very_satisfied"], an["dissatisfied"],
            an["filtered"], an["dissatisfied_reasons"]) == (f"{AN} (NVA01)", "NVA01", 2, 1, 1, 1, {"no_reason": 1})
    nobody = report["officers"]["no_officer"]
    assert (nobody["counted"], nobody["satisfied"], nobody["filtered"]) == (1, 1, 0)
    assert all(check["ok"] for check in report["officers"]["checks"]) and report["reconciles"] is True

    dossiers = report["dossiers"]
    assert [(x["counter"], x["invitations"], x["rated"], x["unanswered"], x["replaced"], x["share_rated"])
            for x in dossiers["counters"]] == [("Quầy An Khánh 1", 3, 2, 1, 0, 66.7)]
    assert (dossiers["total"]["invitations"], dossiers["total"]["rated"], dossiers["total"]["unanswered"],
            dossiers["total"]["share_rated"], dossiers["total"]["too_few"]) == (3, 2, 1, 66.7, True)
    assert all(check["ok"] for check in dossiers["checks"])

    audit = report["audit"]
    outside, outside_signed = outside_hours(server, counted), outside_hours(server, signed_in)
    assert [(x["terminal"], x["counted"], x["no_officer"], x["outside_hours"], x["sign_ins"], x["bursts"],
             x["burst_ratings"]) for x in audit["terminals"]] == [(terminal, 3, 1, outside, 1, 0, 0)]
    assert [(x["label"], x["counted"], x["outside_hours"], x["sign_ins"], x["bursts"]) for x in audit["officers"]] \
        == [(f"{AN} (NVA01)", 2, outside_signed, 1, 0), (NOBODY, 1, outside - outside_signed, 0, 0)]
    assert (audit["total"]["counted"], audit["total"]["no_officer"], audit["total"]["sign_ins"]) == (3, 1, 1)
    assert all(check["ok"] for check in audit["checks"])

    # The province admin, reading unit A from the whole province, gets the same figures.
    whole = report_for("province_admin", node=units.node["U01"])
    for section in ("officers", "dossiers", "audit"):
        assert whole[section] == report[section], section

    # The exports an official files: the CSV and the workbook, the same figures.
    csv_rows = csv_of(report_of(server, units, "unit_admin", period, "csv"))
    assert row_named(csv_rows, AN, 1)[:5] == ["1", AN, "NVA01", "2", "1"]
    assert row_named(csv_rows, NOBODY, 1)[3] == "1"
    assert row_named(csv_rows, "Quầy An Khánh 1", 1)[2:8] == ["3", "2", "1", "0", "0", "66.7"]
    assert row_named(csv_rows, terminal, 1)[3:9] == ["3", "1", str(outside), "1", "0", "0"]
    book = openpyxl.load_workbook(io.BytesIO(report_of(server, units, "unit_admin", period, "xlsx")))
    officers = sheet_rows(book, "Theo cán bộ")
    assert row_named(officers, AN, 1)[:5] == [1, AN, "NVA01", 2, 1]
    assert row_named(officers, NOBODY, 1)[3] == 1 and row_named(officers, "Tổng cộng", 1)[3] == 3
    counter = row_named(sheet_rows(book, "Hồ sơ"), "Quầy An Khánh 1", 1)
    assert counter[2:7] == [3, 2, 1, 0, 0] and counter[7] == pytest.approx(2 / 3, abs=0.0005)
    audit_rows = sheet_rows(book, "Kiểm tra tại quầy")
    assert row_named(audit_rows, AN)[1:8] == ["NVA01", "Phường An Khánh", 2, outside_signed, 1, 0, 0]
    assert row_named(audit_rows, terminal, 1)[3:9] == [3, 1, outside, 1, 0, 0]

    # A viewer without sees_officers: the dossiers (they name no one), no officers' section or sheet.
    viewed = report_for("viewer")
    assert viewed["officers"] is None and viewed["audit"] is None
    assert viewed["dossiers"] == report["dossiers"] and viewed["total"] == report["total"]
    book = openpyxl.load_workbook(io.BytesIO(report_of(server, units, "viewer", period, "xlsx")))
    assert "Hồ sơ" in book.sheetnames and not {"Theo cán bộ", "Kiểm tra tại quầy"} & set(book.sheetnames)
    csv_text = report_of(server, units, "viewer", period, "csv").decode("utf-8-sig")
    assert "Quầy An Khánh 1" in csv_text and AN not in csv_text and "NVA01" not in csv_text


def test_the_dossier_rated_again_at_the_same_terminal_is_in_the_reports_repeats(tmp_path, server, units, clock):
    """The repeat of the morning (CODE rated again at C01, kept and filtered) is a dossier's second rating: the
    dossiers section and the CSV's "Lượt đánh giá lại cùng một hồ sơ" line count it (the server marks a filtered
    rating that names a dossier as ``dossier_repeat``: the terminal links a filtered press for that cause only)."""
    morning, held, period = sent_and_held(tmp_path, server, units, clock)
    assert held[morning.repeat]["filtered"] == 1 and held[morning.repeat]["dossier"] == CODE
    assert held[morning.repeat]["dossier_repeat"] == 1
    csv_rows = csv_of(report_of(server, units, "unit_admin", period, "csv"))
    shown = row_named(csv_rows, "Lượt đánh giá lại cùng một hồ sơ (lưu, không tính)")[1]
    assert (report_of(server, units, "unit_admin", period)["dossiers"]["repeats"], shown) == (1, "1")


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

"""Issue 12 at ingest (SQLite and PostgreSQL): each rating's officer and dossier, a dossier counted once across
the server's terminals, shifts and invitations kept once by id, and the receipts of older terminals unchanged."""

from __future__ import annotations

import json

import pytest

from officer_fixtures import Units, invitation, shift
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock, make_batch

PERIOD = {"period": "month", "on": "2026-11-25"}


@pytest.fixture
def units(start_server):
    return Units(start_server(clock=FakeClock(), alert_check_interval_s=0))  # 2026-11-25T09:30Z


def _stored(units, rating_id: str) -> dict:
    row, = units.server.rows("ratings", id=rating_id)
    return row


def _counted_and_filtered(units) -> tuple[int, int]:
    tallies = units.server.rows("rating_tallies")
    return (sum(t["n"] for t in tallies if not t["filtered"]), sum(t["n"] for t in tallies if t["filtered"]))


def test_a_ratings_officer_is_stored_as_sent_and_as_the_units_officer(units):
    known = units.add_officer("U01", "NVA01")
    units.add_officer("U02", "NVB01")  # another unit's officer: not the terminal's
    sent = [units.rating("C01", officer="NVA01"), units.rating("C01", officer="NVB01"), units.rating("C01")]
    units.upload("C01", sent)
    assert [(_stored(units, r["id"])["officer_code"], _stored(units, r["id"])["officer_id"]) for r in sent] == [
        ("NVA01", known["id"]), ("NVB01", None), (None, None)]


def test_a_second_rating_of_a_dossier_is_kept_and_counted_as_filtered_at_any_terminal(units):
    first = units.rating("C01", dossier="HS-2026-000123", rating="dissatisfied", reason_outcome="timeout")
    same_batch = units.rating("C01", dossier="HS-2026-000123", rating="very_satisfied")
    other_dossier = units.rating("C01", dossier="HS-2026-000124", rating="very_satisfied")
    units.upload("C01", [first, same_batch, other_dossier])
    elsewhere = units.rating("C02", dossier="HS-2026-000123", rating="very_satisfied")  # another unit's terminal
    units.upload("C02", [elsewhere])
    flags = {r["id"]: (_stored(units, r["id"])["dossier_repeat"], _stored(units, r["id"])["filtered"])
             for r in (first, same_batch, other_dossier, elsewhere)}
    assert flags == {first["id"]: (0, 0), same_batch["id"]: (1, 0), other_dossier["id"]: (0, 0),
                     elsewhere["id"]: (1, 0)}  # the terminal's own flag kept as sent
    assert _counted_and_filtered(units) == (2, 2)
    # Every report counts it as filtered: the report API, and what a pull says.
    report = units.server.get("/api/v1/reports/summary", params=PERIOD, headers=units.headers("province_admin"))
    assert report.status_code == 200, report.text
    total = report.json()["report"]["total"]
    assert (total["counted"], total["filtered"]) == (2, 2)
    pulled = units.server.get("/api/v1/ratings", headers=units.headers("province_admin")).json()["ratings"]
    assert {r["id"]: r["filtered"] for r in pulled} == {first["id"]: 0, same_batch["id"]: 1, other_dossier["id"]: 0,
                                                       elsewhere["id"]: 1}


def test_a_rating_the_terminal_filtered_is_a_repeat_and_does_not_use_up_the_dossier(units):
    """A terminal links a filtered press to a dossier only as that dossier's second rating there: the server
    marks it ``dossier_repeat`` (the reports' count of second ratings), and it counts no dossier."""
    repeated_at_the_terminal = units.rating("C01", dossier="HS-2026-000200", filtered=1)
    units.upload("C01", [repeated_at_the_terminal])
    real = units.rating("C03", dossier="HS-2026-000200")
    units.upload("C03", [real])
    assert _stored(units, real["id"])["dossier_repeat"] == 0
    assert _stored(units, repeated_at_the_terminal["id"])["dossier_repeat"] == 1
    assert _counted_and_filtered(units) == (1, 1)


def test_a_resend_is_identical_by_what_the_terminal_sent_and_a_changed_dossier_is_a_conflict(units):
    first = units.rating("C01", dossier="HS-2026-000300", officer="NVA01")
    repeat = units.rating("C01", dossier="HS-2026-000300", officer="NVA01")
    units.upload("C01", [first, repeat])
    again = units.upload("C01", [first, repeat])
    assert [ack["status"] for ack in again["acks"]] == ["duplicate", "duplicate"]  # dossier_repeat is the server's
    changed = units.upload("C01", [{**first, "dossier": "HS-2026-000301"}, {**repeat, "officer": "NVA02"}])
    assert [ack["status"] for ack in changed["acks"]] == ["conflict", "conflict"]
    assert _stored(units, first["id"])["dossier"] == "HS-2026-000300"
    kept = sorted(json.loads(c["content"])["dossier"] for c in units.server.rows("rating_conflicts"))
    assert kept == ["HS-2026-000300", "HS-2026-000301"]
    assert _counted_and_filtered(units) == (1, 1)


def test_two_terminals_racing_for_one_dossier_count_it_once(units):
    import threading

    ratings = {counter: [units.rating(counter, dossier=f"HS-RACE-{i:04d}", monotonic_ns=6_000_000_000 + i)
                         for i in range(40)] for counter in ("C01", "C03")}
    answers = {}

    def send(counter):
        answers[counter] = units.server.upload(units.terminal[counter], make_batch(ratings[counter]))

    threads = [threading.Thread(target=send, args=(counter,)) for counter in ratings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answer.status_code == 200 for answer in answers.values())
    rows = units.server.rows("ratings")
    assert len(rows) == 80
    counted = [row["dossier"] for row in rows if not row["dossier_repeat"]]
    assert sorted(counted) == [f"HS-RACE-{i:04d}" for i in range(40)]  # each dossier once, whoever won it
    assert _counted_and_filtered(units) == (40, 40)


def test_shifts_and_invitations_are_kept_once_by_id_and_acknowledged(units):
    officer = units.add_officer("U01", "NVA01")
    shifts = [shift("NVA01"), shift("NVX99", sign_in_how="pin", sign_out_how="screen")]
    rated = units.rating("C01", dossier="HS-2026-000400", officer="NVA01")
    invitations = [invitation("HS-2026-000400", outcome="rated", rating_id=rated["id"]), invitation("HS-2026-000401")]
    answer = units.upload("C01", [rated], shifts=shifts, invitations=invitations)
    assert answer["shift_acks"] == [s["id"] for s in shifts]
    assert answer["invitation_acks"] == [i["id"] for i in invitations]
    again = units.upload("C01", [], shifts=shifts[:1], invitations=invitations[1:])  # a heartbeat resending
    assert (again["shift_acks"], again["invitation_acks"]) == ([shifts[0]["id"]], [invitations[1]["id"]])
    kept = {row["id"]: row for row in units.server.rows("officer_shifts")}
    assert len(kept) == 2
    assert (kept[shifts[0]["id"]]["officer_id"], kept[shifts[1]["id"]]["officer_id"]) == (officer["id"], None)
    assert {row["unit_id"] for row in kept.values()} == {units.node["U01"]}
    assert kept[shifts[1]["id"]]["sign_out_how"] == "screen"
    invited = {row["id"]: row for row in units.server.rows("dossier_invitations")}
    assert len(invited) == 2
    assert invited[invitations[0]["id"]]["rating_id"] == rated["id"]
    assert (invited[invitations[1]["id"]]["outcome"], invited[invitations[1]["id"]]["dossier"]) == (
        "unanswered", "HS-2026-000401")


@pytest.mark.parametrize(("field", "document"), [
    ("shifts.0.sign_in_how", {"shifts": [shift(sign_in_how="face")]}),
    ("shifts.0.officer", {"shifts": [shift("NV A01")]}),
    ("shifts.0.signed_out_at", {"shifts": [shift(signed_out_at="2026-02-30T01:00:00.000Z")]}),
    ("invitations.0.outcome", {"invitations": [invitation(outcome="lost")]}),
    ("invitations.0.dossier", {"invitations": [invitation("HS 123")]}),
])
def test_a_bad_shift_or_invitation_refuses_the_batch_naming_the_field(units, field, document):
    answer = units.server.upload(units.terminal["C01"], make_batch([units.rating("C01")], **document))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert units.server.count("ratings") == 0


@pytest.mark.parametrize(("fields", "reason"), [
    ({"officer": "NV A01"}, "officer: "), ({"officer": "x" * 33}, "officer: "),
    ({"dossier": "HS 000123"}, "dossier: "), ({"dossier": "H" * 49}, "dossier: ")])
def test_a_rating_with_a_bad_officer_or_dossier_code_is_refused_alone(units, fields, reason):
    good, bad = units.rating("C01"), units.rating("C01", **fields)
    answer = units.upload("C01", [good, bad])
    assert [ack["status"] for ack in answer["acks"]] == ["stored", "refused"]
    assert answer["acks"][1]["reason"].startswith(reason)


def test_an_older_terminal_is_answered_as_before_until_its_unit_has_officers(units):
    old = units.upload("C01", [units.rating("C01")])
    assert set(old) == {"ok", "acks", "received_at", "clock_offset_s"}
    newer = units.upload("C01", [units.rating("C01", officer="NVA01")])  # a terminal that knows officers: asked
    assert set(newer) == {"ok", "acks", "received_at", "clock_offset_s", "officers_version"}
    units.add_officer("U01", "NVA01")
    now = units.upload("C01", [units.rating("C01")])
    assert set(now) == {"ok", "acks", "received_at", "clock_offset_s", "officers_version"}
    assert now["officers_version"] != newer["officers_version"]  # the list changed
    # Unit B has none: its terminals' receipts stay as they were.
    assert "officers_version" not in units.upload("C02", [units.rating("C02")])


def test_the_receipts_version_is_the_terminal_lists(units):
    units.add_officer("U01", "NVA01", counters=["C03"])
    version = units.upload("C01", [])["officers_version"]
    listed = units.server.get("/api/v1/terminal/officers", headers=units.terminal["C01"].headers)
    assert listed.status_code == 200
    assert listed.json()["version"] == version and listed.headers["ETag"] == f'"{version}"'


def test_a_refused_rating_does_not_drop_the_batchs_shifts(units):
    kept = shift("NVA01")
    answer = units.upload("C01", [units.rating("C01", officer="NV A01"), units.rating("C01")], shifts=[kept])
    assert [ack["status"] for ack in answer["acks"]] == ["refused", "stored"]
    assert answer["shift_acks"] == [kept["id"]]
    assert [row["id"] for row in units.server.rows("officer_shifts")] == [kept["id"]]

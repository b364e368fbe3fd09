"""Remote terminal settings through a real server (SQLite and PostgreSQL): the terminal's fetch with ETag and 304,
the version in batch receipts, what heartbeats report stored and listed, the admin API within each account's
scope, refusals that store nothing, and the audit entries."""

from __future__ import annotations

import json

import pytest

from officer_fixtures import Units
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock


@pytest.fixture
def units(start_server):
    return Units(start_server(clock=FakeClock(), alert_check_interval_s=0))


def _set(units, body: dict, role: str = "province_admin"):
    return units.server.post("/api/v1/settings", json=body, headers=units.headers(role))


def _fetch(units, counter: str, etag: str | None = None):
    headers = dict(units.terminal[counter].headers)
    if etag:
        headers["If-None-Match"] = etag
    return units.server.get("/api/v1/terminal/settings", headers=headers)


def _audit(units, action: str) -> list[dict]:
    return [{**row, "details": json.loads(row["details"])} for row in units.server.rows("audit_log", action=action)]


def test_the_terminal_fetches_its_effective_set_with_an_etag_and_a_304(units):
    from server.terminal_settings import settings_version

    empty = _fetch(units, "C01")
    assert empty.status_code == 200 and empty.json() == {"version": settings_version({}), "values": {}}
    assert _set(units, {"set": {"feedback.thanks_s": 3}}).status_code == 200
    answer = _set(units, {"node": "U01", "set": {"feedback.reasons": ["processing_time", "staff_attitude"]},
                          "note": "hai lý do"})
    assert answer.status_code == 200, answer.text
    got = _fetch(units, "C01")
    values = {"feedback.thanks_s": 3.0, "feedback.reasons": ["processing_time", "staff_attitude"]}
    assert got.status_code == 200 and got.json() == {"version": settings_version(values), "values": values}
    assert got.headers["ETag"] == f'"{settings_version(values)}"'
    again = _fetch(units, "C01", etag=got.headers["ETag"])
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == got.headers["ETag"]
    assert _fetch(units, "C01", etag='"0000000000000000"').status_code == 200
    assert _fetch(units, "C02").json()["values"] == {"feedback.thanks_s": 3.0}  # the other unit: the fleet's only
    assert units.server.get("/api/v1/terminal/settings").status_code == 401


def test_receipts_carry_the_wanted_version_and_heartbeats_store_what_was_applied(units):
    assert "settings_version" not in units.upload("C01")  # nothing ever set: the receipt is as before
    _set(units, {"node": "U02", "set": {"voice.volume": 0.3}})
    assert "settings_version" not in units.upload("C01")  # set elsewhere only
    _set(units, {"set": {"voice.volume": 0.5}})
    wanted = _fetch(units, "C01").json()["version"]
    assert units.upload("C01")["settings_version"] == wanted
    _set(units, {"terminal": units.terminal["C01"].id, "set": {"voice.volume": 0.9}})
    newer = _fetch(units, "C01").json()["version"]
    assert newer != wanted and units.upload("C01")["settings_version"] == newer  # the change reaches the next receipt
    units.upload("C01", health={"settings_version": wanted, "settings_error": f"{newer}: volume too loud"})
    row, = units.server.rows("terminals", id=units.terminal["C01"].id)
    assert (row["settings_version"], row["settings_error"]) == (wanted, f"{newer}: volume too loud")
    listed = {t["id"]: t for t in units.server.get("/api/v1/terminals",
                                                   headers=units.headers("province_admin")).json()["terminals"]}
    mine = listed[units.terminal["C01"].id]
    assert (mine["settings_wanted"], mine["settings_applied"], mine["settings_error"]) == (
        newer, wanted, f"{newer}: volume too loud")
    assert listed[units.terminal["C02"].id]["settings_wanted"] == _fetch(units, "C02").json()["version"]
    assert listed[units.terminal["C02"].id]["settings_applied"] is None
    # Emptied: the empty set's version still reaches the terminals, so they drop what they had.
    _set(units, {"terminal": units.terminal["C01"].id, "unset": ["voice.volume"]})
    _set(units, {"unset": ["voice.volume"]})
    assert units.upload("C01")["settings_version"] == _fetch(units, "C01").json()["version"]
    assert _fetch(units, "C01").json()["values"] == {}


def test_a_unit_admin_sets_its_unit_and_below_only(units):
    assert _set(units, {"node": "U01", "set": {"voice.volume": 0.4}}, role="unit_admin").status_code == 200
    assert _set(units, {"node": "C01", "set": {"voice.volume": 0.2}}, role="unit_admin").status_code == 200
    assert _set(units, {"terminal": units.terminal["C03"].id, "set": {"voice.enabled": False}},
                role="unit_admin").status_code == 200
    outside = _set(units, {"node": "U02", "set": {"voice.volume": 0.4}}, role="unit_admin")
    assert outside.status_code == 404 and outside.json()["field"] == "node"
    assert _set(units, {"terminal": units.terminal["C02"].id, "set": {"voice.volume": 0.4}},
                role="unit_admin").status_code == 404
    fleet = _set(units, {"set": {"voice.volume": 0.4}}, role="unit_admin")
    assert fleet.status_code == 403 and "fleet" in fleet.json()["error"]
    for role in ("viewer", "technician", "inspector"):
        assert _set(units, {"node": "U01", "set": {"voice.volume": 0.4}}, role=role).status_code == 403
    other = _set(units, {"node": "U02", "set": {"voice.volume": 0.1}}).json()["change"]["id"]
    refused = units.server.post("/api/v1/settings/rollback", json={"change": other}, headers=units.headers("unit_admin"))
    assert refused.status_code == 404
    hidden = units.server.get("/api/v1/settings", params={"node": "U02"}, headers=units.headers("unit_admin"))
    assert hidden.status_code == 404, hidden.text
    seen = units.server.get("/api/v1/settings", params={"node": "C01"}, headers=units.headers("inspector"))
    assert seen.status_code == 200 and seen.json()["effective"]["values"] == {"voice.volume": 0.2}
    scopes = {c["scope"] for c in units.server.get("/api/v1/settings/history",
                                                   headers=units.headers("unit_admin")).json()["changes"]}
    assert f"node:{units.node['U02']}" not in scopes and f"node:{units.node['U01']}" in scopes
    assert len(units.server.rows("terminal_settings_changes")) == 4


@pytest.mark.parametrize("body, field", [
    ({"set": {"feedback.thanks_s": "soon"}}, "feedback.thanks_s"),
    ({"set": {"pins.satisfied": 5}}, "pins.satisfied"),
    ({"unset": ["storage.path"]}, "storage.path"),
    ({}, "values"),
])
def test_a_bad_key_or_value_is_422_naming_it_and_nothing_is_stored(units, body, field):
    answer = _set(units, {"node": "U01", **body})
    assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    assert field == "values" or answer.json()["error"].startswith(field)
    assert units.server.rows("terminal_settings_changes") == [] and _audit(units, "terminal_settings_change") == []


def test_changes_and_roll_backs_are_audited_and_the_history_shows_them(units):
    first = _set(units, {"node": "U01", "set": {"feedback.thanks_s": 4}, "note": "thử"}, role="unit_admin").json()
    _set(units, {"node": "U01", "set": {"feedback.thanks_s": 9}}, role="unit_admin")
    back = units.server.post("/api/v1/settings/rollback", json={"change": first["change"]["id"], "note": "quay lại"},
                             headers=units.headers("unit_admin"))
    assert back.status_code == 200, back.text
    assert back.json()["change"]["restores"] == first["change"]["id"]
    assert back.json()["change"]["values"] == {"feedback.thanks_s": 4.0}
    changes = _audit(units, "terminal_settings_change")
    assert [(c["actor"], c["scope_node_id"], c["subject"]) for c in changes] == [
        ("unit.admin", units.node["U01"], f"node #{units.node['U01']}")] * 2
    assert changes[0]["details"] == {"change": first["change"]["id"], "set": {"feedback.thanks_s": 4.0}, "unset": [],
                                     "note": "thử", "version": first["change"]["version"]}
    rolled, = _audit(units, "terminal_settings_rollback")
    assert rolled["details"]["restores"] == first["change"]["id"] and rolled["details"]["note"] == "quay lại"
    assert _audit(units, "settings_change") == [] or all(
        e["subject"] == "server settings" for e in _audit(units, "settings_change"))
    listed = units.server.get("/api/v1/settings/history", params={"node": "U01"},
                              headers=units.headers("province_admin")).json()["changes"]
    assert [c["id"] for c in listed] == [back.json()["change"]["id"], first["change"]["id"] + 1, first["change"]["id"]]
    assert units.server.post("/api/v1/settings/rollback", json={"change": 999},
                             headers=units.headers("province_admin")).status_code == 404


def test_a_moved_terminal_gets_its_new_places_set_and_a_silent_one_only_the_latest(units):
    _set(units, {"node": "U01", "set": {"terminal.language": "vi"}})
    _set(units, {"node": "U02", "set": {"terminal.language": "en"}})
    at_a = units.upload("C01")["settings_version"]
    moved = units.server.post(f"/api/v1/terminals/{units.terminal['C01'].id}/move", json={"node": "C02"},
                              headers=units.headers("province_admin"))
    assert moved.status_code == 200, moved.text
    at_b = units.upload("C01")["settings_version"]
    assert at_b != at_a and at_b == _fetch(units, "C02").json()["version"]
    assert _fetch(units, "C01").json()["values"] == {"terminal.language": "en"}
    # A month of changes while C03 was silent: it is offered the current set only, once.
    for seconds in (2, 3, 4, 5):
        _set(units, {"node": "U01", "set": {"feedback.thanks_s": seconds}})
    latest = _fetch(units, "C03").json()
    assert latest["values"] == {"terminal.language": "vi", "feedback.thanks_s": 5.0}
    assert units.upload("C03")["settings_version"] == latest["version"]

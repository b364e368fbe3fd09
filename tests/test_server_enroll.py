"""POST /api/v1/enroll: a one-time code buys a terminal id and a device token."""

from __future__ import annotations

import pytest

from server_fixtures import *  # noqa: F403


def test_good_code_gives_an_id_from_site_and_counter_and_a_working_token(server):
    answer = server.post("/api/v1/enroll", json={"code": server.issue_code(), "app_version": "0.1.0"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["ok"] is True
    assert body["terminal_id"].startswith("ubnd-phuong-phuc-la-quay-1-")
    assert body["device_token"].startswith("hl_dev_") and len(body["device_token"]) >= 7 + 43
    assert (body["site"], body["counter"]) == (TERMINAL_SITE, TERMINAL_COUNTER)
    row, = server.rows("terminals", id=body["terminal_id"])
    assert row["app_version"] == "0.1.0" and row["revoked_at"] is None
    heartbeat = server.post("/api/v1/batches", json=make_batch([]),
                            headers={"Authorization": f"Bearer {body['device_token']}"})
    assert heartbeat.status_code == 200, heartbeat.text


def test_only_hashes_of_tokens_and_codes_are_stored(server):
    code = server.issue_code()
    body = server.post("/api/v1/enroll", json={"code": code}).json()
    stored = repr(server.rows("terminals")) + repr(server.rows("enrollment_codes"))
    assert body["device_token"] not in stored and code not in stored
    assert body["device_token"][7:] not in stored and code[7:] not in stored


def test_two_terminals_at_the_same_counter_get_different_ids(server):
    first, second = server.enroll(), server.enroll()
    assert first.id != second.id and first.token != second.token


def test_code_is_case_insensitive_and_trimmed(server):
    code = server.issue_code()
    answer = server.post("/api/v1/enroll", json={"code": f"  {code.upper()} "})
    assert answer.status_code == 201, answer.text


def test_used_code_is_refused_with_409_naming_the_terminal(server):
    code = server.issue_code()
    first = server.post("/api/v1/enroll", json={"code": code}).json()
    again = server.post("/api/v1/enroll", json={"code": code})
    assert again.status_code == 409
    assert again.json()["ok"] is False
    assert "already used" in again.json()["error"] and first["terminal_id"] in again.json()["error"]
    assert server.count("terminals") == 1


def test_expired_code_is_refused_with_410(start_server):
    clock = FakeClock()
    server = start_server(clock=clock)
    code = server.issue_code(ttl_s=60)
    clock.advance(61)
    answer = server.post("/api/v1/enroll", json={"code": code})
    assert answer.status_code == 410
    assert "expired" in answer.json()["error"]
    assert server.count("terminals") == 0


def test_code_just_before_expiry_works(start_server):
    clock = FakeClock()
    server = start_server(clock=clock)
    code = server.issue_code(ttl_s=60)
    clock.advance(59)
    assert server.post("/api/v1/enroll", json={"code": code}).status_code == 201


def test_unknown_code_is_refused_with_401(server):
    answer = server.post("/api/v1/enroll", json={"code": "hl_enr_" + "a" * 32})
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error": answer.json()["error"], "field": "code"}
    assert "not known" in answer.json()["error"]


@pytest.mark.parametrize("body, status, field", [
    ({}, 422, "code"),
    ({"code": "abc"}, 422, "code"),
    ({"code": 12345}, 422, "code"),
    ({"code": "hl_enr_xxxx", "extra": 1}, 422, "extra"),
])
def test_malformed_enrolment_is_422_naming_the_field(server, body, status, field):
    answer = server.post("/api/v1/enroll", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field
    assert server.count("terminals") == 0

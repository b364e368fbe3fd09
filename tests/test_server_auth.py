"""Every endpoint × every kind of credential, through a real uvicorn server."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from server_fixtures import *  # noqa: F403

# credential -> expected status, per endpoint
EXPECTED = {
    "post_batch": {"none": 401, "not bearer": 401, "empty bearer": 401, "wrong": 401, "revoked device": 401,
                   "other terminal": 403, "admin": 403, "revoked admin": 401, "own device": 200},
    "get_ratings": {"none": 401, "not bearer": 401, "empty bearer": 401, "wrong": 401, "revoked device": 401,
                    "other terminal": 403, "admin": 200, "revoked admin": 401, "own device": 403},
    "get_terminals": {"none": 401, "not bearer": 401, "empty bearer": 401, "wrong": 401, "revoked device": 401,
                      "other terminal": 403, "admin": 200, "revoked admin": 401, "own device": 403},
}
CASES = [(endpoint, credential, status) for endpoint, table in EXPECTED.items()
         for credential, status in table.items()]


@pytest.fixture
def fleet(server):
    """A server with two live terminals, a revoked one, a live and a revoked admin token."""
    from server.schema import admin_tokens

    own, other, revoked = server.enroll(), server.enroll(), server.enroll()
    server.revoke(revoked.id)
    admin, revoked_admin = server.admin_token("admin"), server.admin_token("former admin")
    with server.engine.begin() as conn:
        conn.execute(update(admin_tokens).where(admin_tokens.c.name == "former admin")
                     .values(revoked_at="2026-11-01T00:00:00.000Z"))
    headers = {
        "none": {},
        "not bearer": {"Authorization": f"Basic {own.token}"},
        "empty bearer": {"Authorization": "Bearer "},
        "wrong": {"Authorization": "Bearer hl_dev_" + "x" * 43},
        "revoked device": revoked.headers,
        "other terminal": other.headers,
        "admin": {"Authorization": f"Bearer {admin}"},
        "revoked admin": {"Authorization": f"Bearer {revoked_admin}"},
        "own device": own.headers,
    }
    return server, own, headers


def call(server, own, endpoint, headers):
    if endpoint == "post_batch":
        # The ratings are always the *own* terminal's, so "other terminal" is a foreign terminal_id.
        return server.post("/api/v1/batches", json=make_batch([make_rating(own.id)]), headers=headers)
    return server.get("/api/v1/" + endpoint.removeprefix("get_"), headers=headers)


@pytest.mark.parametrize("endpoint, credential, status", CASES)
def test_endpoint_with_credential(fleet, endpoint, credential, status):
    server, own, headers = fleet
    answer = call(server, own, endpoint, headers[credential])
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["ok"] is (status == 200)
    if status != 200:
        assert body["error"]
    if status == 401:
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    if endpoint == "post_batch" and status != 200:
        assert server.count("ratings") == 0


def test_revoked_message_says_what_to_do(fleet):
    server, own, headers = fleet
    answer = server.post("/api/v1/batches", json=make_batch([]), headers=headers["revoked device"])
    assert "revoked" in answer.json()["error"] and "enrolment code" in answer.json()["error"]


def test_revoking_takes_effect_at_once(server):
    """The server remembers live tokens; the next batch after a revocation is still refused, whole."""
    terminal = server.enroll()
    assert server.upload(terminal, make_batch([make_rating(terminal.id)])).status_code == 200
    server.revoke(terminal.id)
    refused = server.upload(terminal, make_batch([make_rating(terminal.id)]))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]
    assert server.count("ratings") == 1
    assert server.upload(terminal, make_batch([])).status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/"])
def test_public_endpoints_need_no_token(server, path):
    assert server.get(path).status_code == 200

"""Uploading signed releases and downloading them as a terminal, on both backends, through a real server:
size/hash/signature/duplicate refused with nothing kept, the statement and the archive served only to terminals a
rollout includes, the archive resumable with Range (parts reassemble to the signed SHA-256; 416 past the end)."""

from __future__ import annotations

import hashlib
import json

import pytest

from release_fixtures import ReleaseKey, heartbeat, upload
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock


@pytest.fixture
def key() -> ReleaseKey:
    return ReleaseKey()


@pytest.fixture
def signed_server(start_server, key, tmp_path):
    """A server given the release key's public half, its releases in tmp_path/releases."""
    return start_server(clock=FakeClock(), alert_check_interval_s=0, release_public_key=key.public,
                        releases_dir=str(tmp_path / "releases"))


def _kept(server, tmp_path) -> list[str]:
    folder = tmp_path / "releases"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_upload_keeps_the_archive_and_lists_it(signed_server, key, tmp_path):
    made = key.release(tmp_path / "built", "1.2.0")
    headers = signed_server.admin_headers()
    answer = upload(signed_server, headers, made)
    assert answer.status_code == 201, answer.text
    release = answer.json()["release"]
    assert release["version"] == "1.2.0" and release["sha256"] == made.sha256
    assert release["signature_checked"] is True and release["key_id"] == key.key_id
    assert _kept(signed_server, tmp_path) == [made.archive.name]
    assert (tmp_path / "releases" / made.archive.name).read_bytes() == made.archive.read_bytes()
    listed = signed_server.get("/api/v1/releases", headers=headers).json()["releases"]
    assert [r["version"] for r in listed] == ["1.2.0"]
    entry = signed_server.rows("audit_log", action="release_upload")[0]
    assert entry["subject"] == "1.2.0" and json.loads(entry["details"])["sha256"] == made.sha256


@pytest.mark.parametrize("tamper, status, words", [
    (lambda data: data[:-1], 422, "bytes but its statement says"),
    (lambda data: data[:100] + bytes([data[100] ^ 1]) + data[101:], 422, "SHA-256"),
])
def test_an_archive_that_is_not_the_one_signed_is_refused(signed_server, key, tmp_path, tamper, status, words):
    made = key.release(tmp_path / "built", "1.2.0")
    answer = upload(signed_server, signed_server.admin_headers(), made, body=tamper(made.archive.read_bytes()))
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]
    assert signed_server.count("releases") == 0
    assert _kept(signed_server, tmp_path) == []  # not even the temporary upload
    assert signed_server.count("audit_log", action="release_upload") == 0


def test_a_version_is_uploaded_once(signed_server, key, tmp_path):
    headers = signed_server.admin_headers()
    first = key.release(tmp_path / "a", "1.2.0")
    assert upload(signed_server, headers, first).status_code == 201
    again = key.release(tmp_path / "b", "1.2.0")  # another build under the same version
    answer = upload(signed_server, headers, again)
    assert answer.status_code == 409 and "already uploaded" in answer.json()["error"]
    assert (tmp_path / "releases" / first.archive.name).read_bytes() == first.archive.read_bytes()
    assert signed_server.count("releases") == 1


def test_a_release_signed_by_another_key_or_with_a_changed_statement_is_refused(signed_server, key, tmp_path):
    headers = signed_server.admin_headers()
    other = ReleaseKey().release(tmp_path / "other", "1.2.0")
    answer = upload(signed_server, headers, other)
    assert answer.status_code == 422 and answer.json()["error"].startswith("key_id: the release was signed with key")
    made = key.release(tmp_path / "built", "1.3.0")
    document = json.loads(made.sig.read_text())
    document["statement"]["created_at"] = "2026-12-04T00:00:00Z"  # not what was signed
    made.sig.write_text(json.dumps(document))
    answer = upload(signed_server, headers, made)
    assert answer.status_code == 422 and answer.json()["error"].startswith("signature: does not verify")
    assert signed_server.count("releases") == 0 and _kept(signed_server, tmp_path) == []


@pytest.mark.parametrize("change, words", [
    ({"product": "other"}, "statement.product"),
    ({"version": "../1"}, "statement.version"),
    ({"arch": "armv7"}, "statement.arch"),
    ({"archive": "x.tar.gz"}, "statement.archive"),
])
def test_a_statement_with_a_bad_field_is_refused_naming_it(start_server, key, tmp_path, change, words):
    server = start_server(clock=FakeClock(), alert_check_interval_s=0,  # no public key: the fields still count
                          releases_dir=str(tmp_path / "releases"))
    made = key.release(tmp_path / "built", "1.2.0", statement_changes=change)
    answer = upload(server, server.admin_headers(), made)
    assert answer.status_code == 422 and answer.json()["error"].startswith(words), answer.text


def test_without_the_public_key_the_upload_says_the_signature_was_not_checked(start_server, key, tmp_path,
                                                                               server_db_url):
    # By default the releases are kept beside the SQLite database (PostgreSQL: var/releases, given here).
    postgres = server_db_url.startswith("postgresql")
    server = start_server(clock=FakeClock(), alert_check_interval_s=0,
                          **({"releases_dir": str(tmp_path / "releases")} if postgres else {}))
    made = key.release(tmp_path / "built", "1.2.0")
    answer = upload(server, server.admin_headers(), made)
    assert answer.status_code == 201 and answer.json()["release"]["signature_checked"] is False
    assert (tmp_path / "releases" / made.archive.name).is_file()


def _rolled_out(server, key, tmp_path, version="1.2.0", **start):
    headers = server.admin_headers()
    made = key.release(tmp_path / "built", version, payload_bytes=700_000)
    assert upload(server, headers, made).status_code == 201
    answer = server.post(f"/api/v1/releases/{version}/rollouts", json=start, headers=headers)
    assert answer.status_code == 201, answer.text
    return made


def test_a_terminal_resumes_the_archive_with_ranges(signed_server, key, tmp_path):
    terminal = signed_server.enroll()
    made = _rolled_out(signed_server, key, tmp_path)
    receipt = heartbeat(signed_server, terminal)
    size = made.archive.stat().st_size
    assert receipt["release"] == {"version": "1.2.0", "size": size, "sha256": made.sha256}

    statement = signed_server.get("/api/v1/terminal/releases/1.2.0", headers=terminal.headers)
    assert statement.status_code == 200 and statement.json() == json.loads(made.sig.read_text())

    url = "/api/v1/terminal/releases/1.2.0/archive"
    whole = signed_server.get(url, headers=terminal.headers)
    assert whole.status_code == 200 and whole.headers["etag"] == f'"{made.sha256}"'
    assert whole.headers["accept-ranges"] == "bytes"
    parts, start = [], 0
    for end in (100_000, 100_001, 450_000, size - 1):  # as an interrupted download resumes
        part = signed_server.get(url, headers={**terminal.headers, "Range": f"bytes={start}-{end}"})
        assert part.status_code == 206, part.text
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        parts.append(part.content)
        start = end + 1
    assert hashlib.sha256(b"".join(parts)).hexdigest() == made.sha256
    past = signed_server.get(url, headers={**terminal.headers, "Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
    # If-Range: the rest only if the archive is still the one begun (its ETag), else the whole archive again.
    same = signed_server.get(url, headers={**terminal.headers, "Range": "bytes=10-", "If-Range": f'"{made.sha256}"'})
    assert same.status_code == 206 and len(same.content) == size - 10
    other = signed_server.get(url, headers={**terminal.headers, "Range": "bytes=10-", "If-Range": '"0000"'})
    assert other.status_code == 200 and hashlib.sha256(other.content).hexdigest() == made.sha256


def test_only_terminals_a_rollout_includes_may_download(signed_server, key, tmp_path):
    inside = signed_server.enroll(site="UBND phường Phúc La")
    outside = signed_server.enroll(site="UBND phường Kim Mã")
    unit = signed_server.rows("terminals", id=inside.id)[0]["unit_id"]
    made = key.release(tmp_path / "built", "1.2.0")
    assert upload(signed_server, signed_server.admin_headers(), made).status_code == 201
    for who in (inside, outside):  # uploaded but not rolled out: nobody
        assert "release" not in heartbeat(signed_server, who)
        assert signed_server.get("/api/v1/terminal/releases/1.2.0/archive", headers=who.headers).status_code == 403
    answer = signed_server.post("/api/v1/releases/1.2.0/rollouts", json={"node": f"#{unit}"},
                                headers=signed_server.admin_headers())
    assert answer.status_code == 201, answer.text
    assert heartbeat(signed_server, inside)["release"]["version"] == "1.2.0"
    assert "release" not in heartbeat(signed_server, outside)
    assert signed_server.get("/api/v1/terminal/releases/1.2.0/archive", headers=inside.headers).status_code == 200
    refused = signed_server.get("/api/v1/terminal/releases/1.2.0/archive", headers=outside.headers)
    assert refused.status_code == 403 and "not offered to this terminal" in refused.json()["error"]
    assert signed_server.get("/api/v1/terminal/releases/9.9/archive", headers=inside.headers).status_code == 404
    # An admin token is not a device token.
    assert signed_server.get("/api/v1/terminal/releases/1.2.0", headers=signed_server.admin_headers()).status_code == 403
    # The terminal that runs it already is not offered it again.
    assert "release" not in heartbeat(signed_server, inside, app_version="1.2.0")


def test_a_scoped_admin_may_not_upload_and_rolls_out_only_within_its_node(signed_server, key, tmp_path):
    inside = signed_server.enroll(site="UBND phường Phúc La")
    outside = signed_server.enroll(site="UBND phường Kim Mã")
    unit = signed_server.rows("terminals", id=inside.id)[0]["unit_id"]
    other_unit = signed_server.rows("terminals", id=outside.id)[0]["unit_id"]
    made = key.release(tmp_path / "built", "1.2.0")
    person = signed_server.person("unit.admin", role="unit_admin", scope_node_id=unit)
    from server.accounts import issue_admin_token
    from server.db import write_transaction

    with signed_server.engine.connect() as conn, write_transaction(conn):
        token = issue_admin_token(conn, name="unit admin token", now_ns=1, account_id=person.id)
    scoped = {"Authorization": f"Bearer {token}"}
    refused = upload(signed_server, scoped, made)
    assert refused.status_code == 403 and "whole server" in refused.json()["error"]
    assert upload(signed_server, signed_server.admin_headers(), made).status_code == 201
    elsewhere = signed_server.post("/api/v1/releases/1.2.0/rollouts", json={"node": f"#{other_unit}"}, headers=scoped)
    assert elsewhere.status_code == 404
    mine = signed_server.post("/api/v1/releases/1.2.0/rollouts", json={}, headers=scoped)  # its own node
    assert mine.status_code == 201 and mine.json()["node_id"] == unit
    assert heartbeat(signed_server, inside)["release"]["version"] == "1.2.0"
    assert "release" not in heartbeat(signed_server, outside)
    # A rollout to the whole fleet shows to the unit's admin counted within its unit only; a stop of it is not its.
    assert signed_server.post("/api/v1/releases/1.2.0/rollouts", json={"wave_pct": 50},
                              headers=signed_server.admin_headers()).status_code == 201
    seen = signed_server.get("/api/v1/rollouts", headers=scoped).json()["rollouts"]
    assert [(r["node_id"], r["terminals"]) for r in seen] == [(None, 1), (unit, 1)]
    whole = signed_server.get("/api/v1/rollouts", headers=signed_server.admin_headers()).json()["rollouts"]
    assert [(r["node_id"], r["terminals"]) for r in whole] == [(None, 2), (unit, 1)]
    stopped = signed_server.post("/api/v1/releases/1.2.0/stop", json={}, headers=scoped).json()["rollouts"]
    assert [r["node_id"] for r in stopped] == [unit]
    viewer = signed_server.person("viewer", role="viewer", scope_node_id=unit)
    with signed_server.engine.connect() as conn, write_transaction(conn):
        token = issue_admin_token(conn, name="viewer token", now_ns=1, account_id=viewer.id)
    assert signed_server.get("/api/v1/releases", headers={"Authorization": f"Bearer {token}"}).status_code == 403

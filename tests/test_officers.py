"""A unit's officers on the server (SQLite and PostgreSQL): the registry through the API and the "Cán bộ" page,
each change in the audit trail, the PIN kept only as kiosk/service_pin.py's hash, the photo's limits, the list
the terminals fetch (ETag, 304), and who sees officers and dossier codes in pulls."""

from __future__ import annotations

import base64
import csv
import io
import re

import pytest
import requests

from dashboard_fixtures import log_in
from officer_fixtures import Units, picture
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock

from kiosk.service_pin import check_pin


@pytest.fixture
def units(start_server):
    return Units(start_server(clock=FakeClock(), alert_check_interval_s=0))


def _audit(units, action: str) -> list[dict]:
    import json

    return [{**row, "details": json.loads(row["details"])} for row in units.server.rows("audit_log", action=action)]


# -- the registry through the API ---------------------------------------------------------------------------

def test_an_officer_is_added_changed_and_disabled_each_time_with_an_audit_entry(units):
    made = units.add_officer("U01", "NVA01", "Nguyễn Văn An", counters=["C01", "#%d" % units.node["C03"]],
                             pin="2468", role="unit_admin")
    assert (made["unit_id"], made["code"], made["counters"], made["has_pin"], made["active"]) == (
        units.node["U01"], "NVA01", sorted([units.node["C01"], units.node["C03"]]), True, True)
    stored, = units.server.rows("officers")
    assert stored["pin_hash"].startswith("pbkdf2_sha256$") and "2468" not in stored["pin_hash"]
    assert check_pin("2468", stored["pin_hash"]) and not check_pin("1357", stored["pin_hash"])  # the terminal's check
    changed = units.server.post(f"/api/v1/officers/{made['id']}", headers=units.headers("unit_admin"),
                                json={"name": "Nguyễn Văn An (Tổ 1)", "counters": [], "active": False, "pin": None})
    assert changed.status_code == 200, changed.text
    assert {k: changed.json()["officer"][k] for k in ("name", "counters", "active", "has_pin")} == {
        "name": "Nguyễn Văn An (Tổ 1)", "counters": [], "active": False, "has_pin": False}
    created, = _audit(units, "officer_create")
    assert (created["actor"], created["scope_node_id"], created["subject"]) == (
        "unit.admin", units.node["U01"], f"officer NVA01 of unit #{units.node['U01']}")
    assert created["details"]["pin"] is True and "2468" not in str(created)
    change, = _audit(units, "officer_change")
    assert change["details"] == {"name": {"from": "Nguyễn Văn An", "to": "Nguyễn Văn An (Tổ 1)"},
                                 "counters": {"from": sorted([units.node["C01"], units.node["C03"]]), "to": []},
                                 "active": False, "pin": "cleared"}
    # Nothing to change: no entry.
    same = units.server.post(f"/api/v1/officers/{made['id']}", headers=units.headers("unit_admin"), json={"active": False})
    assert same.status_code == 200 and len(_audit(units, "officer_change")) == 1


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"unit": "U02", "code": "NVB01", "name": "B"}, 422, "unit"),          # outside the unit admin's scope
    ({"unit": "O01", "code": "NVB01", "name": "B"}, 422, "unit"),          # an office is no unit
    ({"unit": "U01", "code": "N", "name": "B"}, 422, "code"),
    ({"unit": "U01", "code": "NV A1", "name": "B"}, 422, "code"),
    ({"unit": "U01", "code": "NVB01", "name": "B", "counters": ["C02"]}, 422, "counters"),  # another unit's
    ({"unit": "U01", "code": "NVB01", "name": "B", "pin": "12a4"}, 422, "pin"),
    ({"unit": "U01", "code": "NVB01", "name": "B", "pin": "123"}, 422, "pin"),
    ({"unit": "U01", "code": "NVA01", "name": "Twice"}, 422, "code"),       # the unit has one already
])
def test_what_cannot_be_an_officer_is_refused_naming_the_field(units, body, status, field):
    units.add_officer("U01", "NVA01")
    answer = units.server.post("/api/v1/officers", json=body, headers=units.headers("unit_admin"))
    assert (answer.status_code, answer.json()["field"]) == (status, field), answer.text
    assert units.server.count("officers") == 1


def test_the_same_code_in_two_units_is_two_officers(units):
    units.add_officer("U01", "NV01")
    units.add_officer("U02", "NV01")
    assert units.server.count("officers") == 2


@pytest.mark.parametrize("role", ["viewer", "technician", "inspector"])
def test_only_administrators_change_officers(units, role):
    made = units.add_officer("U01", "NVA01")
    assert units.server.post("/api/v1/officers", json={"unit": "U01", "code": "NVB01", "name": "B"},
                             headers=units.headers(role)).status_code == 403
    assert units.server.post(f"/api/v1/officers/{made['id']}", json={"active": False},
                             headers=units.headers(role)).status_code == 403
    assert units.server.rows("officers")[0]["active"]


def test_an_officer_outside_the_scope_is_not_found(units):
    other = units.add_officer("U02", "NVB01")
    answer = units.server.post(f"/api/v1/officers/{other['id']}", json={"name": "X"}, headers=units.headers("unit_admin"))
    assert answer.status_code == 404
    listed = units.server.get("/api/v1/officers", headers=units.headers("unit_admin")).json()["officers"]
    assert listed == []
    wide = units.server.get("/api/v1/officers", headers=units.headers("province_admin")).json()["officers"]
    assert [o["code"] for o in wide] == ["NVB01"]


def test_a_photo_is_a_small_jpeg_or_png(units):
    made = units.add_officer("U01", "NVA01")
    url = units.server.url + f"/api/v1/officers/{made['id']}/photo"
    headers = units.headers("unit_admin")
    for kind, media in (("PNG", "image/png"), ("JPEG", "image/jpeg")):
        answer = requests.put(url, data=picture(kind), headers={**headers, "Content-Type": media}, timeout=30)
        assert answer.status_code == 200 and answer.json()["officer"]["has_photo"], answer.text
    stored = units.server.rows("officers")[0]["photo"]
    assert bytes(stored) == picture("JPEG")
    refusals = [
        (picture("GIF"), "image/png", 422),                        # a GIF sent as PNG: the bytes decide
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png", 422),   # not a whole picture
        (picture("PNG", (1500, 20)), "image/png", 422),            # too large a side
        (b"x" * (256 * 1024 + 1), "image/jpeg", 413),              # too many bytes
        (picture("JPEG"), "image/gif", 415),
    ]
    for data, media, status in refusals:
        answer = requests.put(url, data=data, headers={**headers, "Content-Type": media}, timeout=30)
        assert answer.status_code == status, (media, answer.text)
    assert bytes(units.server.rows("officers")[0]["photo"]) == picture("JPEG")  # kept as it was
    removed = requests.delete(url, headers=headers, timeout=30)
    assert removed.status_code == 200 and not removed.json()["officer"]["has_photo"]
    assert [e["details"]["photo"] for e in _audit(units, "officer_change")] == [
        {"type": "image/png", "bytes": len(picture("PNG"))}, {"type": "image/jpeg", "bytes": len(picture("JPEG"))},
        "removed"]


# -- what the terminals fetch -------------------------------------------------------------------------------

def test_a_terminal_fetches_its_units_active_officers_and_304_while_nothing_changed(units):
    units.add_officer("U01", "NVA01", "Nguyễn Văn An", counters=["C03"], pin="2468")
    gone = units.add_officer("U01", "NVA02", "Lê Thị Bình")
    units.add_officer("U02", "NVB01", "Trần Văn Cường")
    photo = picture("PNG")
    first = units.server.rows("officers", code="NVA01")[0]
    requests.put(units.server.url + f"/api/v1/officers/{first['id']}/photo", data=photo,
                 headers={**units.headers("province_admin"), "Content-Type": "image/png"}, timeout=30)
    units.server.post(f"/api/v1/officers/{gone['id']}", json={"active": False}, headers=units.headers("province_admin"))
    answer = units.server.get("/api/v1/terminal/officers", headers=units.terminal["C01"].headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dossier_retention_days"] == 365 and answer.headers["ETag"] == f'"{body["version"]}"'
    officer, = body["officers"]  # the disabled one and the other unit's are not sent
    assert (officer["code"], officer["name"], officer["counters"]) == ("NVA01", "Nguyễn Văn An", ["Quầy An Khánh 2"])
    assert check_pin("2468", officer["pin_hash"])
    assert base64.b64decode(officer["photo"]) == photo
    etag = answer.headers["ETag"]
    for sent in (etag, etag.strip('"'), f"W/{etag}", f'"other", {etag}'):
        again = units.server.get("/api/v1/terminal/officers",
                                 headers={**units.terminal["C01"].headers, "If-None-Match": sent})
        assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)
    units.server.post(f"/api/v1/officers/{first['id']}", json={"name": "Nguyễn Văn An (Tổ 1)"},
                      headers=units.headers("province_admin"))
    changed = units.server.get("/api/v1/terminal/officers",
                               headers={**units.terminal["C01"].headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["officers"][0]["name"] == "Nguyễn Văn An (Tổ 1)"
    other_unit = units.server.get("/api/v1/terminal/officers", headers=units.terminal["C02"].headers).json()
    assert [o["code"] for o in other_unit["officers"]] == ["NVB01"]


def test_renaming_a_counter_an_officer_is_limited_to_changes_the_version(units):
    from server.db import write_transaction
    from server.org_tree import apply_tree, parse_tree
    from officer_fixtures import TREE

    units.add_officer("U01", "NVA01", counters=["C03"])
    before = units.server.get("/api/v1/terminal/officers", headers=units.terminal["C01"].headers).json()
    with units.server.engine.connect() as conn, write_transaction(conn):
        apply_tree(conn, parse_tree(TREE.replace("Quầy An Khánh 2", "Quầy số 2")), now_ns=units.server.app.state.clock())
    after = units.server.get("/api/v1/terminal/officers", headers=units.terminal["C01"].headers).json()
    assert after["version"] != before["version"] and after["officers"][0]["counters"] == ["Quầy số 2"]


def test_only_a_device_token_fetches_the_terminal_list(units):
    assert units.server.get("/api/v1/terminal/officers").status_code == 401
    assert units.server.get("/api/v1/terminal/officers", headers=units.headers("province_admin")).status_code == 403


# -- who sees officers and dossiers in a pull ----------------------------------------------------------------

def _sees_officers(units, username: str, flag: bool) -> None:
    from server.db import write_transaction
    from server.people import find_account, set_role_scope

    with units.server.engine.connect() as conn, write_transaction(conn):
        account = find_account(conn, username=username)
        set_role_scope(conn, account.id, role=account.role, scope_node_id=account.scope_node_id, sees_officers=flag)


@pytest.mark.parametrize(("role", "flag", "fields"), [
    ("province_admin", False, {"officer_code", "officer_name", "dossier"}),
    ("unit_admin", False, {"officer_code", "officer_name", "dossier"}),
    ("inspector", False, {"officer_code", "officer_name", "dossier"}),
    ("viewer", False, set()),
    ("viewer", True, {"officer_code", "officer_name"}),
])
def test_a_pull_shows_officers_and_dossiers_only_to_those_who_may_see_them(units, role, flag, fields):
    from admin.client import RATING_FIELDS

    units.add_officer("U01", "NVA01", "Nguyễn Văn An")
    units.upload("C01", [units.rating("C01", officer="NVA01", dossier="HS-2026-000123"), units.rating("C01")])
    _sees_officers(units, role.replace("_", "."), flag)
    answer = units.server.get("/api/v1/ratings", headers=units.headers(role))
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["ratings"]
    assert set(first) == set(RATING_FIELDS) | fields
    shown = {"officer_code": "NVA01", "officer_name": "Nguyễn Văn An", "dossier": "HS-2026-000123"}
    assert {k: first[k] for k in fields} == {k: shown[k] for k in fields}
    assert {k: second[k] for k in fields} == dict.fromkeys(fields)
    table = list(csv.reader(io.StringIO(units.server.get("/api/v1/ratings", params={"format": "csv"},
                                                         headers=units.headers(role)).text.lstrip("\ufeff"))))
    assert table[0] == list(RATING_FIELDS) + [f for f in ("officer_code", "officer_name", "dossier") if f in fields]
    assert ("HS-2026-000123" in str(table)) == ("dossier" in fields)
    assert ("Nguyễn Văn An" in str(table)) == ("officer_name" in fields)
    entry = max(units.server.rows("audit_log", action="pull"), key=lambda row: row["id"])
    assert ('"with"' in entry["details"]) == bool(fields)


def test_kiosk_admin_pull_takes_a_page_with_the_officer_fields(units, tmp_path):
    from admin.client import fetch_page, make_session

    units.upload("C01", [units.rating("C01", officer="NVA01")])
    page = fetch_page(make_session(), units.server.url, units.tokens["unit_admin"], after=0)
    assert page.ratings[0]["officer_code"] == "NVA01" and page.last


# -- the "Cán bộ" page ---------------------------------------------------------------------------------------

def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_a_unit_admin_keeps_its_officers_on_the_page(units):
    session = log_in(units.server, units.people["unit_admin"])
    page = session.get(units.server.url + "/officers", timeout=30)
    assert page.status_code == 200 and "Phường An Khánh" in page.text and "Xã Bình Minh" not in page.text
    csrf = _csrf(page.text)
    made = session.post(units.server.url + "/officers/new", data={
        "csrf": csrf, "unit": f"#{units.node['U01']}", "code": "NVA01", "name": "Nguyễn Văn An",
        "counters": [f"#{units.node['C01']}"], "pin": "2468"}, allow_redirects=False, timeout=30)
    assert made.status_code == 303, made.text
    shown = session.get(units.server.url + made.headers["Location"], timeout=30).text
    assert "Nguyễn Văn An" in shown and "Có PIN" in shown and "Quầy An Khánh 1" in shown and "Đã thêm cán bộ" in shown
    officer_id = units.server.rows("officers")[0]["id"]
    photo = session.post(units.server.url + f"/officers/{officer_id}/photo", data={"csrf": csrf},
                         files={"photo": ("anh.png", picture("PNG"), "image/png")}, allow_redirects=False, timeout=30)
    assert photo.status_code == 303, photo.text
    image = session.get(units.server.url + f"/officers/{officer_id}/photo", timeout=30)
    assert (image.status_code, image.headers["Content-Type"], image.content) == (200, "image/png", picture("PNG"))
    bad = session.post(units.server.url + f"/officers/{officer_id}/photo", data={"csrf": csrf},
                       files={"photo": ("anh.gif", picture("GIF"), "image/gif")}, timeout=30)
    assert bad.status_code == 422 and "JPEG" in bad.text
    pin = session.post(units.server.url + f"/officers/{officer_id}/pin", data={"csrf": csrf, "pin": "12"}, timeout=30)
    assert pin.status_code == 422 and "4–8 chữ số" in pin.text
    disabled = session.post(units.server.url + f"/officers/{officer_id}/edit", data={
        "csrf": csrf, "name": "Nguyễn Văn An", "active": "0"}, allow_redirects=False, timeout=30)
    assert disabled.status_code == 303
    assert not units.server.rows("officers")[0]["active"]
    assert [e["action"] for e in units.server.rows("audit_log") if e["action"].startswith("officer")] == [
        "officer_create", "officer_change", "officer_change"]


def test_readers_see_the_page_without_forms_and_others_not_at_all(units):
    units.add_officer("U01", "NVA01", "Nguyễn Văn An")
    inspector = log_in(units.server, units.people["inspector"]).get(units.server.url + "/officers", timeout=30)
    assert inspector.status_code == 200 and "Nguyễn Văn An" in inspector.text and 'action="/officers/new"' not in inspector.text
    for role in ("viewer", "technician"):
        assert log_in(units.server, units.people[role]).get(units.server.url + "/officers", timeout=30).status_code == 403
    _sees_officers(units, "viewer", True)
    viewer = log_in(units.server, units.people["viewer"]).get(units.server.url + "/officers", timeout=30)
    assert viewer.status_code == 200 and "Nguyễn Văn An" in viewer.text and "/edit" not in viewer.text


def test_an_admin_gives_a_viewer_the_officers_on_the_accounts_page(units):
    session = log_in(units.server, units.people["unit_admin"])
    csrf = _csrf(session.get(units.server.url + "/accounts", timeout=30).text)
    viewer = units.people["viewer"]
    answer = session.post(units.server.url + f"/accounts/{viewer.id}/role", data={
        "csrf": csrf, "role": "viewer", "scope": "U01", "sees_officers": "1"}, allow_redirects=False, timeout=30)
    assert answer.status_code == 303, answer.text
    row, = units.server.rows("accounts", id=viewer.id)
    assert row["sees_officers"]
    entry = units.server.rows("audit_log", action="role_change")[-1]
    assert '"sees_officers":true' in entry["details"]
    pulled = units.server.get("/api/v1/ratings", headers=units.headers("viewer"))
    assert pulled.status_code == 200


def test_create_account_makes_a_viewer_that_sees_officers(units, server_db_url, capsys, monkeypatch):
    from test_people_cli import run

    for name in ("HAILONG_DB_URL", "HAILONG_SERVER_DB"):
        monkeypatch.delenv(name, raising=False)
    password = "một câu thật dài làm mật khẩu"
    code, out, err = run(capsys, monkeypatch, "create-account", "xem.can.bo", "--role", "viewer", "--scope", "U01",
                         "--sees-officers", "--password-stdin", "--db", server_db_url, stdin=password + "\n")
    assert code == 0, err
    row, = units.server.rows("accounts", username="xem.can.bo")
    assert row["sees_officers"]
    entry = units.server.rows("audit_log", action="account_create")[-1]
    assert '"sees_officers":true' in entry["details"]
    code, _out, err = run(capsys, monkeypatch, "create-account", "ky.thuat.2", "--role", "technician", "--scope", "U01",
                          "--sees-officers", "--password-stdin", "--db", server_db_url, stdin=password + "\n")
    assert code == 2 and "--sees-officers" in err

"""The audit trail (issue 11 §3): what is recorded and by whom, the hash chain and its check, reading it.

Every test runs on SQLite and PostgreSQL. Tampering is done the way an
intruder with the database's password would: plain SQL on the table.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import re
import requests
from sqlalchemy import select, text, update

from cli_helpers import run_main
from dashboard_fixtures import dash, log_in, login_form, post_login  # noqa: F401 (dash: a fixture)
from server.audit import ACTION_LABELS_VI, ACTIONS, GENESIS, Actor, entry_hash, record
from server.cli import main
from server.db import open_engine, write_transaction
from server.schema import audit_log
from server.settings import Settings
from server_fixtures import *  # noqa: F403

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("no_server_settings")


@pytest.fixture
def engine(server_db_url):
    engine = open_engine(Settings(db_url=server_db_url))
    yield engine
    engine.dispose()


def run(args, capsys):
    return run_main(main, args, capsys)


def entries(engine, *, starts: bool = False) -> list[dict]:
    """The trail, oldest first; without the ``settings_change`` that each app's start may record unless ``starts``."""
    with engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()]
    return [r for r in rows if starts or r["action"] != "settings_change"]


def append(engine, n: int, *, actor: str = "tester", now_ns: int | None = None) -> None:
    for i in range(n):
        with engine.connect() as conn, write_transaction(conn):
            record(conn, actor=Actor(actor, role="admin"), action="export", subject=f"report {i}", rows=i,
                   details={"format": "csv", "i": i}, address="10.0.0.7", now_ns=now_ns)


def verify(db_url: str, capsys, *more: str):
    return run(["audit", "verify", "--db", db_url, *more], capsys)


# -- the vocabulary and the rules of record() ----------------------------------------------------------

def test_every_action_has_a_vietnamese_label():
    assert set(ACTION_LABELS_VI) == set(ACTIONS)


def test_record_refuses_an_unknown_action_and_a_connection_outside_write_transaction(engine):
    with engine.connect() as conn, write_transaction(conn), pytest.raises(ValueError, match="vocabulary"):
        record(conn, actor=Actor("x"), action="loggedin")
    with engine.connect() as conn, pytest.raises(RuntimeError, match="write_transaction"):
        record(conn, actor=Actor("x"), action="login")
    assert entries(engine) == []


def test_entries_are_numbered_and_chained_from_genesis(engine):
    append(engine, 3)
    rows = entries(engine)
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert rows[0]["prev_hash"] == GENESIS
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    assert all(entry_hash(r) == r["hash"] for r in rows)
    assert json.loads(rows[2]["details"]) == {"format": "csv", "i": 2} and rows[2]["row_count"] == 2


def test_an_entry_commits_with_its_action_or_not_at_all(engine):
    with pytest.raises(ZeroDivisionError):
        with engine.connect() as conn, write_transaction(conn):
            record(conn, actor=Actor("x"), action="revoke", subject="t-1")
            1 / 0  # the action fails after the entry was written: both roll back
    assert entries(engine) == []


# -- what is recorded, by whom -------------------------------------------------------------------------

def test_cli_actions_are_recorded_with_the_cli_as_actor(server_db_url, capsys, start_server):
    server = start_server()
    assert run(["admin-token", "--name", "Phòng Nội vụ", "--db", server_db_url], capsys)[0] == 0
    status, out, err = run(["enroll-code", "--site", "UBND phường Phúc La", "--counter", "Quầy 3", "--count", "2",
                            "--db", server_db_url], capsys)
    assert status == 0, err
    code = out.split()[0]
    answer = server.post("/api/v1/enroll", json={"code": code})
    assert answer.status_code == 201
    terminal_id = answer.json()["terminal_id"]
    assert run(["revoke", terminal_id, "--db", server_db_url], capsys)[0] == 0
    assert run(["revoke-admin", "--name", "Phòng Nội vụ", "--db", server_db_url], capsys)[0] == 0
    assert run(["revoke-admin", "--name", "Phòng Nội vụ", "--db", server_db_url], capsys)[0] == 1  # none left
    assert run(["revoke", "no-such-terminal", "--db", server_db_url], capsys)[0] == 1

    rows = entries(server.engine)
    assert [(r["action"], r["subject"], r["row_count"]) for r in rows] == [
        ("token_issue", "Phòng Nội vụ", None), ("enroll_code", "UBND phường Phúc La / Quầy 3", 2),
        ("enroll", terminal_id, None), ("revoke", terminal_id, None), ("token_revoke", "Phòng Nội vụ", 1)]
    cli = [r for r in rows if r["action"] != "enroll"]
    assert all(r["actor"].startswith("kiosk-server CLI (") and "@" in r["actor"] and r["role"] == "cli"
               for r in cli)
    enrolled = rows[2]
    assert enrolled["actor"] == terminal_id and enrolled["role"] == "terminal" and enrolled["address"] == "127.0.0.1"
    # The enrolment names the code by its hash prefix, as the code's issue did; never the code itself.
    assert json.loads(enrolled["details"])["code"] in json.loads(rows[1]["details"])["codes"]
    assert code not in repr(rows)


def test_pulls_are_recorded_per_page_with_rows_and_cursors(server):
    terminal = server.enroll()
    server.upload(terminal, make_batch([make_rating(terminal.id, monotonic_ns=i) for i in range(30)]))
    headers = server.admin_headers()
    after, pages = 0, 0
    while after is not None:
        body = server.get("/api/v1/ratings", params={"after": after, "limit": 20}, headers=headers).json()
        after, pages = body["next"], pages + 1
    last = body["ratings"][-1]["cursor"]
    empty = server.get("/api/v1/ratings", params={"after": last}, headers=headers)
    assert empty.status_code == 200 and empty.json()["ratings"] == []
    pulls = [r for r in entries(server.engine) if r["action"] == "pull"]
    assert [(r["actor"], r["role"], r["row_count"]) for r in pulls] == [("test admin", "province_admin", 20),
                                                                        ("test admin", "province_admin", 10)]
    first, second = (json.loads(r["details"]) for r in pulls)
    # A province admin is served the officers' and dossiers' fields too (issue 12): the entry names them.
    assert first == {"after": 0, "next": first["next"], "limit": 20, "format": "json",
                     "with": ["officer_code", "officer_name", "dossier"]} and first["next"]
    assert second["after"] == first["next"] and second["next"] is None
    assert all(r["address"] == "127.0.0.1" for r in pulls)


def test_a_token_of_an_account_is_recorded_with_its_account_role_and_scope(server):
    from server.schema import accounts, admin_tokens, nodes

    token = server.admin_token("Chị Lan")
    with server.engine.connect() as conn, write_transaction(conn):
        now = "2026-12-02T09:00:00.000Z"
        province = conn.execute(nodes.insert().values(kind="province", name="Hà Nội", created_at=now,
                                                  updated_at=now).returning(nodes.c.id)).scalar_one()
        account = conn.execute(accounts.insert().values(
            username="lan", display_name="Chị Lan", role="viewer", scope_node_id=province, created_at=now,
            must_change_password=False, failed_logins=0).returning(accounts.c.id)).scalar_one()
        conn.execute(update(admin_tokens).where(admin_tokens.c.name == "Chị Lan").values(account_id=account))
    terminal = server.enroll()
    server.upload(terminal, make_batch([make_rating(terminal.id)]))
    assert server.get("/api/v1/ratings", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    pull, = [r for r in entries(server.engine) if r["action"] == "pull"]
    assert (pull["actor"], pull["actor_account_id"], pull["role"], pull["scope_node_id"], pull["row_count"]) == \
        ("lan", account, "viewer", province, 1)  # the account's user name, whatever the token's name


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_report_exports_through_the_api_are_recorded_with_filters_and_counts(server, fmt):
    terminal = server.enroll()
    server.upload(terminal, make_batch([make_rating(terminal.id, monotonic_ns=i) for i in range(7)]
                                       + [make_rating(terminal.id, monotonic_ns=99, filtered=1)]))
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()  # the ratings are dated by the server's real clock
    start, end = (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()
    answer = server.get("/api/v1/reports/summary", params={"period": "range", "start": start, "end": end,
                                                           "format": fmt, "site": TERMINAL_SITE},
                        headers=server.admin_headers())
    assert answer.status_code == 200
    export, = [r for r in entries(server.engine) if r["action"] == "export"]
    assert (export["actor"], export["subject"], export["row_count"]) == ("test admin", "report", 7)
    details = json.loads(export["details"])
    assert details["format"] == fmt and details["site"] == TERMINAL_SITE and details["first_day"] == start
    # A refused request exports nothing and records nothing.
    bad = server.get("/api/v1/reports/summary", params={"period": "range"}, headers=server.admin_headers())
    assert bad.status_code == 422
    assert len([r for r in entries(server.engine) if r["action"] == "export"]) == 1


def test_dashboard_logins_logouts_and_downloads_are_recorded(dash):
    lan = dash.person("chi.lan", display_name="Chị Lan")
    assert post_login(dash, requests.Session(), lan, password="not her password").status_code == 401
    browser = log_in(dash, lan)
    assert browser.get(dash.url + "/export/fleet.csv", timeout=30).status_code == 200
    assert browser.get(dash.url + "/export/report.xlsx", params={"period": "day"}, timeout=30).status_code == 200
    page = browser.get(dash.url + "/audit", timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert browser.post(dash.url + "/logout", data={"csrf": csrf}, allow_redirects=False,
                        timeout=30).status_code == 303
    rows = entries(dash.engine)
    assert [(r["action"], r["actor"], r["role"], r["subject"], r["row_count"]) for r in rows] == [
        ("login_failed", "chi.lan", "province_admin", "dashboard", None),
        ("login", "chi.lan", "province_admin", "dashboard", None),
        ("export", "chi.lan", "province_admin", "fleet", 0), ("export", "chi.lan", "province_admin", "report", 0),
        ("logout", "chi.lan", "province_admin", "dashboard", None)]
    assert json.loads(rows[0]["details"]) == {"why": "wrong_password", "locked_for_s": 0}
    assert json.loads(rows[1]["details"])["session"] == json.loads(rows[4]["details"])["session"]
    assert all(r["address"] == "127.0.0.1" and r["at"] == rows[0]["at"] for r in rows)  # the app's (fake) clock
    assert lan.password not in repr(rows) and "not her password" not in repr(rows)


def test_a_failed_login_names_the_account_only_when_there_is_one(dash, capsys):
    """A user name that is no account's is not written down: it may be a password typed in the wrong box."""
    dash.person("anh.minh")
    for username in ("anh.minh", "mật khẩu gõ nhầm ô"):
        session = requests.Session()
        csrf = login_form(dash, session)
        assert session.post(dash.url + "/login", data={"username": username, "password": "x" * 12, "csrf": csrf},
                            allow_redirects=False, timeout=30).status_code == 401
    known, unknown = entries(dash.engine)
    assert (known["action"], known["actor"], json.loads(known["details"])["why"]) == \
        ("login_failed", "anh.minh", "wrong_password")
    assert (unknown["actor"], json.loads(unknown["details"])["why"]) == ("(unknown)", "unknown")
    assert "gõ nhầm" not in repr(entries(dash.engine))


# -- the chain and its check ---------------------------------------------------------------------------

def swap(conn, a: int, b: int) -> None:
    """Exchange every column but the id of entries ``a`` and ``b``."""
    rows = {r["id"]: dict(r) for r in conn.execute(select(audit_log).where(audit_log.c.id.in_([a, b]))).mappings()}
    for here, there in ((a, b), (b, a)):
        values = {k: v for k, v in rows[there].items() if k != "id"}
        conn.execute(update(audit_log).where(audit_log.c.id == here).values(**values))


TAMPERING = {
    "edited": (lambda conn: conn.execute(text("UPDATE audit_log SET details = :d WHERE id = 3"),
                                         {"d": '{"format":"pdf","i":2}'}), 3, "entry 3 was edited"),
    "edited_rows": (lambda conn: conn.execute(text("UPDATE audit_log SET row_count = 0 WHERE id = 5")), 5,
                    "entry 5 was edited"),
    "deleted": (lambda conn: conn.execute(text("DELETE FROM audit_log WHERE id = 3")), 4,
                "entry 3 is missing before entry 4: deleted"),
    "deleted_two": (lambda conn: conn.execute(text("DELETE FROM audit_log WHERE id IN (2, 3)")), 4,
                    "entries 2..3 are missing"),
    "reordered": (lambda conn: swap(conn, 3, 4), 3, "entry 3 was written after the entry now numbered 4"),
    "replaced": (None, 4, "entry 4 is intact but was chained to another entry than the present entry 3"),
}


def rewrite_with_recomputed_hash(conn) -> None:
    """An intruder who knows the algorithm: edits entry 3 and gives it a hash that fits (entry 4 still points at
    the old one)."""
    row = dict(conn.execute(select(audit_log).where(audit_log.c.id == 3)).mappings().one())
    row["actor"] = "someone else"
    conn.execute(update(audit_log).where(audit_log.c.id == 3).values(actor="someone else", hash=entry_hash(row)))


def test_an_intact_chain_verifies_and_prints_its_head(engine, server_db_url, capsys):
    status, out, err = verify(server_db_url, capsys)
    assert (status, out.strip()) == (0, "0 entries, chain intact")
    append(engine, 6)
    status, out, err = verify(server_db_url, capsys)
    head = entries(engine)[-1]
    assert status == 0, err
    assert out.splitlines()[0] == "6 entries, chain intact"
    assert f"head: 6:{head['hash']}" in out


@pytest.mark.parametrize("how", list(TAMPERING))
def test_tampering_is_detected_and_the_first_broken_entry_named(engine, server_db_url, capsys, how):
    append(engine, 6)
    tamper, broken_id, words = TAMPERING[how]
    with engine.connect() as conn, write_transaction(conn):
        (tamper or rewrite_with_recomputed_hash)(conn)
    status, out, err = verify(server_db_url, capsys)
    assert status == 1, out
    kind = how.split("_")[0]
    assert f"audit trail broken at entry {broken_id} ({kind}): " in err, err
    assert words in err
    assert out == "" and "Traceback" not in err


def test_a_deleted_last_entry_shows_only_against_a_recorded_head(engine, server_db_url, capsys):
    append(engine, 5)
    anchor = f"5:{entries(engine)[-1]['hash']}"
    assert verify(server_db_url, capsys, "--anchor", anchor)[0] == 0
    with engine.connect() as conn, write_transaction(conn):
        conn.execute(text("DELETE FROM audit_log WHERE id >= 4"))
    status, out, _err = verify(server_db_url, capsys)
    assert status == 0 and out.startswith("3 entries, chain intact")  # the chain alone cannot tell
    status, _out, err = verify(server_db_url, capsys, "--anchor", anchor)
    assert status == 1
    assert "the trail ends at entry 3, but entry 5 was written down: the last 2 entries or more were deleted" in err
    append(engine, 2)  # appended again, so entry 5 exists, but it is not the one written down
    status, _out, err = verify(server_db_url, capsys, "--anchor", anchor)
    assert status == 1 and "entry 5 is not the one written down" in err


@pytest.mark.parametrize("anchor", ["5", "5:abc", "x:" + "a" * 64, "0:" + "a" * 64])
def test_a_malformed_anchor_exits_2_naming_the_option(engine, server_db_url, capsys, anchor):
    status, _out, err = verify(server_db_url, capsys, "--anchor", anchor)
    assert status == 2 and "--anchor" in err and "ID:HASH" in err


def test_verify_of_a_missing_sqlite_file_exits_2(tmp_path, capsys):
    status, _out, err = verify(f"sqlite:///{tmp_path / 'none.db'}", capsys)
    assert status == 2 and "there is no database" in err


# -- concurrency -----------------------------------------------------------------------------------------

def test_concurrent_appends_from_many_threads_keep_one_chain(engine, server_db_url, capsys):
    threads = [threading.Thread(target=append, args=(engine, 15), kwargs={"actor": f"thread {i}"})
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = entries(engine)
    assert [r["id"] for r in rows] == list(range(1, 121))
    assert {r["actor"] for r in rows} == {f"thread {i}" for i in range(8)}
    status, out, _err = verify(server_db_url, capsys)
    assert status == 0 and out.startswith("120 entries, chain intact")


APPENDER = """
import sys, time
from server.audit import Actor, record
from server.db import open_engine, write_transaction
from server.settings import Settings
engine = open_engine(Settings(db_url=sys.argv[1]), migrate_schema=False)
while time.time() < float(sys.argv[3]):
    time.sleep(0.001)
for i in range(int(sys.argv[2])):
    with engine.connect() as conn, write_transaction(conn):
        record(conn, actor=Actor(f"process {sys.argv[4]}"), action="pull", subject="ratings", rows=i)
engine.dispose()
"""


def test_two_processes_appending_at_once_keep_one_chain(engine, server_db_url, capsys):
    go = time.time() + 3  # both have imported and connected by then; they start appending together
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [subprocess.Popen([sys.executable, "-c", APPENDER, server_db_url, "60", str(go), str(n)], env=env,
                                 cwd=ROOT, stderr=subprocess.PIPE, text=True) for n in (1, 2)]
    for child in children:
        assert child.wait(timeout=120) == 0, child.stderr.read()
    rows = entries(engine)
    assert len(rows) == 120 and [r["id"] for r in rows] == list(range(1, 121))
    by_process = [r["actor"] for r in rows]
    assert by_process.count("process 1") == by_process.count("process 2") == 60
    status, out, _err = verify(server_db_url, capsys)
    assert status == 0 and out.startswith("120 entries, chain intact")


# -- reading it: the API, the CLI, the dashboard --------------------------------------------------------

def test_the_api_pages_the_trail_by_id_as_json_and_csv(server):
    append(server.engine, 25)
    headers = server.admin_headers()
    got, after = [], 0
    while after is not None:
        answer = server.get("/api/v1/audit", params={"after": after, "limit": 10}, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        got += body["entries"]
        after = body["next"]
    assert [e["id"] for e in got] == list(range(1, 27))  # 1: the server's start (settings_change)
    assert got[0]["action"] == "settings_change"
    assert got[5]["details"] == {"format": "csv", "i": 4} and got[5]["rows"] == 4 and got[5]["actor"] == "tester"
    answer = server.get("/api/v1/audit", params={"after": 21, "limit": 10, "format": "csv"}, headers=headers)
    assert answer.headers["X-Next-Cursor"] == ""
    table = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [int(r["id"]) for r in table] == [22, 23, 24, 25, 26]
    assert json.loads(table[0]["details"]) == {"format": "csv", "i": 20}
    assert table[-1]["hash"] == got[-1]["hash"]
    # Reading the trail adds nothing to it (each read would add the entry the next read returns).
    assert len(entries(server.engine)) == 25


def test_the_api_filters_and_refuses_bad_input(server):
    append(server.engine, 3, actor="Chị Lan")
    headers = server.admin_headers()
    got = server.get("/api/v1/audit", params={"actor": "lan", "action": "export"}, headers=headers).json()  # any case
    assert len(got["entries"]) == 3
    assert server.get("/api/v1/audit", params={"action": "login"}, headers=headers).json()["entries"] == []
    future = server.get("/api/v1/audit", params={"since": "2999-01-01"}, headers=headers).json()
    assert future["entries"] == []
    bad = server.get("/api/v1/audit", params={"since": "yesterday"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "since" and "not a date" in bad.json()["error"]
    assert server.get("/api/v1/audit", params={"action": "nothing"}, headers=headers).status_code == 422
    assert server.get("/api/v1/audit").status_code == 401


def test_cli_list_and_export(engine, server_db_url, capsys, tmp_path):
    append(engine, 3, actor="Chị Lan")
    status, out, _err = run(["audit", "list", "--limit", "2", "--db", server_db_url], capsys)
    assert status == 0 and len(out.splitlines()) == 2 and out.startswith("3  ")
    assert "Chị Lan" in out and "2 rows" in out
    status, out, err = run(["audit", "export", "--format", "json", "--db", server_db_url], capsys)
    assert status == 0, err
    exported = json.loads(out)
    assert [e["id"] for e in exported] == [1, 2, 3] and "3 audit entries written as json" in err
    target = tmp_path / "audit.csv"
    status, _out, err = run(["audit", "export", "--since", "2000-01-01", "--output", str(target),
                             "--db", server_db_url], capsys)
    assert status == 0, err
    table = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert [r["id"] for r in table] == ["1", "2", "3", "4"]  # the first export's own entry is 4
    exports = [r for r in entries(engine) if r["subject"] == "audit"]
    assert [(r["action"], r["row_count"]) for r in exports] == [("export", 3), ("export", 4)]
    assert run(["audit", "export", "--since", "soon", "--db", server_db_url], capsys)[0] == 2
    assert verify(server_db_url, capsys)[0] == 0


def test_the_dashboard_page_lists_filters_and_exports(dash):
    browser = log_in(dash, dash.person("chi.lan"))
    append(dash.engine, 3, actor="Anh Minh", now_ns=dash.clock())
    page = browser.get(dash.url + "/audit", timeout=30)
    assert page.status_code == 200
    assert "Nhật ký hoạt động" in page.text and 'aria-current="page">Nhật ký' in page.text
    for entry_id in (1, 2, 3, 4, 5):  # 1: the server's start, 2: the login, 3-5: Anh Minh's
        assert f'id="entry-{entry_id}"' in page.text
    assert page.text.index('id="entry-5"') < page.text.index('id="entry-2"')  # newest first
    assert 'id="audit-head">#5<' in page.text
    logins = browser.get(dash.url + "/audit", params={"action": "login"}, timeout=30).text
    assert 'id="entry-2"' in logins and 'id="entry-3"' not in logins
    by_actor = browser.get(dash.url + "/audit", params={"actor": "Minh"}, timeout=30).text
    assert 'id="entry-2"' not in by_actor and 'id="entry-5"' in by_actor
    today = browser.get(dash.url + "/audit", params={"start": "2026-11-25", "end": "2026-11-25"}, timeout=30).text
    assert 'id="entry-5"' in today  # the fake clock is 25/11/2026 16:30 in Hà Nội
    assert 'id="entry-5"' not in browser.get(dash.url + "/audit", params={"end": "2026-11-24"}, timeout=30).text
    bad = browser.get(dash.url + "/audit", params={"start": "hôm qua"}, timeout=30)
    assert bad.status_code == 422 and "Ngày không hợp lệ" in bad.text
    download = browser.get(dash.url + "/export/audit.csv", params={"actor": "Minh"}, timeout=30)
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["Số", "Thời điểm (UTC)", "Người thực hiện"] and [r[0] for r in table[1:]] == ["3", "4", "5"]
    last = entries(dash.engine)[-1]
    assert (last["action"], last["actor"], last["subject"], last["row_count"]) == ("export", "chi.lan", "audit", 3)


def test_the_dashboard_page_pages_back_in_time(dash):
    browser = log_in(dash, dash.person())
    append(dash.engine, 120, now_ns=dash.clock())
    first = browser.get(dash.url + "/audit", timeout=30).text
    assert 'id="entry-122"' in first and 'id="entry-23"' in first and 'id="entry-22"' not in first
    older = re.search(r'href="(/audit\?[^"]*before=23)"', first)
    assert older, "no link to older entries"
    second = browser.get(dash.url + older.group(1).replace("&amp;", "&"), timeout=30).text
    assert 'id="entry-22"' in second and 'id="entry-1"' in second and 'id="entry-23"' not in second


# -- settings changes: recorded at the start that brings them ------------------------------------------------

def test_a_start_records_the_settings_once_and_then_only_their_changes(server_db_url):
    from server import create_app

    def start(**settings):
        app = create_app(Settings(db_url=server_db_url, alert_check_interval_s=0, **settings))
        app.state.engine.dispose()

    start(dashboard_secret="s" * 40)
    start(dashboard_secret="s" * 40)  # the same settings: nothing new
    start(dashboard_secret="t" * 40, timezone="Asia/Bangkok", alert_webhook_url="https://hooks.example/k3y")
    engine = open_engine(Settings(db_url=server_db_url))
    try:
        first, second = entries(engine, starts=True)
    finally:
        engine.dispose()
    assert first["action"] == second["action"] == "settings_change"
    assert first["actor"].startswith("kiosk-server serve (") and first["role"] == "server"
    assert json.loads(first["details"])["changed"] is None and json.loads(first["details"])["settings"]["port"] == 8080
    changed = json.loads(second["details"])["changed"]
    assert set(changed) == {"dashboard_secret", "timezone", "alert_webhook_url"}
    assert changed["timezone"] == ["Asia/Ho_Chi_Minh", "Asia/Bangkok"]
    assert changed["dashboard_secret"][1].startswith("sha256:") and changed["alert_webhook_url"][0] == ""
    for secret in ("s" * 40, "t" * 40, "k3y"):
        assert secret not in first["details"] + second["details"]

"""``kiosk-admin pull``: every format holds exactly the server's ratings, pull after pull.

A real server (uvicorn on loopback, SQLite and PostgreSQL) with a small page
cap, so every pull walks several pages; each pulled file is opened back with
its own reader and compared field by field with what the server serves.
"""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest

from server_fixtures import *  # noqa: F403
from admin import client
from admin.client import RATING_FIELDS, PullError
from admin.pulled import excel
from admin.pulling import pull_ratings

FORMATS = ["db", "csv", "xlsx", "jsonl"]
INTEGER_FIELDS = ("cursor", "filtered", "monotonic_ns", "clock_synced")
PAGE_MAX = 7


def seed(server, terminals, n, *, start=0) -> list[dict]:
    """``n`` ratings spread over ``terminals``: every level, reasons given and skipped, filtered presses."""
    sent = []
    for i in range(start, start + n):
        terminal = terminals[i % len(terminals)]
        kind = i % 5
        fields = {"monotonic_ns": 6_000_000_000 + i * 1_000_000,
                  "created_at": f"2026-11-25T{8 + i % 9:02d}:{i % 60:02d}:12.345Z"}
        if kind == 0:
            fields.update(rating="very_satisfied")
        elif kind == 1:
            fields.update(rating="dissatisfied", reason="processing_time", reason_outcome="given")
        elif kind == 2:
            fields.update(rating="dissatisfied", reason_outcome="skipped")
        elif kind == 3:
            fields.update(rating="very_satisfied", filtered=1, source="touch")
        sent.append(make_rating(terminal.id, **fields))
    for begin in range(0, len(sent), 50):
        answer = server.upload(terminals[0], make_batch([r for r in sent[begin:begin + 50]
                                                         if r["terminal_id"] == terminals[0].id]))
        assert answer.status_code == 200, answer.text
        for other in terminals[1:]:
            answer = server.upload(other, make_batch([r for r in sent[begin:begin + 50]
                                                      if r["terminal_id"] == other.id]))
            assert answer.status_code == 200, answer.text
    return sent


def fleet(server):
    """Two terminals: a Vietnamese site with a counter, another with none (null) and one like a formula."""
    return [server.enroll(), server.enroll(site="=HYPERLINK(\"x\") Bộ phận Một cửa", counter=None)]


def served_rows(server, token) -> list[dict]:
    """Every rating as the server serves it (JSON types), in cursor order, with the fields of officers and dossiers
    (issue 12) empty where the token's role may not see them, as the pulled files hold them."""
    rows, after = [], 0
    while True:
        body = server.get("/api/v1/ratings", params={"after": after},
                          headers={"Authorization": f"Bearer {token}"}).json()
        rows += [{**dict.fromkeys(client.OPTIONAL_FIELDS), **r} for r in body["ratings"]]
        if body["next"] is None:
            return rows
        after = body["next"]


def as_typed(field: str) -> str:
    """A pulled CSV's text field as it was typed: the pull puts ``'`` before a text a spreadsheet would
    read as a formula (a site named "=…")."""
    return field[1:] if field.startswith("'") and field[1:2] in ("=", "+", "-", "@", "\t", "\r") else field


def read_back(path) -> list[dict]:
    """The ratings in a pulled file, read with the format's own reader, typed like the server's JSON."""
    suffix = path.suffix
    if suffix == ".db":
        conn = sqlite3.connect(path)
        conn.row_factory = sqlite3.Row
        try:
            columns = [row[1] for row in conn.execute("PRAGMA table_info(ratings)")]
            assert tuple(columns) == client.PULLED_FIELDS
            return [dict(row) for row in conn.execute("SELECT * FROM ratings ORDER BY rowid")]
        finally:
            conn.close()
    if suffix == ".csv":
        raw = path.read_bytes()
        assert raw.startswith("\ufeff".encode()) and raw.count(b"\r\ncursor,") == 0
        reader = csv.reader(raw.decode("utf-8-sig").splitlines())
        assert tuple(next(reader)) == client.PULLED_FIELDS
        return [{name: (int(value) if name in INTEGER_FIELDS else as_typed(value)) if value != "" else None
                 for name, value in zip(client.PULLED_FIELDS, row)} for row in reader]
    if suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path)
        sheet = book.worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == client.PULLED_FIELDS
        for row in sheet.iter_rows(min_row=2):
            assert all(cell.data_type != "f" for cell in row)  # "=…" site names stay text
        return [dict(zip(client.PULLED_FIELDS, row)) for row in rows[1:]]
    raise AssertionError(suffix)


@pytest.fixture
def paged_server(start_server):
    return start_server(ratings_page_max=PAGE_MAX)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_holds_exactly_the_servers_rows(paged_server, tmp_path, fmt):
    server = paged_server
    sent = seed(server, fleet(server), 23)
    token = server.admin_token()
    out = tmp_path / f"ratings.{fmt}"
    pages = []
    summary = pull_ratings(out, server.url, token, when_page=pages.append)
    served = served_rows(server, token)
    assert len(served) == 23 and {r["id"] for r in served} == {r["id"] for r in sent}
    assert read_back(out) == served  # every field, in cursor order
    assert (summary.added, summary.total, summary.last_cursor) == (23, 23, served[-1]["cursor"])
    assert sum(pages) == 23 and len(pages) == 4  # 7 + 7 + 7 + 2
    filtered = [r for r in read_back(out) if r["filtered"] == 1]
    assert len(filtered) == len([r for r in sent if r["filtered"]]) > 0  # auditors see the filtered presses
    assert {r["counter"] for r in read_back(out)} == {TERMINAL_COUNTER, None}
    assert TERMINAL_SITE in {r["site"] for r in read_back(out)}
    assert all(r["received_at"] and r["corrected_at"] and r["time_quality"] for r in read_back(out))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_later_pull_appends_only_what_is_new(paged_server, tmp_path, fmt):
    server = paged_server
    terminals = fleet(server)
    seed(server, terminals, 10)
    token = server.admin_token()
    out = tmp_path / f"ratings.{fmt}"
    first = pull_ratings(out, server.url, token)
    assert first.added == 10
    seed(server, terminals, 9, start=10)
    second = pull_ratings(out, server.url, token)
    assert (second.added, second.total) == (9, 19)
    again = pull_ratings(out, server.url, token)  # nothing new: nothing written
    assert (again.added, again.total, again.last_cursor) == (0, 19, second.last_cursor)
    rows = read_back(out)
    assert rows == served_rows(server, token)
    assert len({r["id"] for r in rows}) == len(rows) == 19


def test_an_empty_server_gives_an_empty_file_that_a_later_pull_fills(paged_server, tmp_path):
    server = paged_server
    token = server.admin_token()
    out = tmp_path / "ratings.csv"
    assert pull_ratings(out, server.url, token).added == 0
    assert read_back(out) == []
    seed(server, fleet(server), 3)
    assert pull_ratings(out, server.url, token).added == 3
    assert read_back(out) == served_rows(server, token)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_from_another_server_is_refused(paged_server, tmp_path, fmt):
    server = paged_server
    seed(server, fleet(server), 3)
    token = server.admin_token()
    out = tmp_path / f"ratings.{fmt}"
    pull_ratings(out, server.url, token)
    before = out.read_bytes()
    other = server.url.replace("127.0.0.1", "localhost")
    with pytest.raises(PullError, match="pulled from .* not "):
        pull_ratings(out, other, token)
    assert out.read_bytes() == before


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx", "db"])
def test_a_file_not_made_by_pull_is_refused(server, tmp_path, fmt):
    out = tmp_path / f"mine.{fmt}"
    out.write_bytes(b"my own notes\n")
    with pytest.raises(PullError, match="mine"):
        pull_ratings(out, server.url, server.admin_token())
    assert out.read_bytes() == b"my own notes\n"


def test_a_database_of_something_else_is_left_alone(server, tmp_path):
    out = tmp_path / "accounts.db"
    conn = sqlite3.connect(out)
    conn.execute("CREATE TABLE ledger (amount INTEGER)")
    conn.close()
    before = out.read_bytes()
    with pytest.raises(PullError, match="accounts.db is a database that kiosk-admin pull did not make"):
        pull_ratings(out, server.url, server.admin_token())
    assert out.read_bytes() == before


def test_excel_refuses_a_pull_past_its_row_limit_and_keeps_the_old_workbook(paged_server, tmp_path,
                                                                             monkeypatch):
    server = paged_server
    terminals = fleet(server)
    seed(server, terminals, 5)
    token = server.admin_token()
    out = tmp_path / "ratings.xlsx"
    pull_ratings(out, server.url, token)
    before = read_back(out)
    seed(server, terminals, 9, start=5)
    monkeypatch.setattr(excel, "MAX_RATINGS", 12)  # Excel's 1,048,575, scaled down
    with pytest.raises(PullError, match="at most 12 ratings.*pull into a .db or .csv"):
        pull_ratings(out, server.url, token)
    assert read_back(out) == before
    assert not (tmp_path / "ratings.xlsx.partial").exists()


def test_the_column_list_is_the_servers():
    from server.models import RATING_OUTPUT_FIELDS, RatingOut

    assert RATING_FIELDS == RATING_OUTPUT_FIELDS
    from server.models import DOSSIER_OUTPUT_FIELDS, OFFICER_OUTPUT_FIELDS

    assert client.OPTIONAL_FIELDS == OFFICER_OUTPUT_FIELDS + DOSSIER_OUTPUT_FIELDS
    integer = {name for name, field in RatingOut.model_fields.items() if field.annotation is int}
    assert integer == set(INTEGER_FIELDS) == set(client.INTEGER_FIELDS)


def test_a_workbook_resaved_without_its_properties_continues_from_its_pull_state_sheet(paged_server, tmp_path):
    from openpyxl import load_workbook
    from openpyxl.packaging.custom import CustomPropertyList

    server = paged_server
    terminals = fleet(server)
    seed(server, terminals, 6)
    token = server.admin_token()
    out = tmp_path / "ratings.xlsx"
    pull_ratings(out, server.url, token)
    book = load_workbook(out)  # as another program might save it: properties dropped
    assert [p.name for p in book.custom_doc_props] == [f"hailong_pull_{k}" for k in
                                                       ("server", "last_cursor", "ratings", "pulled_at")]
    book.custom_doc_props = CustomPropertyList()
    book.save(out)
    seed(server, terminals, 4, start=6)
    assert pull_ratings(out, server.url, token).added == 4
    assert read_back(out) == served_rows(server, token)



@pytest.mark.parametrize("fmt", FORMATS)
def test_a_pull_keeps_the_officer_and_dossier_when_the_role_may_see_them(start_server, tmp_path, fmt):
    """Issue 12: the files have the officer's and the dossier's columns; a viewer's stay empty."""
    server = start_server()
    terminal = server.enroll()
    sent = make_rating(terminal.id, officer="NVA01", dossier="HS-2026-000123")
    assert server.upload(terminal, make_batch([sent])).status_code == 200
    admin = server.admin_token()
    viewer = server.person("xem.bao.cao", role="viewer")
    from server.accounts import issue_admin_token
    from server.db import write_transaction

    with server.engine.connect() as conn, write_transaction(conn):
        viewer_token = issue_admin_token(conn, name=viewer.username, now_ns=server.app.state.clock(),
                                         account_id=viewer.id)
    for token, shown in ((admin, ("NVA01", "HS-2026-000123")), (viewer_token, (None, None))):
        out = tmp_path / f"pulled-{len(shown[0] or '')}.{fmt}"
        pull_ratings(out, server.url, token)
        row, = read_back(out)
        assert (row["officer_code"], row["dossier"]) == shown
        assert row == served_rows(server, token)[0]

"""The report rollups (server/rollups.py), on both backends: reports read from them are the same reports as
from the hourly tallies alone, whether the deltas are all pending, partly folded or all folded; months are
local months of the recorded zone; a zone change or hand-edited tallies make them unbuilt and the refresher
rebuilds them; and a rebuild on PostgreSQL keeps the deltas of a batch that committed during it."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import text

from cli_helpers import run_main
from report_fixtures import local_iso, rating_row, upload_rows
from reports import build_report, figures, parse_period
from reports.sources import SqlAlchemySource, whole_months
from server import rollups
from server.cli import main
from server.db import write_transaction
from server_fixtures import *  # noqa: F403
from server_fixtures import EnrolledTerminal
from stored_rules import rollup_drift

TREE_CSV = """code,name,kind,parent_code
01,Tỉnh Một,province,
02,Tỉnh Hai,province,
U1,Phường An,unit,01
U2,Xã Bình,unit,01
U3,Phường An,unit,02
U1-MC,Bộ phận Một cửa,office,U1
U2-MC,Bộ phận Một cửa,office,U2
U3-MC,Bộ phận Một cửa,office,U3
U1-Q1,Quầy 1,counter,U1-MC
U1-Q2,Quầy 2,counter,U1-MC
U2-Q1,Quầy 1,counter,U2-MC
U3-Q1,Quầy 1,counter,U3-MC
"""
PLACES = ("U1-Q1", "U1-Q2", "U2-Q1", "U3-Q1", "U3-MC")
ZONE = "Asia/Ho_Chi_Minh"

#: Local times that test the months' edges: the first and last hour of a local month (the UTC day before,
#: or the same UTC day), New Year's Eve and Day, and an ordinary day in each month of 2026.
EDGES = [local_iso(2026, 3, 1, 0, 30), local_iso(2026, 2, 28, 23, 30), local_iso(2026, 1, 1, 0, 5),
         local_iso(2025, 12, 31, 23, 55), local_iso(2026, 12, 31, 23, 59), local_iso(2027, 1, 1, 6, 0)]
DAYS = [local_iso(2026, month, 1 + (month * 3) % 27, 7 + month % 9, month * 4) for month in range(1, 13)]

PERIODS = [("year", "2026-06-15"), ("quarter", "2026-02-10"), ("month", "2026-03-01"), ("month", "2026-02-28"),
           ("week", "2026-03-01"), ("day", "2026-03-01"), ("range", ("2026-02-15", "2026-04-10")),
           ("range", ("2025-12-31", "2027-01-01"))]


pytestmark = pytest.mark.usefixtures("no_server_settings")  # no HAILONG_* variable of the machine counts


@pytest.fixture
def quiet_refresher(monkeypatch):
    """The app's refresher builds the (empty) rollups at its start, then waits: the test folds by hand."""
    monkeypatch.setattr(rollups, "REFRESH_INTERVAL_S", 3600.0)


def _ratings(salt: int) -> list[dict]:
    rows = []
    levels = ("very_satisfied", "satisfied", "dissatisfied")
    reasons = ("waiting_time", "staff_attitude", None)
    for i, at in enumerate(EDGES + DAYS):
        for k, place in enumerate(PLACES):
            level = levels[(i + k + salt) % 3]
            rows.append(rating_row(place, "", None, level, at.replace(":00.000Z", f":{(k * 7 + salt) % 60:02d}.000Z"),
                                   reason=reasons[(i + salt) % 3] if level == "dissatisfied" else None,
                                   filtered=1 if (i + k + salt) % 11 == 0 else 0))
    return rows


@pytest.fixture
def nation(quiet_refresher, server, server_db_url, tmp_path, capsys):
    path = tmp_path / "tree.csv"
    path.write_text(TREE_CSV, encoding="utf-8")
    status, _out, err = run_main(main, ["import-tree", str(path), "--db", server_db_url], capsys)
    assert status == 0, err
    terminals = {}
    for place in PLACES:
        status, code, err = run_main(main, ["enroll-code", "--node", place, "--db", server_db_url], capsys)
        assert status == 0, err
        answer = server.post("/api/v1/enroll", json={"code": code.strip()})
        assert answer.status_code == 201, answer.text
        terminals[place] = EnrolledTerminal(answer.json()["terminal_id"], answer.json()["device_token"])
    for _ in range(200):  # the refresher's first round: the rollups of the empty database, built
        with server.engine.connect() as conn:
            if rollups.built_zone(conn) == ZONE:
                break
        threading.Event().wait(0.05)
    ids = {row["code"]: row["id"] for row in server.rows("nodes")}
    return server, terminals, ids


def _reports(engine, ids, *, rollups_on: bool) -> list[dict]:
    """Every period × node × scope of interest, as dicts (the same shape the API answers); the whole server's
    ranking both with its units' detail (a small server) and without it (counted per unit, as a national
    server's is: figures.DETAIL_TERMINALS set to 0)."""
    out = []
    for detail in (figures.DETAIL_TERMINALS, 0):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(figures, "DETAIL_TERMINALS", detail)
            out += _reports_of(engine, ids, rollups_on=rollups_on)
    return out


def _reports_of(engine, ids, *, rollups_on: bool) -> list[dict]:
    out = []
    with engine.connect() as conn:
        for kind, on in PERIODS:
            if kind == "range":
                period = parse_period("range", start=on[0], end=on[1], tz=ZONE)
            else:
                period = parse_period(kind, on=on, tz=ZONE)
            for node, group_by, scope in ((None, "children", None), (None, "unit", None), (None, "site", None),
                                          (None, "terminal", None), (ids["01"], "children", None),
                                          (ids["U1"], "children", None), (ids["U1"], "counter", ("unit_id", ids["U1"])),
                                          (ids["02"], "children", ("province_id", ids["02"]))):
                with conn.begin():
                    source = SqlAlchemySource(conn, scope=scope, rollups=rollups_on)
                    out.append(build_report(source, period, node=node, group_by=group_by).to_dict())
    return out


def _difference(got, want, path="") -> list[str]:
    """Where two report dicts differ (the assertion's message)."""
    if isinstance(got, dict) and isinstance(want, dict):
        return [d for key in sorted(set(got) | set(want), key=str)
                for d in _difference(got.get(key), want.get(key), f"{path}.{key}")]
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [d for i, (a, b) in enumerate(zip(got, want)) for d in _difference(a, b, f"{path}[{i}]")]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def _same_reports(engine, ids) -> None:
    with_rollups = _reports(engine, ids, rollups_on=True)
    reference = _reports(engine, ids, rollups_on=False)
    assert len(with_rollups) == len(reference) == len(PERIODS) * 8 * 2
    for got, want in zip(with_rollups, reference):
        assert got == want, (got["period"]["label"], got.get("node"), got["group_by"], _difference(got, want))
        assert got["reconciles"], [c for c in got["checks"] if not c["ok"]]
    assert any(r["total"]["counted"] for r in reference)


def _unit_months(server, unit_id) -> Counter:
    months = Counter()
    for row in server.rows("unit_months"):
        if row["unit_id"] == unit_id:
            months[row["month"]] += row["n"]
    return months


def _deltas(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM tally_deltas")).scalar_one()


def test_reports_are_the_same_with_the_deltas_pending_partly_folded_and_folded(nation):
    server, terminals, ids = nation
    upload_rows(server, terminals, _ratings(0))
    pending = _deltas(server.engine)
    assert pending > 0  # every batch's increments, waiting for the refresher
    _same_reports(server.engine, ids)
    with server.engine.connect() as conn, write_transaction(conn):
        assert rollups.refresh(conn, ZONE, limit=pending // 3) == pending // 3
    assert _deltas(server.engine) == pending - pending // 3
    _same_reports(server.engine, ids)
    assert rollups.refresh_now(server.engine, ZONE) == pending - pending // 3
    assert _deltas(server.engine) == 0
    assert rollup_drift(server.engine) == []
    _same_reports(server.engine, ids)
    # More ratings on top of folded rollups: rollups and deltas add up.
    upload_rows(server, terminals, _ratings(1))
    assert _deltas(server.engine) > 0
    _same_reports(server.engine, ids)
    assert rollup_drift(server.engine) == []


def test_the_rollups_hold_local_months_and_province_hours(nation):
    server, terminals, ids = nation
    upload_rows(server, terminals, _ratings(0))
    rollups.refresh_now(server.engine, ZONE)
    months = _unit_months(server, ids["U3"])
    # 00:30 on 1 March local is 17:30 on 28 February UTC: March's; 23:30 on 28 February local is February's.
    # Two terminals stand at U3, each with March's edge and ordinary day, and February's.
    assert months["2026-03"] == 2 * 2 and months["2026-02"] == 2 * 2
    assert months["2025-12"] == 2 and months["2027-01"] == 2 and months["2026-12"] == 2 * 2
    hours = {row["hour"] for row in server.rows("province_hours")}
    assert "2026-02-28T17" in hours and all(len(hour) == 13 for hour in hours)
    assert {row["province_id"] for row in server.rows("province_hours")} == {ids["01"], ids["02"]}
    year = parse_period("year", on="2026-06-15", tz=ZONE)
    assert whole_months(year) == ("2026-01", "2027-01", "2025-12-31T17", "2026-12-31T17")
    assert whole_months(parse_period("week", on="2026-03-04", tz=ZONE)) is None
    assert whole_months(parse_period("range", start="2026-02-15", end="2026-04-10", tz=ZONE)) == (
        "2026-03", "2026-04", "2026-02-28T17", "2026-03-31T17")


def test_a_zone_change_or_hand_edited_tallies_unbuild_them_and_a_refresh_rebuilds(nation):
    server, terminals, ids = nation
    upload_rows(server, terminals, _ratings(2))
    rollups.refresh_now(server.engine, ZONE)
    # The server's zone changed: the months are of the old zone, so the refresher rebuilds them whole.
    rollups.refresh_now(server.engine, "UTC")
    with server.engine.connect() as conn:
        assert rollups.built_zone(conn) == "UTC"
    assert _deltas(server.engine) == 0
    # In UTC, 00:30 on 1 March local is February's: three presses a terminal, not two.
    assert _unit_months(server, ids["U3"])["2026-02"] == 2 * 3
    _same_reports(server.engine, ids)  # Asia/Ho_Chi_Minh periods: months unusable, the tallies answer
    rollups.refresh_now(server.engine, ZONE)
    assert rollup_drift(server.engine) == []
    # Tallies rebuilt by hand (bench/seed.py does): the rollups are marked unbuilt, reports still right.
    from server.ingest import REBUILD_TALLIES_SQL

    with server.engine.connect() as conn, write_transaction(conn):
        for statement in REBUILD_TALLIES_SQL.split("; "):
            conn.execute(text(statement))
        assert rollups.built_zone(conn) is None
    _same_reports(server.engine, ids)
    rollups.refresh_now(server.engine, ZONE)
    assert rollup_drift(server.engine) == [] and _deltas(server.engine) == 0
    _same_reports(server.engine, ids)


def test_the_servers_refresher_folds_the_deltas_by_itself(server, server_db_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(rollups, "REFRESH_INTERVAL_S", 0.05)
    terminal = server.enroll()
    rows = [rating_row("t", "", None, "satisfied", at) for at in DAYS]
    upload_rows(server, {"t": terminal}, rows)
    for _ in range(400):
        if _deltas(server.engine) == 0:
            break
        threading.Event().wait(0.05)
    assert _deltas(server.engine) == 0
    assert sum(row["n"] for row in server.rows("rating_months")) == len(DAYS)
    assert rollup_drift(server.engine) == []


@pytest.mark.parametrize("server_db_url", ["postgresql"], indirect=True)  # SQLite serializes its writers
def test_a_rebuild_keeps_the_deltas_of_a_batch_that_committed_during_it(nation):
    """PostgreSQL: the rebuild reads the tallies and deletes the deltas in one snapshot (REPEATABLE READ),
    so a batch committed after the snapshot keeps its deltas, and is folded by the next refresh."""
    server, terminals, ids = nation
    upload_rows(server, terminals, _ratings(0))
    with server.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(text("SELECT COUNT(*) FROM rating_tallies")).scalar_one()  # the snapshot is taken here
            upload_rows(server, terminals, _ratings(3))  # another transaction commits a batch meanwhile
            rollups.rebuild(conn, ZONE)
    assert _deltas(server.engine) > 0  # the late batch's increments stayed
    assert rollup_drift(server.engine) == []
    _same_reports(server.engine, ids)
    rollups.refresh_now(server.engine, ZONE)
    assert rollup_drift(server.engine) == [] and _deltas(server.engine) == 0


def test_two_units_of_one_name_keep_their_own_detail(nation):
    server, terminals, ids = nation
    upload_rows(server, terminals, _ratings(0))
    with server.engine.connect() as conn, conn.begin():
        report = build_report(SqlAlchemySource(conn), parse_period("year", on="2026-06-15", tz=ZONE),
                              group_by="children").to_dict()
    assert list(report["sites"]) == ["Phường An (Tỉnh Một)", "Phường An (Tỉnh Hai)", "Xã Bình"]  # by name, then id
    assert sum(len(site["terminals"]) for site in report["sites"].values()) == len(PLACES)
    assert sum(t["counted"] + t["filtered"] for site in report["sites"].values() for t in site["terminals"]) == \
        report["total"]["counted"] + report["total"]["filtered"]

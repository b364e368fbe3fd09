"""Upgrading a server of before the organisation tree (migration 0007) loses nothing, on both backends.

``data/before-tree.db`` was written by the real server of commit 2ffad67 (``data/make_before_tree.py``):
four terminals at two sites (one without a counter, one revoked), 190 ratings with their tallies, a
conflict, one alert fired and cleared and one still active, admin tokens under two names, a dashboard
session. On PostgreSQL the same rows are loaded into a database at revision 0006 first.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Boolean, MetaData, Table, create_engine, inspect, text

from server_fixtures import *  # noqa: F403
from server_fixtures import EnrolledTerminal

DATA = Path(__file__).parent / "data"
BEFORE = DATA / "before-tree.db"
#: Tables of revision 0006, parents first (foreign keys).
TABLES = ("terminals", "enrollment_codes", "admin_tokens", "ratings", "rating_tallies", "rating_conflicts",
          "boot_offsets", "alerts", "server_secrets", "dashboard_sessions", "login_failures")


def _rows(conn, table: str) -> list[dict]:
    return [dict(row) for row in conn.execute(text(f"SELECT * FROM {table}")).mappings()]


@pytest.fixture
def before_tree_url(server_db_url, tmp_path) -> str:
    """A database holding the rows of ``before-tree.db`` at revision 0006, not yet upgraded."""
    if server_db_url.startswith("sqlite"):
        shutil.copy(BEFORE, tmp_path / "server.db")
        return server_db_url
    from alembic import command
    from alembic.config import Config

    from server.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    source = create_engine(f"sqlite:///{BEFORE}")
    target = create_engine(server_db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with target.connect() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0006_login_failures")
            conn.commit()
        with source.connect() as old, target.begin() as new:
            for table in TABLES:
                rows = _rows(old, table)
                if rows:
                    target_table = Table(table, MetaData(), autoload_with=new)
                    flags = [c.name for c in target_table.columns if isinstance(c.type, Boolean)]
                    rows = [{**row, **{f: None if row[f] is None else bool(row[f]) for f in flags}} for row in rows]
                    new.execute(target_table.insert(), rows)
            for table in ("admin_tokens", "ratings", "rating_conflicts", "alerts"):  # the identities go on
                key = "conflict_id" if table == "rating_conflicts" else ("cursor" if table == "ratings" else "id")
                new.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', '{key}'), "
                                 f"(SELECT MAX({key}) FROM {table}))"))
    finally:
        source.dispose()
        target.dispose()
    return server_db_url


def test_every_rating_tally_alert_and_token_survives_the_upgrade_and_lands_in_the_tree(before_tree_url,
                                                                                       start_server):
    source = create_engine(f"sqlite:///{BEFORE}")
    with source.connect() as old:
        before = {table: _rows(old, table) for table in TABLES}
    source.dispose()
    server = start_server()  # opening the app runs the migrations
    engine = server.engine
    with engine.connect() as conn:
        after = {table: _rows(conn, table) for table in TABLES}
        nodes = {row["id"]: row for row in _rows(conn, "nodes")}
        places = _rows(conn, "legacy_places")
        accounts = {row["id"]: row for row in _rows(conn, "accounts")}
        assert "nodes" in inspect(conn).get_table_names()

    # Nothing lost or changed: every rating, byte for byte in the columns it had.
    assert len(after["ratings"]) == len(before["ratings"]) == 190
    old_ratings = {row["id"]: row for row in before["ratings"]}
    for row in after["ratings"]:
        assert {k: row[k] for k in old_ratings[row["id"]]} == old_ratings[row["id"]]
    keys = {"terminals": ("id",), "alerts": ("id",), "rating_conflicts": ("conflict_id",),
            "boot_offsets": ("terminal_id", "boot_id"), "enrollment_codes": ("code_hash",),
            "admin_tokens": ("id",)}
    # An alert named its site; it now names the site's unit (migration 0011), the rest as it was.
    renamed = {"alerts": ("subject", "details")}
    for table, key in keys.items():
        assert len(after[table]) == len(before[table]), table
        new_rows = {tuple(row[k] for k in key): row for row in after[table]}
        for old_row in before[table]:
            new_row = new_rows[tuple(old_row[k] for k in key)]
            kept = [k for k in old_row if k not in renamed.get(table, ())]
            assert {k: new_row[k] for k in kept} == {k: old_row[k] for k in kept}, table
    unit_ids = {row["name"]: row["id"] for row in nodes.values() if row["kind"] == "unit"}
    assert {(a["rule"], a["subject"], a["unit_id"], a["cleared_at"] is None) for a in after["alerts"]} == {
        ("dissatisfied_share", f"unit:{unit_ids['UBND phường Phúc La']}", unit_ids["UBND phường Phúc La"], False),
        ("dissatisfied_share", f"unit:{unit_ids['UBND phường Hà Cầu']}", unit_ids["UBND phường Hà Cầu"], True)}
    old_details = {row["id"]: json.loads(row["details"]) for row in before["alerts"]}
    for alert in after["alerts"]:
        details = json.loads(alert["details"])
        assert {k: details[k] for k in old_details[alert["id"]]} == old_details[alert["id"]]  # the figures kept
        assert details["place"]["path"] == f"Tỉnh › {details['site']}"

    # The tree: one province, a unit per site, an office each, a counter per named counter.
    kinds = Counter(row["kind"] for row in nodes.values())
    assert kinds == {"province": 1, "unit": 2, "office": 2, "counter": 3}
    assert {row["name"] for row in nodes.values() if row["kind"] == "unit"} == {"UBND phường Phúc La",
                                                                                 "UBND phường Hà Cầu"}
    assert len(places) == 4

    # Each rating sits at the unit, office and counter of its own site and counter.
    def lineage(node_id):
        found = {}
        while node_id is not None:
            found[nodes[node_id]["kind"]] = node_id
            node_id = nodes[node_id]["parent_id"]
        return found

    for row in after["ratings"]:
        unit = nodes[row["unit_id"]]
        assert unit["kind"] == "unit" and unit["name"] == row["site"]
        assert nodes[row["office_id"]]["parent_id"] == row["unit_id"]
        assert row["province_id"] == nodes[row["unit_id"]]["parent_id"]
        if row["counter"] is None:
            assert row["counter_id"] is None
        else:
            assert nodes[row["counter_id"]]["name"] == row["counter"]
            assert lineage(row["counter_id"])["office"] == row["office_id"]
    for row in after["terminals"]:
        assert row["node_id"] in (row["counter_id"], row["office_id"]) and row["unit_id"] is not None

    # The tallies add up to the ratings, per unit and counter, and in all.
    assert sum(t["n"] for t in after["rating_tallies"]) == 190
    by_place = Counter()
    for t in after["rating_tallies"]:
        by_place[(t["unit_id"], t["counter_id"])] += t["n"]
    assert by_place == Counter((r["unit_id"], r["counter_id"] or 0) for r in after["ratings"])

    # Each admin token name became one province-wide account; the tokens and the session belong to it.
    assert sorted((a["username"], a["role"], a["scope_node_id"]) for a in accounts.values()) == [
        ("Phòng Nội vụ", "province_admin", None), ("Trung tâm PVHCC", "province_admin", None)]
    for token in after["admin_tokens"]:
        assert accounts[token["account_id"]]["username"] == token["name"]
    session, = after["dashboard_sessions"]
    assert accounts[session["account_id"]]["username"] == "Trung tâm PVHCC"

    # The old token still opens the admin API, and sees every rating.
    token = (DATA / "before-tree.token").read_text().strip()
    pulled = server.get("/api/v1/ratings", params={"limit": 1000}, headers={"Authorization": f"Bearer {token}"})
    assert pulled.status_code == 200, pulled.text
    assert len(pulled.json()["ratings"]) == 190

    # A terminal enrolled now for an old site's counter (named the old way) stands at the same node.
    live = [row for row in after["terminals"] if row["revoked_at"] is None and row["counter"] == "Quầy 2"][0]
    with engine.connect() as conn:
        from server.accounts import issue_enrollment_code
        from server.db import write_transaction

        with write_transaction(conn):
            code = issue_enrollment_code(conn, site=live["site"], counter=live["counter"], ttl_s=60,
                                         now_ns=server.app.state.clock())
    enrolled = server.post("/api/v1/enroll", json={"code": code}).json()
    new_terminal = EnrolledTerminal(enrolled["terminal_id"], enrolled["device_token"])
    assert server.upload(new_terminal, make_batch([make_rating(new_terminal.id)])).status_code == 200
    stored, = server.rows("ratings", terminal_id=new_terminal.id)
    assert (stored["unit_id"], stored["counter_id"]) == (live["unit_id"], live["counter_id"])
    assert server.count("nodes") == 8  # the old site and counter were found, not made again

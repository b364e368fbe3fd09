"""The checker of stored rows (tests/stored_rules.py) finds what breaks a rule: it is not vacuous."""

from __future__ import annotations

from sqlalchemy import update

from server import schema
from server.db import write_transaction
from server_fixtures import *  # noqa: F403
from server_fixtures import make_batch, make_rating
from stored_rules import invalid_rows


def test_a_valid_batch_leaves_nothing_invalid_and_each_broken_row_is_named(server):
    terminal = server.enroll()
    ratings = [make_rating(terminal.id, rating="dissatisfied", reason="facilities", reason_outcome="given"),
               make_rating(terminal.id), make_rating(terminal.id, monotonic_ns=7)]
    assert server.upload(terminal, make_batch(ratings)).status_code == 200
    assert invalid_rows(server.engine) == []
    broken = {ratings[0]["id"]: {"reason_outcome": "skipped"}, ratings[1]["id"]: {"monotonic_ns": -1},
              ratings[2]["id"]: {"created_at": "2026-02-30T09:30:12.345Z"}}
    with server.engine.connect() as conn, write_transaction(conn):
        for rating_id, values in broken.items():
            conn.execute(update(schema.ratings).where(schema.ratings.c.id == rating_id).values(**values))
        conn.execute(update(schema.terminals).values(site="x" * 121))
    problems = invalid_rows(server.engine)
    for rating_id in broken:
        assert any(rating_id in problem for problem in problems), (rating_id, problems)
    assert any(problem.startswith("terminals") and "site" in problem for problem in problems)


def test_a_rollup_that_drifts_from_the_tallies_is_named(server):
    from server import rollups
    from stored_rules import rollup_drift

    terminal = server.enroll()
    assert server.upload(terminal, make_batch([make_rating(terminal.id) for _ in range(3)])).status_code == 200
    rollups.refresh_now(server.engine, server.app.state.settings.timezone)
    assert rollup_drift(server.engine) == [] and invalid_rows(server.engine) == []
    with server.engine.connect() as conn, write_transaction(conn):
        conn.execute(update(schema.province_hours).values(n=schema.province_hours.c.n + 1))
    drift = rollup_drift(server.engine)
    assert [where.split(" ")[0] for where, _why in drift] == ["province_hours"], drift
    assert any(problem.startswith("rollups") and "province_hours" in problem for problem in invalid_rows(server.engine))

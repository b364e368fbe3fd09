"""server.batch_intake.take_batch: a batch's body to its receipt in one worker thread, on one connection."""

from __future__ import annotations

import json
import logging
import time

from sqlalchemy.exc import TimeoutError as PoolTimeout

from server_fixtures import *  # noqa: F403


def _app_with_a_terminal(server_db_url):
    from server import Settings, create_app
    from server.accounts import enroll_terminal, issue_enrollment_code
    from server.db import write_transaction
    from server.dependencies import lookup_device_token

    app = create_app(Settings(db_url=server_db_url, db_pool_size=1))  # not served: no background loop runs
    with app.state.engine.connect() as conn, write_transaction(conn):
        code = issue_enrollment_code(conn, site=TERMINAL_SITE, counter=TERMINAL_COUNTER, ttl_s=3600,
                                     now_ns=time.time_ns())
        enrolled = enroll_terminal(conn, code, app_version="0.1.0", now_ns=time.time_ns())
    return app, lookup_device_token(app.state.engine, enrolled.device_token)


def _take(app, terminal, body: dict) -> dict:
    from server.batch_intake import take_batch

    return json.loads(take_batch(app.state.engine, terminal, json.dumps(body).encode(), time.time_ns(),
                                 lambda moved: None, retention_days=app.state.settings.dossier_retention_days,
                                 wanted_settings=app.state.wanted_settings, book=app.state.rollouts))


def test_a_batch_is_answered_with_every_other_pool_connection_taken(server_db_url, caplog):
    """Every worker holds one connection under a burst: a batch must never want a second one (the running
    rollouts, read again when their copy expires, used to take one, and every batch then waited for the
    pool's timeout)."""
    app, terminal = _app_with_a_terminal(server_db_url)
    engine = app.state.engine
    engine.pool._timeout = 0.5  # SQLAlchemy's QueuePool: a wanted connection fails in 0.5 s instead of 10
    held = []
    try:
        while True:  # take the whole pool
            try:
                held.append(engine.connect())
            except PoolTimeout:
                break
        held.pop().close()  # one left: the batch's own
        app.state.rollouts.changed()  # the copy expired: this receipt reads the running rollouts again
        sent = [make_rating(terminal.id) for _ in range(3)]
        with caplog.at_level(logging.ERROR):
            receipt = _take(app, terminal, make_batch(sent))
        assert [ack["status"] for ack in receipt["acks"]] == ["stored"] * 3
        assert "rollouts" not in caplog.text
    finally:
        for conn in held:
            conn.close()
        engine.dispose()


def test_the_receipt_json_is_the_models_without_empty_fields(server_db_url):
    """One rating refused, one stored: the refusal alone carries a reason, and nothing empty is sent."""
    app, terminal = _app_with_a_terminal(server_db_url)
    try:
        good, bad = make_rating(terminal.id), make_rating(terminal.id, monotonic_ns=-1)
        receipt = _take(app, terminal, make_batch([good, bad]))
        assert receipt["acks"][0] == {"id": good["id"], "status": "stored"}
        assert receipt["acks"][1]["status"] == "refused" and receipt["acks"][1]["reason"].startswith("monotonic_ns")
        assert None not in receipt.values() and set(receipt) == {"ok", "acks", "received_at", "clock_offset_s"}
    finally:
        app.state.engine.dispose()

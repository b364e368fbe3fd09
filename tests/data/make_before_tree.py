"""Writes ``before-tree.db``: a central database as the server of before the organisation tree left it.

Run once with the code of commit 2ffad67 (the last before migration 0007), from a checkout of it:

    git worktree add --detach /tmp/before-tree 2ffad67
    cd /tmp/before-tree && PYTHONPATH=. python /path/to/tests/data/make_before_tree.py OUT.db

It goes through the real server over HTTP (enrolment, uploads), the alert check and the dashboard's
session store, so the file holds what that code really wrote: terminals at two sites (one terminal
without a counter), ratings and their tallies, a conflict, a revoked terminal, an alert fired and one
cleared, two admin tokens under one name and one under another, a dashboard session.
"""

import sys
from pathlib import Path


def main() -> None:
    # The checkout of 2ffad67 first: its server, not the one installed.
    sys.path[:0] = [str(Path.cwd()), str(Path.cwd() / "tests")]
    from server_fixtures import FakeClock, LiveServer, ServerHarness, make_batch, make_rating

    from server.app import create_app
    from server.settings import Settings

    out = Path(sys.argv[1]).resolve()
    out.unlink(missing_ok=True)
    clock = FakeClock()
    app = create_app(Settings(db_url=f"sqlite:///{out}", alert_check_interval_s=0), clock=clock)
    live = LiveServer(app)
    server = ServerHarness(app, live)
    places = [("UBND phường Phúc La", "Quầy 1"), ("UBND phường Phúc La", "Quầy 2"),
              ("UBND phường Hà Cầu", "Quầy 1"), ("UBND phường Hà Cầu", None)]
    terminals = [server.enroll(site=site, counter=counter) for site, counter in places]
    levels = ["very_satisfied", "satisfied", "dissatisfied"]
    for t_index, terminal in enumerate(terminals):
        ratings = []
        for i in range(40 + 7 * t_index):
            level = levels[(i * (t_index + 1)) % 3]
            minute = i % 60
            ratings.append(make_rating(terminal.id, rating=level, created_at=f"2026-11-{20 + i % 5}T0{1 + i % 8}:{minute:02d}:00.000Z",
                                       boot_id="boot-0", monotonic_ns=1_000_000_000 + i, filtered=int(i % 17 == 0),
                                       reason="staff_attitude" if level == "dissatisfied" and i % 2 else None,
                                       reason_outcome="chosen" if level == "dissatisfied" and i % 2 else
                                       ("skipped" if level == "dissatisfied" else None)))
        answer = server.upload(terminal, make_batch(ratings))
        assert answer.status_code == 200, answer.text
    # A conflict: the same id again with other content.
    first = server.rows("ratings", terminal_id=terminals[0].id)[0]
    conflict = make_rating(terminals[0].id, id=first["id"], rating="dissatisfied" if first["rating"] != "dissatisfied" else "satisfied",
                           created_at=first["created_at"], monotonic_ns=first["monotonic_ns"])
    assert server.upload(terminals[0], make_batch([conflict])).status_code == 200
    # Recent dissatisfied ratings at Phúc La fire the alert, which clears 20 minutes later, when Hà Cầu's fires.
    def recent_dissatisfied(terminal, boot):
        ratings = [make_rating(terminal.id, rating="dissatisfied", created_at="2026-11-25T09:29:00.000Z",
                               monotonic_ns=5_000_000_000 + i, boot_id=boot) for i in range(6)]
        answer = server.upload(terminal, make_batch(ratings, boot_id=boot, monotonic_ns=6_000_000_000))
        assert answer.status_code == 200 and all(a["status"] == "stored" for a in answer.json()["acks"]), answer.text


    recent_dissatisfied(terminals[0], "boot-2")
    assert app.state.alert_monitor.check().fired
    clock.advance(20 * 60)
    recent_dissatisfied(terminals[2], "boot-3")
    changes = app.state.alert_monitor.check()
    assert changes.fired and changes.cleared, changes
    server.revoke(terminals[3].id)
    server.admin_token("Phòng Nội vụ")
    server.admin_token("Phòng Nội vụ")
    token = server.admin_token("Trung tâm PVHCC")
    with app.state.engine.connect() as conn:
        from sqlalchemy import select

        from server.schema import admin_tokens
        token_id = conn.execute(select(admin_tokens.c.id).where(admin_tokens.c.name == "Trung tâm PVHCC")).scalar_one()
    app.state.dashboard_sessions.start(token_id)
    live.stop()
    app.state.engine.dispose()
    # The tests show that a token of before the upgrade still opens the API: it is test data, kept beside the file.
    out.with_suffix(".token").write_text(token + "\n")
    print(f"{out}: {server.count()} ratings")


if __name__ == "__main__":
    main()

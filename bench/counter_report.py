"""What the counter's sections (by officer, dossiers, audit counts: ``reports/counter.py``) add to a server's report:
the report alone and with its sections, for one unit's month and year and the whole server's, on SQLite.

    python bench/counter_report.py [--n 300000] [--sites 20] [--runs 3] [--workdir DIR]

:func:`bench.seed.seed_server_db` fills the database (a year of ratings, 2026, ``--sites`` sites of three
terminals); then each site becomes a unit of one province, with four officers; four ratings in five carry an
officer, each terminal has a sign-in every opening day at 07:30, and one rating in three was invited by a
dossier (one invitation in four more unanswered). Times are medians of ``--runs``; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bench.seed import seed_server_db  # noqa: E402


def add_counter_data(db_path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(db_path)
    now = "2026-01-01T00:00:00.000Z"
    with conn:
        conn.execute("INSERT INTO nodes (id, kind, code, name, parent_id, created_at, updated_at) "
                     "VALUES (1, 'province', 'T01', 'Tỉnh', NULL, ?, ?)", (now, now))
        sites = [row[0] for row in conn.execute("SELECT DISTINCT site FROM terminals ORDER BY site")]
        for i, site in enumerate(sites, 2):
            conn.execute("INSERT INTO nodes (id, kind, code, name, parent_id, created_at, updated_at) "
                         "VALUES (?, 'unit', ?, ?, 1, ?, ?)", (i, f"U{i:03d}", site, now, now))
            for k in range(4):
                conn.execute("INSERT INTO officers (unit_id, code, name, counters, active, created_at, updated_at) "
                             "VALUES (?, ?, ?, '[]', 1, ?, ?)", (i, f"CB{k:02d}", f"Cán bộ {k} của {site}", now, now))
            conn.execute("UPDATE terminals SET province_id = 1, unit_id = ? WHERE site = ?", (i, site))
            conn.execute("UPDATE ratings SET province_id = 1, unit_id = ? WHERE site = ?", (i, site))
            conn.execute("UPDATE rating_tallies SET province_id = 1, unit_id = ? WHERE site = ?", (i, site))
        conn.execute("UPDATE ratings SET officer_code = 'CB0' || (cursor % 4), officer_id = "
                     "(SELECT o.id FROM officers o WHERE o.unit_id = ratings.unit_id AND o.code = 'CB0' || "
                     "(ratings.cursor % 4)) WHERE cursor % 5 <> 0")
        conn.execute("INSERT INTO officer_shifts (id, terminal_id, officer_id, officer_code, signed_in_at, "
                     "signed_out_at, sign_in_how, sign_out_how, unit_id, received_at) "
                     "SELECT d.terminal_id || '-' || d.day, d.terminal_id, NULL, 'CB00', d.day || 'T00:30:00.000Z', "
                     "d.day || 'T10:00:00.000Z', 'badge', 'hours', d.unit_id, d.day || 'T10:00:01.000Z' FROM "
                     "(SELECT DISTINCT terminal_id, unit_id, SUBSTR(corrected_at, 1, 10) AS day FROM ratings) d")
        conn.execute("INSERT INTO dossier_invitations (id, terminal_id, unit_id, officer_code, dossier, created_at, "
                     "closed_at, outcome, rating_id, received_at) SELECT id, terminal_id, unit_id, officer_code, "
                     "'HS-' || cursor, created_at, created_at, CASE WHEN cursor % 12 = 0 THEN 'unanswered' ELSE "
                     "'rated' END, id, received_at FROM ratings WHERE cursor % 3 = 0")
    conn.execute("ANALYZE")
    conn.close()


def median_s(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir")
    args = parser.parse_args(argv)

    from reports import build_report, parse_period, sqlalchemy_source
    from reports.counter import add_counter_sections
    from server.db import open_engine
    from server.opening import OpeningHours
    from server.settings import DEFAULT_OPENING_HOURS, Settings

    folder = Path(args.workdir or tempfile.mkdtemp(prefix="hl-counter-bench-"))
    db = folder / "server.db"
    if not db.exists():
        started = time.perf_counter()
        seed_server_db(f"sqlite:///{db}", args.n, sites=args.sites)
        add_counter_data(db)
        print(f"seeded {args.n:,} ratings at {args.sites} units in {time.perf_counter() - started:.1f} s ({db})")
    engine = open_engine(Settings(db_url=f"sqlite:///{db}"))
    hours = OpeningHours.parse(DEFAULT_OPENING_HOURS)
    print(f"{'report':<28} {'alone':>8} {'with sections':>14} {'ratio':>6}")
    for label, kind, on, node, group_by in (("one unit, a month", "month", "2026-11-10", 2, "children"),
                                            ("one unit, the year", "year", "2026-06-15", 2, "children"),
                                            ("the province, a month", "month", "2026-11-10", 1, "children"),
                                            ("the province, the year", "year", "2026-06-15", 1, "children")):
        period = parse_period(kind, on=on)
        with engine.connect() as conn:
            source = sqlalchemy_source(conn)

            def alone():
                return build_report(source, period, node=node, group_by=group_by)

            def with_sections():
                report = alone()
                add_counter_sections(report, source, opening_hours=hours, hours_tz="Asia/Ho_Chi_Minh")
                assert report.reconciles, [c.what for c in report.all_checks if not c.ok]
                return report

            base, full = median_s(alone, args.runs), median_s(with_sections, args.runs)
        print(f"{label:<28} {base:>7.3f}s {full:>13.3f}s {full / base:>6.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()

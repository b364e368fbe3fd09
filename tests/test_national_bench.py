"""bench/national.py's data set at a tiny size, loaded on both backends: the figures add up and every
rating sits where the tree says (the timings are the bench's business, not a test's)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from server_fixtures import server_db_url  # noqa: F401 - a fixture

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.national_data import PROVINCES, RatingPlan, national_tree  # noqa: E402
from bench.national_load import NotEmpty, load_national, loaded_ratings  # noqa: E402

N = 20_000


@pytest.fixture(scope="module")
def tiny():
    tree = national_tree(provinces=2, units=5, terminals=50, seed=7)
    return tree, RatingPlan(tree, N, seed=7)


def query(db_url: str, sql: str) -> list[tuple]:
    from server.db import open_engine
    from server.settings import Settings

    engine = open_engine(Settings(db_url=db_url))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_the_tree_has_the_asked_shape(tiny):
    tree, _plan = tiny
    kinds = Counter(row[1] for row in tree.nodes)
    assert kinds["province"] == 2 and kinds["unit"] == 10
    assert kinds["unit"] <= kinds["office"] <= 2 * kinds["unit"]
    assert 2 * kinds["office"] <= kinds["counter"] <= 4 * kinds["office"]
    assert len(tree.terminals) == 50 and len({t.id for t in tree.terminals}) == 50
    assert [row[3] for row in tree.nodes[:2]] == [name for _code, name in PROVINCES[:2]]
    assert len({row[2] for row in tree.nodes}) == len(tree.nodes)  # codes are unique
    units = [row[3] for row in tree.nodes if row[1] == "unit"]
    assert all(name.split()[0] in ("Xã", "Phường", "Đặc") for name in units), units


def test_the_same_seed_gives_the_same_ratings(tiny):
    tree, plan = tiny
    again = RatingPlan(national_tree(provinces=2, units=5, terminals=50, seed=7), N, seed=7)
    assert list(plan.rows(3)) == list(again.rows(3))
    assert sum(span.count for span in plan.spans) == N


def test_a_loaded_data_set_adds_up_and_follows_the_tree(server_db_url, tiny):  # noqa: F811
    tree, plan = tiny
    backend = "sqlite" if server_db_url.startswith("sqlite") else "postgresql"
    indexes_sql = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('ratings', 'rating_tallies')"
                   if backend == "sqlite" else
                   "SELECT indexname FROM pg_indexes WHERE tablename IN ('ratings', 'rating_tallies')")
    query(server_db_url, "SELECT 1")  # migrated
    indexes_before = sorted(query(server_db_url, indexes_sql))

    steps = load_national(server_db_url, tree, plan, jobs=2)

    assert steps and all(seconds >= 0 for _step, seconds in steps)
    assert loaded_ratings(server_db_url) == N
    assert sorted(query(server_db_url, indexes_sql)) == indexes_before  # the keys dropped for COPY are back
    per_province = dict(query(server_db_url, "SELECT province_id, COUNT(*) FROM ratings GROUP BY province_id"))
    assert set(per_province) == set(tree.ids_of("province")) and sum(per_province.values()) == N
    tallied = dict(query(server_db_url, "SELECT province_id, SUM(n) FROM rating_tallies GROUP BY province_id"))
    assert {k: int(v) for k, v in tallied.items()} == per_province
    # Every rating's lineage is its terminal's, and the tree's: counter → office → unit → province.
    wrong = query(server_db_url, """
        SELECT COUNT(*) FROM ratings r
        JOIN terminals t ON t.id = r.terminal_id
        JOIN nodes c ON c.id = r.counter_id AND c.kind = 'counter'
        JOIN nodes o ON o.id = c.parent_id AND o.kind = 'office'
        JOIN nodes u ON u.id = o.parent_id AND u.kind = 'unit'
        JOIN nodes p ON p.id = u.parent_id AND p.kind = 'province'
        WHERE NOT (r.office_id = o.id AND r.unit_id = u.id AND r.province_id = p.id AND t.node_id = c.id
                   AND t.unit_id = u.id AND r.site = u.name AND r.counter = c.name)""")
    placed = query(server_db_url, "SELECT COUNT(*) FROM ratings r JOIN nodes c ON c.id = r.counter_id")
    assert wrong == [(0,)] and placed == [(N,)]
    # Cursors follow time, as on a server that received them; everything in opening hours of 2026.
    out_of_order = query(server_db_url, """
        SELECT COUNT(*) FROM ratings a JOIN ratings b ON b.cursor = a.cursor + 1
        WHERE b.corrected_at < a.corrected_at""")
    assert out_of_order == [(0,)]
    hours = dict(query(server_db_url, "SELECT SUBSTR(corrected_at, 12, 2), COUNT(*) FROM ratings "
                                      "GROUP BY SUBSTR(corrected_at, 12, 2)"))
    assert set(hours) <= {f"{h:02d}" for h in range(0, 11)}  # 7:30–17:00 in Hà Nội is 00:30–10:00 UTC
    levels = dict(query(server_db_url, "SELECT rating, COUNT(*) FROM ratings GROUP BY rating"))
    assert levels["very_satisfied"] > levels["satisfied"] > levels["dissatisfied"] > 0

    with pytest.raises(NotEmpty):  # a second load into a full database stores nothing
        load_national(server_db_url, tree, plan, jobs=1)
    assert loaded_ratings(server_db_url) == N

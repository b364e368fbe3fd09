"""Remote terminal settings, the store (issue 13 §1), on SQLite and PostgreSQL: a change per scope kept
append-only, the effective set nearest-wins over the tree, its version, roll back as a new change, refusals that
store nothing, and the receipts' cache per terminal and generation."""

from __future__ import annotations

import hashlib
import json

import pytest

from officer_fixtures import Units
from server_fixtures import *  # noqa: F403
from server_fixtures import FakeClock


@pytest.fixture
def units(start_server):
    return Units(start_server(clock=FakeClock(), alert_check_interval_s=0))


def _change(units, scope, **kwargs):
    from server.db import write_transaction
    from server.terminal_settings import change_settings

    with units.server.engine.connect() as conn, write_transaction(conn):
        return change_settings(conn, scope, changed_by="test", now_ns=units.server.app.state.clock(), **kwargs)


def _effective(units, counter):
    from server.terminal_settings import terminal_effective

    with units.server.engine.connect() as conn:
        return terminal_effective(conn, units.terminal[counter].id)


def test_the_version_is_the_contracts_hash_and_the_empty_set_has_one():
    from server.terminal_settings import settings_version

    values = {"texts.question_vi": "Anh/chị hài lòng không?", "feedback.thanks_s": 5.0}
    document = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert settings_version(values) == hashlib.sha256(document.encode()).hexdigest()[:16]
    assert settings_version({}) == hashlib.sha256(b"{}").hexdigest()[:16]
    assert settings_version({"a": 1}) != settings_version({"a": 2})


def test_the_nearest_scope_wins_key_by_key(units):
    from server.terminal_settings import Scope

    _change(units, Scope(), set_values={"feedback.thanks_s": 3, "voice.volume": 0.5, "terminal.language": "vi"})
    _change(units, Scope(node_id=units.node["T99"]), set_values={"voice.volume": 0.6})
    _change(units, Scope(node_id=units.node["U01"]), set_values={"feedback.thanks_s": 6})
    _change(units, Scope(node_id=units.node["C01"]), set_values={"voice.volume": 0.7})
    _change(units, Scope(terminal_id=units.terminal["C01"].id), set_values={"terminal.language": "en"})
    c01, c03, c02 = (_effective(units, counter) for counter in ("C01", "C03", "C02"))
    assert c01.values == {"feedback.thanks_s": 6.0, "voice.volume": 0.7, "terminal.language": "en"}
    assert c01.sources == {"feedback.thanks_s": f"node:{units.node['U01']}", "voice.volume": f"node:{units.node['C01']}",
                           "terminal.language": f"terminal:{units.terminal['C01'].id}"}
    assert c03.values == {"feedback.thanks_s": 6.0, "voice.volume": 0.6, "terminal.language": "vi"}
    assert c02.values == {"feedback.thanks_s": 3.0, "voice.volume": 0.6, "terminal.language": "vi"}
    assert len({c01.version, c02.version, c03.version}) == 3 and all(e.ever_set for e in (c01, c02, c03))


def test_unset_and_remove_everything_still_has_a_version(units):
    from server.terminal_settings import Scope, settings_version

    assert not _effective(units, "C02").ever_set
    _change(units, Scope(), set_values={"feedback.thanks_s": 4})
    emptied = _change(units, Scope(), unset=["feedback.thanks_s"])
    assert emptied.values == {}
    after = _effective(units, "C02")
    assert (after.values, after.version, after.ever_set) == ({}, settings_version({}), True)


def test_a_roll_back_is_a_new_change_and_the_history_stays(units):
    from server.terminal_settings import Scope, history, rollback_to

    scope = Scope(node_id=units.node["U01"])
    first = _change(units, scope, set_values={"feedback.reasons": ["staff_attitude", "processing_time"]}, note="đầu")
    second = _change(units, scope, set_values={"feedback.thanks_s": 8}, unset=["feedback.reasons"])
    with units.server.engine.connect() as conn:
        before = [row for row in units.server.rows("terminal_settings_changes")]
    from server.db import write_transaction

    with units.server.engine.connect() as conn, write_transaction(conn):
        back = rollback_to(conn, first.id, changed_by="test", now_ns=units.server.app.state.clock())
    assert back.id > second.id and back.restores_id == first.id and back.values == first.values
    assert back.note == f"roll back to change {first.id}"
    rows = units.server.rows("terminal_settings_changes")
    assert rows[:len(before)] == before and len(rows) == len(before) + 1  # appended, nothing rewritten
    assert _effective(units, "C01").values == {"feedback.reasons": ["staff_attitude", "processing_time"]}
    with units.server.engine.connect() as conn:
        assert [c.id for c in history(conn, [scope.key])] == [back.id, second.id, first.id]


@pytest.mark.parametrize("values, unset, key", [
    ({"feedback.thanks_s": -1}, [], "feedback.thanks_s"),
    ({"pins.satisfied": 5}, [], "pins.satisfied"),
    ({"nosuch.key": 1}, [], "nosuch.key"),
    ({"voice.volume": 0.5}, ["storage.path"], "storage.path"),
    ({"voice.volume": 0.5}, ["voice.volume"], "voice.volume"),
])
def test_a_bad_key_or_value_is_refused_naming_it_and_nothing_is_stored(units, values, unset, key):
    from server.terminal_settings import Scope, SettingsRefused

    with pytest.raises(SettingsRefused) as refused:
        _change(units, Scope(), set_values=values, unset=unset)
    assert str(refused.value).startswith(key) and refused.value.field == key
    assert units.server.rows("terminal_settings_changes") == []


def test_the_receipts_cache_recomputes_only_on_a_new_generation_or_a_move(units):
    from server.terminal_settings import Scope, WantedVersions

    now = [0.0]
    cache = WantedVersions(recheck_s=10, clock=lambda: now[0])
    terminal = units.terminal["C01"].id
    lineage = (units.node["T99"], units.node["U01"], None, units.node["C01"])
    with units.server.engine.connect() as conn:
        assert cache.wanted(conn, terminal, lineage) is None  # nothing ever set: no version in receipts
    _change(units, Scope(node_id=units.node["U02"]), set_values={"voice.volume": 0.1})
    now[0] = 11
    with units.server.engine.connect() as conn:
        assert cache.wanted(conn, terminal, lineage) is None  # set elsewhere only
        computed = cache.computed
        for _ in range(5):
            cache.wanted(conn, terminal, lineage)
        assert cache.computed == computed  # same generation, same place: no recomputation
    fleet = _change(units, Scope(), set_values={"voice.volume": 0.2})
    with units.server.engine.connect() as conn:
        assert cache.wanted(conn, terminal, lineage) is None  # within recheck_s: not seen yet…
        cache.changed()  # …unless this process made it
        wanted = cache.wanted(conn, terminal, lineage)
        assert wanted == fleet.version  # the fleet's set is this terminal's whole set
        moved = (units.node["T99"], units.node["U02"], None, units.node["C02"])
        assert cache.wanted(conn, terminal, moved) != wanted  # a new place: computed again

"""Remote settings, the rules (issue 13): which keys the server may set, how values are checked, and what the
terminal runs when a set was applied before (its local file with the set on top)."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from kiosk.config import SCHEMA, parse_config
from kiosk.errors import ConfigError
from kiosk.ratings import LANGUAGES
from kiosk.remote_settings import REMOTE_KEYS, check_remote_values, overlay
from kiosk.settings_apply import (LIVE_KEYS, changed_keys, config_data, effective_config, needs_restart,
                                  value_of)
from kiosk.store import RatingStore
from sync import settings_state

HARDWARE_KEYS = sorted(f"{section}.{key}" for section, keys in SCHEMA.items() for key in keys
                       if f"{section}.{key}" not in REMOTE_KEYS)


def other_value(name: str):
    """A good value for ``name`` that differs from its default."""
    section, _, key = name.partition(".")
    rule = SCHEMA[section][key]
    default = rule.default
    by_kind = {
        "bool": lambda: not default,
        "seconds": lambda: default + 7,
        "count": lambda: int(rule.minimum) + 1 if default != int(rule.minimum) + 1 else int(rule.minimum) + 2,
        "fraction": lambda: 0.25,
        "choice": lambda: next(c for c in rule.choices if c != default),
        "reasons": lambda: ["staff_attitude", "processing_time"],
        "pattern": lambda: "^[0-9]{6,12}$",
        "badge_pattern": lambda: "^NV(?P<code>[0-9]{3,6})$",
        "clock_time": lambda: "18:15",
        "citizen_text": lambda: "Anh/chị có hài lòng không?",
        "opening_hours": lambda: "Mon-Fri 07:30-17:00; Sat 07:30-11:30",
    }
    return by_kind[rule.kind]()


def test_the_new_sections_are_remote():
    assert {f"texts.{name}_{lang}" for name in ("question", "thanks") for lang in LANGUAGES} <= REMOTE_KEYS
    assert "hours.opening" in REMOTE_KEYS
    # Every remote key is a key of the local config.
    assert all(name.partition(".")[2] in SCHEMA[name.partition(".")[0]] for name in REMOTE_KEYS)


@pytest.mark.parametrize("name", sorted(REMOTE_KEYS))
def test_each_remote_key_is_accepted_and_lands_in_the_config(name):
    value = other_value(name)
    checked = check_remote_values({name: value})
    assert list(checked) == [name]
    local = parse_config({})
    config = overlay(config_data(local), {name: value})
    got = value_of(config, name)
    assert (list(got) if isinstance(got, tuple) else got) == value
    assert changed_keys(local, config) == {name}


@pytest.mark.parametrize("name", HARDWARE_KEYS)
def test_hardware_and_local_keys_are_refused(name):
    section, _, key = name.partition(".")
    with pytest.raises(ConfigError, match=rf"^{name}: not a remote setting"):
        check_remote_values({name: SCHEMA[section][key].default})


def test_the_local_file_keeps_pins_storage_server_and_log():
    for name in ("pins.satisfied", "storage.path", "server.url", "log.level", "display.rotation", "voice.folder",
                 "service.pin_hash", "terminal.id"):
        assert name not in REMOTE_KEYS


@pytest.mark.parametrize(("values", "message"), [
    ({"texts.question_vi": "Dòng một\nDòng hai"}, r"texts.question_vi: contains a control character \(U\+000A\)"),
    ({"texts.thanks_en": "x" * 161}, r"texts.thanks_en: at most 160 characters"),
    ({"texts.thanks_vi": "   "}, r"texts.thanks_vi: expected words"),
    ({"texts.question_vi": 5}, r"texts.question_vi: expected text"),
    ({"hours.opening": "Mon-Fri 7h-17h"}, r"hours.opening: '7h-17h' is not a span"),
    ({"hours.opening": "Fri-Mon 07:30-17:00"}, r"hours.opening: .*runs backwards"),
    ({"feedback.thanks_s": 0.1}, r"feedback.thanks_s: expected at least 0.5 seconds"),
    ({"feedback.reasons": ["not_a_reason"]}, r"feedback.reasons: unknown reason code"),
    ({"texts.question_fr": "Bonjour"}, r"texts.question_fr: unknown setting"),
    # JSON from the server can carry what TOML cannot: a whole number beyond any float, nested tables.
    ({"feedback.thanks_s": 10**400}, r"feedback.thanks_s: expected a finite number of seconds"),
    ({"feedback.reasons": {"a": 1}}, r"feedback.reasons: expected a list"),
    ({"voice.enabled": None}, r"voice.enabled: expected true or false"),
])
def test_bad_values_are_refused_naming_the_key(values, message):
    with pytest.raises(ConfigError, match=message):
        check_remote_values(values)


def test_empty_text_and_empty_hours_mean_built_in_and_always_open():
    config = overlay({}, {"texts.question_vi": "", "hours.opening": ""})
    assert config.texts.custom("vi") == {}
    assert config.hours.hours is None


def test_cross_key_rule_refuses_a_set_that_does_not_fit_the_local_file():
    # Three reason buttons wired locally; a set offering one reason cannot run on this terminal.
    local = parse_config({"pins": {"reasons": [5, 6, 13]}})
    check_remote_values({"feedback.reasons": ["staff_attitude"]})  # fine on its own (the server's check)
    with pytest.raises(ConfigError, match=r"\[pins\] reasons: 3 reason buttons but only 1 reasons"):
        overlay(config_data(local), {"feedback.reasons": ["staff_attitude"]})


def test_config_data_gives_the_same_config_back():
    local = parse_config({"pins": {"reasons": [5, 6]}, "feedback": {"reasons": ["staff_attitude", "facilities"]},
                          "texts": {"thanks_vi": "Xin cảm ơn"}, "hours": {"opening": "Sat 07:30-11:30"}})
    assert parse_config(config_data(local)) == local


def test_live_keys_and_restart_keys():
    assert not needs_restart({"texts.question_vi", "feedback.thanks_s", "hours.opening", "terminal.language"})
    for name in ("display.high_contrast", "display.large_text", "officers.enabled", "dossier.enabled",
                 "voice.volume", "feedback.beep"):
        assert name not in LIVE_KEYS and needs_restart({name})


# -- what a terminal runs at its start ----------------------------------------------------------

@pytest.fixture
def store(tmp_path):
    store = RatingStore(tmp_path / "kiosk.db", terminal_id="t-1")
    yield store
    store.close()


def test_the_terminal_file_has_the_settings_table(store):
    assert settings_state.has_table(store.db)
    assert set(store.db["remote_settings"].columns_dict) == {"kind", "version", "settings", "at", "why"}


def test_without_an_applied_set_the_local_file_runs(store):
    local = parse_config({"feedback": {"thanks_s": 2}})
    assert effective_config(local, store.db) is local


def test_an_applied_set_runs_on_top_of_the_local_file(store):
    local = parse_config({"feedback": {"thanks_s": 2}, "pins": {"satisfied": 5}})
    store.note_settings_applied("v1", {"feedback.thanks_s": 6, "texts.question_vi": "Hài lòng chứ?"})
    config = effective_config(local, store.db)
    assert config.feedback.thanks_s == 6.0 and config.texts.question_vi == "Hài lòng chứ?"
    assert config.pins.satisfied == 5  # the local file's
    assert "remote settings v1" in config.source


def test_a_stored_set_that_no_longer_fits_the_file_is_set_aside_and_reported(store):
    store.note_settings_applied("v1", {"feedback.reasons": ["staff_attitude"]})
    # The technician wired three reason buttons since: the set cannot run any more.
    local = parse_config({"pins": {"reasons": [5, 6, 13]}})
    assert effective_config(local, store.db) is local
    assert settings_state.applied_settings(store.db) is None
    assert settings_state.settings_error(store.db).startswith("v1: [pins] reasons: 3 reason buttons")


def test_settings_error_is_reported_only_while_the_refusal_is_the_latest(store):
    db = store.db
    settings_state.store_applied(db, "v1", {}, at="2026-12-03T08:00:00.000Z")
    settings_state.store_refused(db, "v2", "feedback.reasons: x", at="2026-12-03T08:01:00.000Z")
    assert settings_state.settings_error(db) == "v2: feedback.reasons: x"
    settings_state.store_applied(db, "v3", {}, at="2026-12-03T08:02:00.000Z")
    assert settings_state.settings_error(db) is None


def test_an_older_terminal_file_has_no_table_and_nothing_breaks():
    db = Database(memory=True)
    assert settings_state.applied_settings(db) is None and settings_state.settings_error(db) is None


# -- `kiosk status` ----------------------------------------------------------------------------

def run_status(config_path, capsys, *extra):
    from kiosk.cli import main

    try:
        main(["status", "--config", str(config_path), *extra])
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().out


@pytest.fixture
def config_path(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[terminal]\nid = "t-1"\n[storage]\npath = "{tmp_path / "kiosk.db"}"\n', encoding="utf-8")
    return path


def test_status_without_remote_settings_says_nothing_of_them(store, config_path, capsys):
    store.mark_started()
    code, out = run_status(config_path, capsys)
    assert code == 0 and "Remote settings" not in out


def test_status_shows_the_set_applied_when_and_a_refusal(store, config_path, capsys):
    settings_state.store_applied(store.db, "5f1e0c2a9b7d3e41", {"feedback.thanks_s": 5, "texts.thanks_vi": "Cảm ơn"},
                                 at="2026-12-03T08:00:00.000Z")
    code, out = run_status(config_path, capsys)
    assert ("Remote settings: version 5f1e0c2a9b7d3e41 applied at 2026-12-03T08:00:00.000Z "
            "(feedback.thanks_s, texts.thanks_vi)") in out
    assert "REFUSED" not in out
    settings_state.store_refused(store.db, "0badc0ffee000000", "feedback.reasons: 3 reason buttons but only 1 reasons",
                                 at="2026-12-03T08:05:00.000Z")
    code, out = run_status(config_path, capsys)
    assert ("Remote settings REFUSED: version 0badc0ffee000000 at 2026-12-03T08:05:00.000Z: feedback.reasons: "
            "3 reason buttons but only 1 reasons") in out
    code, out = run_status(config_path, capsys, "--json")
    import json

    info = json.loads(out)["remote_settings"]
    assert info["applied"]["version"] == "5f1e0c2a9b7d3e41" and info["applied"]["values"]["feedback.thanks_s"] == 5
    assert info["refused"]["version"] == "0badc0ffee000000"
    assert info["error"].startswith("0badc0ffee000000: feedback.reasons")


def test_the_service_screen_names_the_settings_applied_and_a_refusal(store):
    from kiosk.status import service_summary, terminal_status

    local = parse_config({"storage": {"path": str(store._path())}})
    settings_state.store_applied(store.db, "5f1e0c2a9b7d3e41", {}, at="2026-12-03T08:00:00.000Z")
    summary = service_summary(terminal_status(local, store), language="vi")
    assert "Cài đặt từ máy chủ: phiên bản 5f1e0c2a9b7d3e41, áp dụng lúc 2026-12-03T08:00:00.000Z" in summary
    settings_state.store_refused(store.db, "0badc0ffee000000", "feedback.reasons: x", at="2026-12-03T08:05:00.000Z")
    summary = service_summary(terminal_status(local, store), language="en")
    assert "Remote settings: version 5f1e0c2a9b7d3e41, applied at 2026-12-03T08:00:00.000Z; REFUSED " \
           "0badc0ffee000000: feedback.reasons: x" in summary


# -- the flow's quiet moment ---------------------------------------------------------------------

@pytest.fixture
def flow(store, clock):
    from kiosk.dossiers import DossierRules
    from kiosk.flow import RatingFlow

    local = parse_config({"dossier": {"enabled": True}})
    return RatingFlow(store, clock=clock, thanks_s=3, repeat_interval_s=0,
                      dossiers=DossierRules.from_config(local))


def test_the_flow_is_quiet_only_at_home_with_nothing_open(flow, clock):
    ran = []
    assert flow.when_quiet(lambda: ran.append("home"))
    flow.press("dissatisfied")
    assert flow.screen == "reason" and not flow.when_quiet(lambda: ran.append("reason"))
    flow.skip_reason()
    assert flow.screen == "thanks" and not flow.when_quiet(lambda: ran.append("thanks"))
    clock.advance(3.1)
    flow.tick()
    flow.invite("HS-2026-000123")
    assert flow.screen == "invitation" and not flow.when_quiet(lambda: ran.append("invitation"))
    flow.reset()
    flow.begin_service()
    assert not flow.when_quiet(lambda: ran.append("service"))
    flow.end_service()
    assert flow.when_quiet(lambda: ran.append("home again"))
    assert ran == ["home", "home again"]


def test_new_times_apply_to_the_next_rating_not_the_one_on_screen(flow, clock):
    flow.press("satisfied")
    new = overlay({}, {"feedback.thanks_s": 10, "feedback.reasons": ["facilities"], "feedback.repeat_interval_s": 0})
    flow.follow_config(new)  # (the screens only do it when quiet; the flow keeps the deadline it set)
    clock.advance(3.1)
    flow.tick()
    assert flow.screen == "home"
    flow.press("satisfied")
    clock.advance(3.1)
    flow.tick()
    assert flow.screen == "thanks"
    assert flow.reasons == ("facilities",)


def test_a_press_from_another_thread_waits_for_the_settings_being_applied(flow, clock):
    import threading
    import time

    started, pressed = threading.Event(), []

    def apply():
        started.set()
        time.sleep(0.3)  # a press arriving now must wait, then see the new settings
        flow.follow_config(overlay({}, {"feedback.thanks_s": 9}))

    worker = threading.Thread(target=lambda: flow.when_quiet(apply))
    worker.start()
    started.wait(2)
    presser = threading.Thread(target=lambda: pressed.append(flow.press("satisfied", source="button")))
    presser.start()
    presser.join(2)
    worker.join(2)
    assert pressed and flow.deadline == pytest.approx(clock() + 9)

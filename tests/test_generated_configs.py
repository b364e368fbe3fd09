"""Generated terminal configs against the config rules (issue 10, suite 3).

Hypothesis writes ``kiosk.toml`` files from :data:`kiosk.config.SCHEMA`: a valid one loads with exactly the
values it gives (defaults for the rest); the same config with one key made invalid (each kind of fault for each
kind of key: wrong type, out of range, not finite, control character, empty path, unknown key or section) is
refused with a :class:`ConfigError` naming that key. Some of each go through the real ``kiosk status``
command: exit status 2 and one sentence naming the key, never a traceback.
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.config import CITIZEN_TEXT_MAX, GPIO_RANGE, SCHEMA, load_config
from kiosk.errors import ConfigError
from kiosk.ratings import MAX_REASONS, REASONS
from reliability import SOAK, record, scale
from sync.names import NAME_MAX, TERMINAL_ID_MAX

pytestmark = pytest.mark.reliability

COMMAND = "HAILONG_SOAK=1 .venv/bin/python -m pytest -m reliability tests/test_generated_configs.py"
#: Hypothesis: CI small and derandomized, soak large and random.
LOADED = scale(300, 10_000)
THROUGH_CLI = scale(4, 60)


def _settings(examples: int):
    return settings(max_examples=examples, deadline=None, database=None, derandomize=not SOAK,
                    suppress_health_check=list(HealthCheck))


TALLY = {"valid": 0, "invalid": 0, "cli": 0}
KIOSK = Path(sys.executable).with_name("kiosk")
#: Any character TOML can hold and a name may have (no control characters, no lone surrogates).
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"))
SERVER_URLS = ["", "https://hailong.example.vn", "https://hailong.example.vn:8443/", "http://127.0.0.1:8000"]


# -- writing TOML (tomllib only reads) -----------------------------------------------------------------------

def toml_value(value) -> str:
    """One TOML value. JSON's string escapes are TOML's, except that TOML wants DEL escaped too.

        >>> toml_value("a\\"b"), toml_value(False), toml_value([1, 2]), toml_value(float("nan"))
        ('"a\\\\"b"', 'false', '[1, 2]', 'nan')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def toml_text(config: dict[str, dict]) -> str:
    return "".join(f"[{section}]\n" + "".join(f"{key} = {toml_value(v)}\n" for key, v in keys.items()) + "\n"
                   for section, keys in config.items())


# -- valid configs ---------------------------------------------------------------------------------------------

def _seconds(key):
    top = 1e6 if key.maximum is None else key.maximum  # e.g. [server] drain_spread_s, at most 3600
    return st.one_of(st.floats(min_value=key.minimum, max_value=top, allow_nan=False),
                     st.integers(min_value=math.ceil(key.minimum), max_value=int(top)))


def _count(key):
    return st.integers(min_value=int(key.minimum), max_value=int(key.maximum))


def _value(section: str, name: str, key):
    if (section, name) == ("server", "url"):
        return st.sampled_from(SERVER_URLS)
    return {
        "str": lambda: st.text(PRINTABLE, max_size=40),
        "path": lambda: st.text(PRINTABLE, min_size=1, max_size=40).filter(str.strip),
        "name": lambda: st.text(PRINTABLE, max_size=NAME_MAX),
        "terminal_id": lambda: st.text(PRINTABLE, min_size=1, max_size=TERMINAL_ID_MAX),
        "choice": lambda: st.sampled_from(key.choices),
        "bool": st.booleans,
        "seconds": lambda: _seconds(key),
        "count": lambda: _count(key),
        "fraction": lambda: st.one_of(st.floats(min_value=0, max_value=1), st.sampled_from([0, 1])),
        "pattern": lambda: st.sampled_from([r"^[A-Za-z0-9][A-Za-z0-9._/-]{5,47}$", r"^HS-\d{4}-\d{6}$", "^.+$"]),
        "badge_pattern": lambda: st.sampled_from([r"^CB(?P<code>[A-Za-z0-9._-]{2,32})$", r"^NV-(?P<code>\d{5})$"]),
        "clock_time": lambda: st.one_of(st.just(""), st.builds("{:02d}:{:02d}".format, st.integers(0, 23),
                                                               st.integers(0, 59))),
        # Issue 13: [texts] and [hours].
        "citizen_text": lambda: st.one_of(st.just(""), st.text(PRINTABLE, min_size=1, max_size=CITIZEN_TEXT_MAX)
                                          .filter(str.strip)),
        "opening_hours": lambda: st.sampled_from(["", "Mon-Fri 07:30-17:00; Sat 07:30-11:30",
                                                  "Mon 08:00-12:00, 13:00-17:00", "sun 00:00-24:00"]),
        # an Ed25519 public key: any 32 bytes in base64 (or none)
        "public_key": lambda: st.one_of(st.just(""), st.binary(min_size=32, max_size=32).map(
            lambda raw: base64.b64encode(raw).decode())),
    }[key.kind]()


@st.composite
def valid_configs(draw) -> dict[str, dict]:
    """A valid config as TOML tables, each key present or left to its default."""
    config: dict[str, dict] = {}

    def maybe(section, name, value):
        if draw(st.booleans()):
            config.setdefault(section, {})[name] = value

    wiring = iter(draw(st.permutations(list(GPIO_RANGE))))  # every wired pin different
    reasons = draw(st.lists(st.sampled_from(REASONS), unique=True, max_size=MAX_REASONS))
    pins = {("pins", "very_satisfied"), ("pins", "satisfied"), ("pins", "dissatisfied")}
    for section, keys in SCHEMA.items():
        for name, key in keys.items():
            if key.kind == "reasons":
                maybe(section, name, reasons)
            elif key.kind == "pins":  # as many reason buttons as reasons at most
                offered = reasons if "reasons" in config.get("feedback", {}) else REASONS
                count = draw(st.integers(0, len(offered)))
                maybe(section, name, [next(wiring) for _ in range(count)])
            elif key.kind == "pin":
                pin = next(wiring)
                if (section, name) in pins:
                    # A default rating pin (17, 27, 22) stays wired when the key is left out: keep it.
                    config.setdefault(section, {})[name] = pin
                else:
                    maybe(section, name, pin)
            else:
                maybe(section, name, draw(_value(section, name, key)))
    return config


def expected_value(section: str, name: str, config: dict):
    key = SCHEMA[section][name]
    value = config.get(section, {}).get(name, key.default)
    if key.kind in ("pins", "reasons"):
        return tuple(value)
    if key.kind in ("seconds", "fraction"):
        return float(value)
    return value


# -- one key made invalid ---------------------------------------------------------------------------------------

def _bad_seconds(key):
    outside = [st.floats(max_value=key.minimum, exclude_max=True, allow_nan=False, allow_infinity=False,
                         min_value=-1e9).filter(lambda v: v < key.minimum)]
    if key.maximum is not None:
        outside.append(st.floats(min_value=key.maximum, exclude_min=True, max_value=1e9, allow_nan=False))
    return st.one_of(*outside, st.sampled_from([math.nan, math.inf, -math.inf, "5", True, [1]]))


def _bad_count(key):
    return st.one_of(st.integers(max_value=int(key.minimum) - 1, min_value=-10**9),
                     st.integers(min_value=int(key.maximum) + 1, max_value=10**12),
                     st.sampled_from([1.5, 2.0, "3", True, math.nan]))


def _control_text():
    return st.tuples(st.text(PRINTABLE, max_size=10), st.characters(whitelist_categories=("Cc",)),
                     st.text(PRINTABLE, max_size=10)).map("".join)


BAD_VALUES = {
    "str": lambda key: st.one_of(_control_text(), st.sampled_from([1, True, 2.5, ["a"]])),
    "path": lambda key: st.one_of(_control_text(), st.sampled_from(["", "  ", 7, False, ["var/kiosk.db"]])),
    "name": lambda key: st.one_of(_control_text(), st.text(PRINTABLE, min_size=NAME_MAX + 1, max_size=300),
                                  st.sampled_from([1, True, ["Quầy 1"]])),
    "terminal_id": lambda key: st.one_of(_control_text(), st.text(PRINTABLE, min_size=TERMINAL_ID_MAX + 1,
                                                                  max_size=300),
                                         st.sampled_from(["", 1, True, ["t1"]])),
    "choice": lambda key: st.one_of(
        st.text(PRINTABLE, max_size=8).filter(lambda v: v not in key.choices),
        st.integers(-400, 400).filter(lambda v: v not in key.choices),
        st.sampled_from([True, False, 90.0, 0.0, ["vi"]])),
    "bool": lambda key: st.sampled_from([0, 1, "true", "yes", 1.0, [True]]),
    "seconds": _bad_seconds,
    "count": _bad_count,
    "fraction": lambda key: st.one_of(st.floats(min_value=1, exclude_min=True, allow_nan=False, allow_infinity=False),
                                      st.floats(max_value=0, exclude_max=True, allow_nan=False, allow_infinity=False),
                                      st.sampled_from([math.nan, math.inf, "0.5", True, [0.5]])),
    "pin": lambda key: st.one_of(st.integers(-100, 1), st.integers(28, 10**6),
                                 st.sampled_from([17.0, "17", True, [17]])),
    "pins": lambda key: st.one_of(st.sampled_from([17, "19", True]),
                                  st.lists(st.integers(2, 27), min_size=MAX_REASONS + 1, max_size=10),
                                  st.sampled_from([[0], [19, 28], [19.0], ["19"]])),
    "pattern": lambda key: st.one_of(_control_text(), st.sampled_from(["", "(", "[a-", "x{2,1}", 5, True, ["^x$"]])),
    "badge_pattern": lambda key: st.one_of(_control_text(), st.sampled_from(
        ["", "(", "^CB(.*)$", r"^CB\d+$", "^(?P<kode>.+)$", 5, False])),
    "clock_time": lambda key: st.one_of(_control_text(), st.sampled_from(
        ["24:00", "7:30", "17:60", "1730", "17:30:00", " 17:30", "noon", 1730, True, 17.5])),
    "citizen_text": lambda key: st.one_of(_control_text(), st.text(PRINTABLE, min_size=CITIZEN_TEXT_MAX + 1,
                                                                    max_size=300).filter(str.strip),
                                          st.sampled_from(["   ", 1, True, ["Cảm ơn"]])),
    "opening_hours": lambda key: st.one_of(_control_text().filter(str.strip), st.sampled_from(
        ["Mon 7-8", "Fri-Mon 07:30-17:00", "Mon 17:00-07:30", "Funday 08:00-09:00", "Mon 25:00-26:00", 5, True])),
    "public_key": lambda key: st.one_of(st.binary(max_size=64).filter(lambda raw: len(raw) != 32).map(
        lambda raw: base64.b64encode(raw).decode()).filter(bool), st.sampled_from(["not base64!", 5, True, ["k"]])),
    "reasons": lambda key: st.one_of(st.sampled_from([[1], ["processing_time", "processing_time"], "facilities",
                                                      ["queue_length"], list(REASONS) + ["facilities"]]),
                                     st.lists(st.text(PRINTABLE, max_size=12).filter(lambda v: v not in REASONS),
                                              min_size=1, max_size=3)),
}
KEYS = [(section, name) for section, keys in SCHEMA.items() for name in keys]


@st.composite
def invalid_configs(draw) -> tuple[dict, str]:
    """A valid config with one fault, and the words the refusal must contain (the key it names)."""
    config = draw(valid_configs())
    fault = draw(st.sampled_from(["value"] * 8 + ["unknown key", "unknown section"]))
    if fault == "unknown section":
        section = draw(st.text(st.characters(whitelist_categories=("Ll",), max_codepoint=127), min_size=1,
                               max_size=10).filter(lambda s: s not in SCHEMA))
        config[section] = {"x": 1}
        return config, f"[{section}]: unknown section"
    section, name = draw(st.sampled_from(KEYS))
    if fault == "unknown key":
        name = draw(st.sampled_from(["sadisfied", "pin_2", "id2", "Path", "reason_timeout"]))
        config.setdefault(section, {})[name] = 1
        return config, f"[{section}] {name}: unknown key"
    config.setdefault(section, {})[name] = draw(BAD_VALUES[SCHEMA[section][name].kind](SCHEMA[section][name]))
    return config, f"[{section}] {name}"


def _write(folder: Path, config: dict) -> Path:
    path = folder / "kiosk.toml"
    path.write_text(toml_text(config), encoding="utf-8")
    return path


# -- the properties ---------------------------------------------------------------------------------------------

@_settings(LOADED)
@given(config=valid_configs())
def _valid_config_loads_with_its_values(config):
    with tempfile.TemporaryDirectory(prefix="hl-config-") as folder:
        loaded = load_config(_write(Path(folder), config))
    for section, name in KEYS:
        assert getattr(getattr(loaded, section), name) == expected_value(section, name, config), (section, name)
    TALLY["valid"] += 1


@_settings(LOADED)
@given(case=invalid_configs())
def _invalid_config_is_refused_naming_the_key(case):
    config, named = case
    with tempfile.TemporaryDirectory(prefix="hl-config-") as folder:
        with pytest.raises(ConfigError) as refused:
            load_config(_write(Path(folder), config))
    message = str(refused.value)
    assert message.startswith(named), f"{message!r} does not name {named!r}"
    assert "\n" not in message
    TALLY["invalid"] += 1


def _kiosk_status(folder: Path, config: dict) -> subprocess.CompletedProcess:
    # The terminal's files go in the test's folder (cwd; a config's relative path lands there too); no server.
    config.setdefault("storage", {}).setdefault("path", str(folder / "var" / "kiosk.db"))
    config.setdefault("server", {})["url"] = ""
    return subprocess.run([str(KIOSK), "status", "--config", str(_write(folder, config))], capture_output=True,
                          text=True, timeout=120, cwd=folder)


@_settings(THROUGH_CLI)
@given(config=valid_configs(), case=invalid_configs())
def _kiosk_command_takes_the_valid_and_refuses_the_invalid(config, case):
    with tempfile.TemporaryDirectory(prefix="hl-config-") as folder:
        config.pop("storage", None)
        taken = _kiosk_status(Path(folder), config)
    assert "Traceback" not in taken.stderr, taken.stderr
    assert taken.returncode == 1 and f"no database at {Path(folder).resolve() / 'var' / 'kiosk.db'}" in taken.stderr
    bad, named = case
    with tempfile.TemporaryDirectory(prefix="hl-config-") as folder:
        refused = _kiosk_status(Path(folder), bad) if not named.startswith("[server] url") else None
    if refused is not None:
        assert "Traceback" not in refused.stderr, refused.stderr
        assert refused.returncode == 2, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and named in lines[0], refused.stderr
        TALLY["cli"] += 1
    TALLY["cli"] += 1


def test_generated_configs_load_with_their_values_or_are_refused_naming_the_key():
    for key in TALLY:
        TALLY[key] = 0
    _valid_config_loads_with_its_values()
    _invalid_config_is_refused_naming_the_key()
    _kiosk_command_takes_the_valid_and_refuses_the_invalid()
    assert TALLY["valid"] >= LOADED // 2 and TALLY["invalid"] >= LOADED // 2 and TALLY["cli"] >= THROUGH_CLI
    record("Generated terminal configs", cases=sum(TALLY.values()), valid=TALLY["valid"],
           invalid=TALLY["invalid"], through_kiosk_command=TALLY["cli"], command=COMMAND)


# -- defects the generated configs found (each also a plain regression test) -------------------------------------

@pytest.mark.parametrize("toml, named", [
    ('[storage]\npath = "var/ki\\u0000osk.db"\n', "[storage] path: contains a control character (U+0000)"),
    ('[storage]\npath = ""\n', "[storage] path: expected the path of a file"),
    ('[server]\ntoken_file = "x\\u0000"\n', "[server] token_file: contains a control character (U+0000)"),
    ('[display]\nrotation = false\n', "[display] rotation: expected one of"),
    ('[display]\nrotation = 90.0\n', "[display] rotation: expected one of"),
    ('[feedback]\nrepeat_interval_s = nan\n', "[feedback] repeat_interval_s: expected a finite number"),
    ('[feedback]\nthanks_s = inf\n', "[feedback] thanks_s: expected a finite number"),
])
def test_config_faults_found_by_generated_configs_are_refused_naming_the_key(tmp_path, toml, named):
    path = tmp_path / "kiosk.toml"
    path.write_text(toml, encoding="utf-8")
    taken = subprocess.run([str(KIOSK), "status", "--config", str(path)], capture_output=True, text=True,
                           timeout=120, cwd=tmp_path)
    assert "Traceback" not in taken.stderr
    assert taken.returncode == 2 and named in taken.stderr, taken.stderr

"""`make demo` can push a remote setting the demo terminal shows (issue 13): its heartbeat is short, and the
`kiosk-server settings set` lines it prints (the server's CLI, another branch's) are settings the demo terminal
accepts. The terminal's applying them on screen is tests/test_remote_settings_ui.py's."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from kiosk.config import load_config
from kiosk.remote_settings import check_remote_values, overlay
from kiosk.settings_apply import changed_keys, config_data, needs_restart

ROOT = Path(__file__).resolve().parent.parent
DEMO = (ROOT / "deploy" / "demo.sh").read_text(encoding="utf-8")


def printed_settings() -> list[dict]:
    """The KEY=VALUE arguments of each `kiosk-server settings set` line the demo prints, as the CLI reads them
    (the contract: VALUE is a TOML value, bare words are text)."""
    found = []
    for line in re.findall(r"^\s+\$BIN/kiosk-server settings set (.+)$", DEMO, re.M):
        values = {}
        for word in shlex.split(line):
            if word.startswith("--") or word == "demo":
                continue
            key, _, raw = word.partition("=")
            try:
                values[key] = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                values[key] = raw
        found.append(values)
    return found


def test_the_demo_terminal_asks_the_server_every_15_s():
    assert re.search(r"printf '.*heartbeat_s = 15\\n'", DEMO)
    # An older demo config (without it) is made again.
    assert "! grep -q '^heartbeat_s = '" in DEMO


def test_the_printed_settings_are_accepted_by_the_demo_terminal_and_show_without_a_restart():
    printed = printed_settings()
    assert len(printed) == 2 and printed[0] == {
        "texts.question_vi": "Anh/chị có hài lòng với Quầy 1 hôm nay không?"}
    local = load_config(ROOT / "deploy" / "demo.toml")
    for values in printed:
        check_remote_values(values)
        config = overlay(config_data(local), values)
        changed = changed_keys(local, config)
        assert changed == set(values) and not needs_restart(changed)
    assert overlay(config_data(local), printed[1]).feedback.thanks_s == 6.0

"""Config validation: every bad config names its key and exits with status 2."""

import subprocess
import sys

import pytest

from kiosk.cli import main
from kiosk.config import SCHEMA, load_config, parse_config

GOOD = """
[terminal]
id = "hd-phucla-01"
site = "UBND phường Phúc La"
counter = "Quầy 1"
language = "en"

[feedback]
reasons = ["processing_time", "staff_attitude"]
reason_timeout_s = 15
thanks_s = 2.5

[pins]
very_satisfied = 5
satisfied = 6
dissatisfied = 13
reasons = [19, 26]
skip = 21

[leds]
satisfied = 23

[buzzer]
pin = 18
"""

# (TOML text, words the one-sentence message must contain)
BAD = [
    ("[pins]\nsadisfied = 3\n", "[pins] sadisfied: unknown key"),
    ("[screen]\nsize = 7\n", "[screen]: unknown section"),
    ("[feedback]\nthanks_s = \"three\"\n", "[feedback] thanks_s: expected a number of seconds"),
    ("[feedback]\nthanks_s = true\n", "[feedback] thanks_s: expected a number of seconds"),
    ("[feedback]\nreason_timeout_s = 0\n", "[feedback] reason_timeout_s: expected at least 1 seconds"),
    ("[feedback]\nrepeat_interval_s = -1\n", "[feedback] repeat_interval_s: expected at least 0 seconds"),
    ("[feedback]\nreasons = [\"waiting_room\"]\n", "[feedback] reasons: unknown reason code 'waiting_room'"),
    ("[feedback]\nreasons = \"facilities\"\n", "[feedback] reasons: expected a list of reason codes"),
    ("[feedback]\nreasons = [\"facilities\", \"facilities\"]\n", "[feedback] reasons: each reason may appear once"),
    ("[feedback]\nreasons = [\"processing_time\", \"staff_attitude\", \"unclear_guidance\", \"complex_procedure\","
     " \"repeat_visits\", \"facilities\", \"facilities\"]\n", "[feedback] reasons: expected at most 6 reasons"),
    ("[feedback]\nbeep = \"yes\"\n", "[feedback] beep: expected true or false"),
    ("[terminal]\nlanguage = \"fr\"\n", "[terminal] language: expected one of 'vi', 'en'"),
    ("[terminal]\nsite = 7\n", "[terminal] site: expected text in quotes"),
    # The server stores at most 64 characters of a terminal id and refuses every batch with a longer one.
    ("[terminal]\nid = \"" + "t" * 65 + "\"\n", "[terminal] id: the id is 65 characters long; at most 64"),
    ("[terminal]\nid = \"\"\n", "[terminal] id: the id is empty"),
    ("[pins]\nsatisfied = 17\n", "[pins] satisfied: pin 17 is already used by [pins] very_satisfied"),
    ("[leds]\nsatisfied = 22\n", "[leds] satisfied: pin 22 is already used by [pins] dissatisfied"),
    ("[buzzer]\npin = 27\n", "[buzzer] pin: pin 27 is already used by [pins] satisfied"),
    ("[pins]\nreasons = [5, 5]\n", "[pins] reasons[2]: pin 5 is already used by [pins] reasons[1]"),
    ("[pins]\nsatisfied = 40\n", "[pins] satisfied: expected a BCM GPIO number from 2 to 27"),
    ("[pins]\nskip = \"GPIO5\"\n", "[pins] skip: expected a BCM GPIO number"),
    ("[pins]\nreasons = [2, 3, 4, 5, 6, 7, 8]\n", "[pins] reasons: expected at most 6 reason buttons"),
    ("[feedback]\nreasons = [\"facilities\"]\n[pins]\nreasons = [5, 6]\n",
     "[pins] reasons: 2 reason buttons but only 1 reasons"),
    ("[log]\nlevel = \"LOUD\"\n", "[log] level: expected one of"),
    # Officers and dossiers (issue 12): patterns must compile, a badge pattern must name its code, times are HH:MM.
    ("[officers]\nbadge_pattern = \"^CB([0-9]+)$\"\n", "[officers] badge_pattern: the pattern needs a group named code"),
    ("[officers]\nbadge_pattern = \"^CB(?P<code>[0-9+$\"\n", "[officers] badge_pattern: not a valid regular expression"),
    ("[dossier]\npattern = \"^HS-(\"\n", "[dossier] pattern: not a valid regular expression"),
    ("[dossier]\npattern = \"\"\n", "[dossier] pattern: expected a regular expression"),
    ("[officers]\nsign_out_at = \"5:30 PM\"\n", "[officers] sign_out_at: expected a time of day as HH:MM"),
    ("[officers]\nsign_out_at = \"24:00\"\n", "[officers] sign_out_at: expected a time of day as HH:MM"),
    ("[officers]\nsign_out_at = 1730\n", "[officers] sign_out_at: expected text in quotes"),
    ("[officers]\npin_attempts = 0\n", "[officers] pin_attempts: expected a whole number from 1 to 100"),
    ("[officers]\npin_lock_s = 0.5\n", "[officers] pin_lock_s: expected at least 1 seconds"),
    ("[officers]\nenabled = \"yes\"\n", "[officers] enabled: expected true or false"),
    ("[dossier]\ninvitation_s = 2\n", "[dossier] invitation_s: expected at least 5 seconds"),
    ("[dossier]\nlength = 12\n", "[dossier] length: unknown key"),
    ("pins = 3\n", "pins: expected a [pins] table"),
    ("[terminal\nid = 1\n", "is not valid TOML"),
]


def run_kiosk(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr()


@pytest.mark.parametrize("text,message", BAD, ids=[m for _, m in BAD])
def test_bad_config_names_the_key_and_exits_2(tmp_path, capsys, text, message):
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    code, out = run_kiosk(["status", "--config", str(path)], capsys)
    assert code == 2
    assert message in out.err
    assert out.err.startswith("kiosk: config error: ") and out.err.count("\n") == 1
    assert "Traceback" not in out.err


def test_a_terminal_id_of_64_characters_is_accepted(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(f"[terminal]\nid = \"{'t' * 64}\"\n", encoding="utf-8")
    assert load_config(path).terminal.id == "t" * 64


def test_missing_config_file_exits_2(tmp_path, capsys):
    code, out = run_kiosk(["status", "--config", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and "does not exist" in out.err


def test_config_from_environment_variable_is_checked_too(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text("[pins]\nsadisfied = 3\n")
    proc = subprocess.run([sys.executable, "-m", "kiosk", "status"], capture_output=True, text=True,
                          env={"KIOSK_CONFIG": str(path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "kiosk: config error: [pins] sadisfied: unknown key; [pins] takes very_satisfied, satisfied, "
        "dissatisfied, reasons, skip, bounce_s")


def test_good_config_loads_every_value(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(GOOD, encoding="utf-8")
    config = load_config(path)
    assert config.terminal.site == "UBND phường Phúc La" and config.terminal.language == "en"
    assert config.feedback.reasons == ("processing_time", "staff_attitude")
    assert (config.feedback.reason_timeout_s, config.feedback.thanks_s) == (15.0, 2.5)
    assert config.pins.reasons == (19, 26) and config.pins.skip == 21
    assert config.leds.rating_pins() == {"satisfied": 23}
    assert config.buzzer.pin == 18 and config.source == str(path)


def test_defaults_match_the_architecture():
    config = parse_config({})
    assert config.pins.rating_pins() == {"very_satisfied": 17, "satisfied": 27, "dissatisfied": 22}
    assert (config.feedback.reason_timeout_s, config.feedback.thanks_s,
            config.feedback.repeat_interval_s) == (20.0, 3.0, 5.0)
    assert len(config.feedback.reasons) == 6 and config.terminal.language == "vi"
    assert config.storage.path == "var/kiosk.db"


def test_every_key_has_help():
    assert all(key.help for keys in SCHEMA.values() for key in keys.values())


def test_officers_and_dossier_settings_load(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[officers]\nenabled = true\nbadge_pattern = "^NV-(?P<code>\\\\d{5})$"\nsign_out_at = ""\n'
                    'pin_attempts = 3\npin_lock_s = 120\n'
                    '[dossier]\nenabled = true\npattern = "^H26\\\\.\\\\d{2}-\\\\d{6}-\\\\d{4}$"\ninvitation_s = 90\n',
                    encoding="utf-8")
    config = load_config(path)
    assert (config.officers.enabled, config.officers.badge_pattern, config.officers.sign_out_at,
            config.officers.pin_attempts, config.officers.pin_lock_s) == (True, r"^NV-(?P<code>\d{5})$", "", 3, 120.0)
    assert (config.dossier.enabled, config.dossier.pattern, config.dossier.invitation_s) == \
        (True, r"^H26\.\d{2}-\d{6}-\d{4}$", 90.0)
    defaults = load_config(None)
    assert (defaults.officers.enabled, defaults.dossier.enabled, defaults.officers.sign_out_at) == (False, False, "17:30")

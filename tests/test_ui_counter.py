"""The officer's side of the screens, driven headless: badge and dossier scans as a USB scanner types them
(key events on the real window, milliseconds apart, ended by Enter), the sign-in screen's PIN pad, the
invitation, and what was stored.

Each test starts a fresh terminal (SQLite file under tmp_path, mock pins) and app on the session's one window
(see ``KioskDriver`` in conftest); officers are put in the terminal's officers cache as a server would send them.
"""

from __future__ import annotations

import io
import math
import sqlite3
import time

import pytest

from kiosk.service_pin import hash_pin
from kiosk.dossiers import shorten
from kiosk.texts import TEXTS

pytestmark = pytest.mark.ui

PIN = "2468"
DOSSIER = "000.00.31.H26-261202-0042"
OFFICERS = [
    {"code": "PL001", "name": "Nguyễn Thị Lan", "pin": PIN, "counters": [], "photo": True},
    {"code": "PL002", "name": "Trần Văn Minh", "pin": "1357", "counters": [], "photo": False},
    {"code": "HC009", "name": "Lê Văn Hà", "pin": "1111", "counters": ["Quầy 7"], "photo": False},
]
COUNTER = {"officers": {"enabled": True}, "dossier": {"enabled": True}}


def photo_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 96), (200, 220, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((28, 12, 68, 52), fill=(90, 60, 40))
    draw.rectangle((18, 56, 78, 96), fill=(20, 60, 110))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def seed_officers(terminal, officers=OFFICERS) -> None:
    """The terminal's officers cache (table ``officers``), as the uploader fills it from the server's list."""
    import json

    rows = [{"code": o["code"], "name": o["name"], "pin_hash": hash_pin(o["pin"], rounds=1000),
             "counters": json.dumps(o["counters"]), "photo": photo_png() if o["photo"] else None,
             "version": "test-1"} for o in officers]
    terminal.store.db["officers"].insert_all(rows)


@pytest.fixture
def counter_kiosk(start_kiosk):
    """A terminal that signs officers in and takes dossier codes, with three officers in its cache."""
    def start(**sections):
        merged = {**COUNTER, **sections}
        for name in COUNTER:
            merged[name] = {**COUNTER[name], **sections.get(name, {})}
        kiosk = start_kiosk(**merged)
        seed_officers(kiosk.terminal)
        return kiosk
    return start


# -- a USB scanner, as the window sees it ---------------------------------------------------------

def scan(kiosk, text: str, *, enter: bool = True, gap_s: float = 0.0, settle: bool = True) -> None:
    """``text`` typed as a scanner types it: key down/up per character (Shift for capitals), then Enter."""
    from kivy.core.window import Window

    for char in text:
        lower = char.lower()
        modifiers = ["shift"] if char.isupper() or char == "_" else []
        key = ord("-") if char == "_" else ord(lower)
        Window.dispatch("on_key_down", key, 0, lower, modifiers)
        Window.dispatch("on_key_up", key, 0)
        if gap_s:
            time.sleep(gap_s)
    if enter:
        Window.dispatch("on_key_down", 13, 40, None, [])
        Window.dispatch("on_key_up", 13, 40)
    if settle:
        kiosk.frames(3)


def type_slowly(kiosk, keys: str) -> None:
    """A person at a keyboard: one key, then a pause."""
    for key in keys:
        kiosk.key(key)
        kiosk.advance(0.2)


def notice(kiosk) -> str:
    shown = kiosk.app.desk.notice
    return shown.text if shown.shown else ""


def table(kiosk, name: str) -> list[dict]:
    with sqlite3.connect(kiosk.terminal.config.storage.path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(f"SELECT * FROM {name}")]  # noqa: S608 - a fixed table name


def banner(kiosk) -> str:
    title, name = (kiosk.widget("home", key).text for key in ("officer_title", "officer_name"))
    return f"{title} {name}" if name else title


def open_signin(kiosk) -> None:
    kiosk.app.desk.signin_hold_s = 0.3
    kiosk.touch(kiosk.widget("home", "officer"), hold=0.5)
    assert kiosk.screen == "signin"


def signin_screen(kiosk):
    return kiosk.app.root.get_screen("signin")


def touch_pad(kiosk, keys: str) -> None:
    screen = signin_screen(kiosk)
    for key in keys:
        pad = {w.key: w for w in screen.ids.pad.children}
        if key not in pad:  # a letter while the pad shows digits, or the other way round
            kiosk.touch(pad["switch"])
            pad = {w.key: w for w in screen.ids.pad.children}
        kiosk.touch(pad[key])


def sign_in_by_pin(kiosk, code: str, pin: str) -> None:
    touch_pad(kiosk, code)
    kiosk.touch(kiosk.widget("signin", "pin"))
    touch_pad(kiosk, pin)
    kiosk.touch(kiosk.widget("signin", "ok"))


# -- badges ------------------------------------------------------------------------------------

def test_a_badge_scan_puts_the_officers_name_on_home(counter_kiosk):
    kiosk = counter_kiosk()
    assert banner(kiosk) == ""  # nobody signed in: nothing shown
    scan(kiosk, "CBPL001")
    assert kiosk.terminal.flow.officer == "PL001"
    assert banner(kiosk) == "Cán bộ tiếp nhận: Nguyễn Thị Lan"
    assert kiosk.widget("home", "officer_photo").opacity == 1  # the cache has a photo
    assert notice(kiosk) == TEXTS["vi"]["signed_in"].format(name="Nguyễn Thị Lan")
    assert kiosk.screen == "home" and kiosk.rows() == []  # a scan is no press
    [shift] = table(kiosk, "shifts")
    assert (shift["officer"], shift["sign_in_how"], shift["signed_out_at"]) == ("PL001", "badge", None)


def test_the_same_badge_again_signs_out_and_another_hands_over(counter_kiosk):
    kiosk = counter_kiosk()
    scan(kiosk, "CBPL001")
    scan(kiosk, "CBPL002")  # hand-over
    assert kiosk.terminal.flow.officer == "PL002"
    assert banner(kiosk) == "Cán bộ tiếp nhận: Trần Văn Minh"
    assert kiosk.widget("home", "officer_photo").opacity == 0  # no photo for this one: the name alone
    scan(kiosk, "CBPL002")
    assert kiosk.terminal.flow.officer is None and banner(kiosk) == ""
    shifts = table(kiosk, "shifts")
    assert sorted((s["officer"], s["sign_in_how"], s["sign_out_how"]) for s in shifts) == [
        ("PL001", "badge", "badge"), ("PL002", "badge", "badge")]
    assert all(s["signed_out_at"] for s in shifts)


@pytest.mark.parametrize(("badge", "message"), [("CBZZ404", "officer_unknown"), ("CBHC009", "officer_not_here")])
def test_a_badge_that_may_not_sign_in_here_says_why(counter_kiosk, badge, message):
    kiosk = counter_kiosk()
    scan(kiosk, badge)
    assert kiosk.terminal.flow.officer is None and banner(kiosk) == ""
    assert notice(kiosk) == TEXTS["vi"][message]


def test_a_partial_scan_says_so_and_changes_nothing(counter_kiosk):
    kiosk = counter_kiosk()
    scan(kiosk, "CBPL0", enter=False)  # the scanner moved away mid-code: no Enter
    assert kiosk.wait_for(lambda: notice(kiosk) == TEXTS["vi"]["scan_partial"], timeout=2)
    assert kiosk.terminal.flow.officer is None and kiosk.rows() == []
    scan(kiosk, "CBPL001")  # the next scan reads whole
    assert kiosk.terminal.flow.officer == "PL001"


def test_a_press_while_a_badge_is_being_read_is_not_counted(counter_kiosk):
    kiosk = counter_kiosk()
    scan(kiosk, "CBPL", enter=False, settle=False)  # the burst is still coming in ...
    kiosk.terminal.keyboard.tap("1")  # ... when a button is pressed
    [row] = kiosk.rows()
    assert (row["filtered"], row["filter_cause"]) == (1, "signin")


def test_a_code_of_neither_pattern_is_a_plain_sentence(counter_kiosk, caplog):
    kiosk = counter_kiosk()
    scan(kiosk, "#?!x")
    assert notice(kiosk) == TEXTS["vi"]["scan_unknown"]
    assert "Traceback" not in caplog.text and kiosk.screen == "home"


def test_typing_slowly_still_drives_the_mock_pins(counter_kiosk):
    kiosk = counter_kiosk()
    type_slowly(kiosk, "2")
    assert kiosk.wait_for(lambda: kiosk.screen == "thanks", timeout=2)
    [row] = kiosk.rows()
    assert (row["rating"], row["source"], row["filtered"]) == ("satisfied", "button", 0)


def test_a_burst_of_digits_is_a_scan_not_presses(counter_kiosk):
    kiosk = counter_kiosk(dossier={"pattern": "^[0-9]{6,}$"})
    scan(kiosk, "12312399")
    assert kiosk.screen == "invitation"
    assert kiosk.rows() == []  # no mock pin was pressed by the scanner's digits


def test_a_held_key_is_one_press_not_a_burst(counter_kiosk):
    from kivy.core.window import Window

    kiosk = counter_kiosk()
    for _ in range(8):  # SDL repeats a held key's key-down
        Window.dispatch("on_key_down", ord("1"), 0, "1", [])
    Window.dispatch("on_key_up", ord("1"), 0)
    assert kiosk.wait_for(lambda: kiosk.screen == "thanks", timeout=2)
    assert len(kiosk.rows()) == 1 and notice(kiosk) == ""


# -- the sign-in screen ------------------------------------------------------------------------------

def test_sign_in_with_staff_code_and_pin(counter_kiosk):
    kiosk = counter_kiosk()
    kiosk.app.desk.signin_hold_s = 0.6
    kiosk.touch(kiosk.widget("home", "officer"), hold=0.2)  # a short touch opens nothing
    assert kiosk.screen == "home"
    open_signin(kiosk)
    sign_in_by_pin(kiosk, "PL001", PIN)
    assert kiosk.screen == "home"
    assert kiosk.terminal.flow.officer == "PL001"
    assert banner(kiosk) == "Cán bộ tiếp nhận: Nguyễn Thị Lan"
    [shift] = table(kiosk, "shifts")
    assert shift["sign_in_how"] == "pin"


@pytest.mark.parametrize(("code", "pin", "message"), [
    ("PL001", "0000", "officer_pin_wrong"), ("ZZ404", "1234", "officer_unknown"),
    ("HC009", "1111", "officer_not_here"),
])
def test_sign_in_refused_says_why_on_the_screen(counter_kiosk, code, pin, message):
    kiosk = counter_kiosk()
    open_signin(kiosk)
    sign_in_by_pin(kiosk, code, pin)
    assert kiosk.screen == "signin" and kiosk.terminal.flow.officer is None
    assert kiosk.widget("signin", "message").text == TEXTS["vi"][message]
    assert signin_screen(kiosk).pin == ""  # typed again


def test_too_many_wrong_pins_lock_the_sign_in(counter_kiosk):
    kiosk = counter_kiosk(officers={"pin_attempts": 2, "pin_lock_s": 60})
    open_signin(kiosk)
    for _ in range(2):
        sign_in_by_pin(kiosk, "PL001", "0000")
        kiosk.touch(kiosk.widget("signin", "code"))
        signin_screen(kiosk).code = ""
    sign_in_by_pin(kiosk, "PL001", PIN)  # the right PIN, but locked
    assert kiosk.terminal.flow.officer is None
    left = kiosk.terminal.flow.pin_pad.seconds_locked  # read a moment after the message was written
    assert 50 < left <= 60
    assert kiosk.widget("signin", "message").text in {
        TEXTS["vi"]["officer_pin_locked"].format(seconds=math.ceil(left) + n) for n in (0, 1)}


def test_presses_while_the_sign_in_screen_is_up_are_stored_filtered_signin(counter_kiosk):
    kiosk = counter_kiosk(feedback={"repeat_interval_s": 0})
    open_signin(kiosk)
    kiosk.terminal.keyboard.tap("1")
    kiosk.terminal.keyboard.tap("3")
    kiosk.frames(3)
    assert kiosk.screen == "signin"
    rows = kiosk.rows()
    assert [(r["rating"], r["filtered"], r["filter_cause"]) for r in rows] == [
        ("very_satisfied", 1, "signin"), ("dissatisfied", 1, "signin")]
    kiosk.touch(kiosk.widget("signin", "cancel"))
    assert kiosk.screen == "home"
    kiosk.terminal.keyboard.tap("2")  # the citizens' again
    kiosk.frames(3)
    assert kiosk.screen == "thanks" and kiosk.rows()[-1]["filtered"] == 0


def test_a_badge_scanned_on_the_sign_in_screen_signs_in_and_closes_it(counter_kiosk):
    kiosk = counter_kiosk()
    open_signin(kiosk)
    scan(kiosk, "CBPL002")
    assert kiosk.screen == "home" and kiosk.terminal.flow.officer == "PL002"


def test_sign_out_on_the_sign_in_screen(counter_kiosk):
    kiosk = counter_kiosk()
    scan(kiosk, "CBPL001")
    open_signin(kiosk)
    assert kiosk.widget("signin", "current").text == TEXTS["vi"]["signin_current"].format(name="Nguyễn Thị Lan")
    kiosk.touch(kiosk.widget("signin", "sign_out"))
    assert kiosk.screen == "home" and kiosk.terminal.flow.officer is None and banner(kiosk) == ""
    [shift] = table(kiosk, "shifts")
    assert shift["sign_out_how"] == "screen"


def test_the_sign_in_screen_left_alone_goes_home(counter_kiosk, monkeypatch):
    import kiosk.flow as flow_module

    monkeypatch.setattr(flow_module, "SIGNIN_IDLE_S", 0.5)  # a minute in the terminal
    kiosk = counter_kiosk()
    open_signin(kiosk)
    assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=3)
    assert kiosk.terminal.flow.screen == "home"


def test_sign_out_from_the_service_screen(counter_kiosk):
    kiosk = counter_kiosk(service={"pin_hash": hash_pin("9999", rounds=1000)})
    scan(kiosk, "CBPL001")
    kiosk.app.service_hold_s = 0.3
    kiosk.touch_at(5, kiosk.app.root.height - 5, hold=0.6)
    keys = {w.text: w for w in kiosk.widget("service", "keypad").children}
    for digit in "9999":
        kiosk.touch(keys[digit])
    kiosk.touch(kiosk.widget("service", "ok"))
    button = kiosk.widget("service", "officer_sign_out")
    assert button.opacity == 1
    kiosk.touch(button)
    assert kiosk.terminal.flow.officer is None and button.opacity == 0
    [shift] = table(kiosk, "shifts")
    assert shift["sign_out_how"] == "service"


# -- dossiers ------------------------------------------------------------------------------------------

def test_a_dossier_scan_invites_and_the_press_there_links_officer_and_dossier(counter_kiosk):
    kiosk = counter_kiosk()
    scan(kiosk, "CBPL001")
    scan(kiosk, DOSSIER)
    assert kiosk.screen == "invitation"
    text = kiosk.widget("invitation", "invitation").text
    assert text == TEXTS["vi"]["invitation"].format(dossier=shorten(DOSSIER))
    assert text.endswith("0042") and DOSSIER not in text  # shortened on screen, its sequence kept
    kiosk.touch(kiosk.widget("invitation", "satisfied"))
    assert kiosk.screen == "thanks"
    [row] = kiosk.rows()
    assert (row["rating"], row["officer"], row["dossier"], row["filtered"]) == ("satisfied", "PL001", DOSSIER, 0)
    [invitation] = table(kiosk, "invitations")
    assert (invitation["outcome"], invitation["rating_id"], invitation["officer"]) == ("rated", row["id"], "PL001")


def test_a_button_press_answers_the_invitation_too(counter_kiosk):
    kiosk = counter_kiosk()
    scan(kiosk, DOSSIER)
    kiosk.terminal.keyboard.tap("1")
    kiosk.frames(3)
    assert kiosk.screen == "thanks"
    [row] = kiosk.rows()
    assert (row["dossier"], row["officer"], row["source"]) == (DOSSIER, None, "button")


def test_an_invitation_nobody_answers_expires_home(counter_kiosk):
    kiosk = counter_kiosk()
    kiosk.terminal.flow.invitation_s = 1  # [dossier] invitation_s is at least 5 s
    scan(kiosk, DOSSIER)
    assert kiosk.screen == "invitation"
    assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=4)
    [invitation] = table(kiosk, "invitations")
    assert (invitation["outcome"], invitation["rating_id"]) == ("unanswered", None)
    kiosk.touch(kiosk.widget("home", "very_satisfied"))  # the next press is nobody's dossier
    assert kiosk.rows()[0]["dossier"] is None


def test_a_second_dossier_replaces_the_first(counter_kiosk):
    kiosk = counter_kiosk()
    scan(kiosk, DOSSIER)
    scan(kiosk, "000.00.31.H26-261202-0043")
    assert kiosk.widget("invitation", "invitation").text.endswith("0043")
    outcomes = sorted((i["dossier"], i["outcome"]) for i in table(kiosk, "invitations"))
    assert outcomes == [(DOSSIER, "replaced"), ("000.00.31.H26-261202-0043", None)]


def test_a_scan_while_the_reason_screen_is_open_waits_for_the_citizen(counter_kiosk):
    kiosk = counter_kiosk(feedback={"thanks_s": 0.5, "repeat_interval_s": 0})
    kiosk.touch(kiosk.widget("home", "dissatisfied"))
    assert kiosk.screen == "reason"
    scan(kiosk, DOSSIER)
    assert kiosk.screen == "reason"  # the citizen's answer is not cut short
    assert notice(kiosk) == TEXTS["vi"]["scan_later"]
    kiosk.advance(kiosk.app.reason_guard_s + 0.05)
    kiosk.touch(kiosk.widget("reason", "skip"))
    assert kiosk.screen == "thanks"
    assert kiosk.wait_for(lambda: kiosk.screen == "invitation", timeout=3)  # then the next citizen's dossier
    [first] = kiosk.rows()
    assert (first["dossier"], first["reason_outcome"]) == (None, "skipped")
    kiosk.touch(kiosk.widget("invitation", "very_satisfied"))
    second = kiosk.rows()[1]
    assert (second["rating"], second["dossier"], second["filtered"]) == ("very_satisfied", DOSSIER, 0)


def test_a_badge_scan_while_the_reason_screen_is_open_keeps_the_question(counter_kiosk):
    kiosk = counter_kiosk()
    kiosk.touch(kiosk.widget("home", "dissatisfied"))
    scan(kiosk, "CBPL001")
    assert kiosk.screen == "reason" and kiosk.terminal.flow.officer == "PL001"
    kiosk.advance(kiosk.app.reason_guard_s + 0.05)
    kiosk.touch(kiosk.widget("reason", "skip"))
    [row] = kiosk.rows()
    assert (row["reason_outcome"], row["sealed"]) == ("skipped", 1)


def test_the_thank_you_is_the_same_for_every_level(counter_kiosk):
    kiosk = counter_kiosk(feedback={"thanks_s": 0.5, "repeat_interval_s": 0, "reason_timeout_s": 30})
    pictures = []
    for key in "123":
        kiosk.key(key)
        assert kiosk.wait_for(lambda: kiosk.screen in ("thanks", "reason"), timeout=2)
        if kiosk.screen == "reason":
            kiosk.advance(kiosk.app.reason_guard_s + 0.05)
            kiosk.touch(kiosk.widget("reason", "skip"))
        assert kiosk.wait_for(lambda: kiosk.screen == "thanks", timeout=2)
        screen = kiosk.app.root.get_screen("thanks")
        pictures.append(screen.export_as_image().texture.pixels)
        assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=2)
    assert pictures[0] == pictures[1] == pictures[2]


def test_with_neither_feature_the_keys_are_as_before(start_kiosk):
    kiosk = start_kiosk()
    assert kiosk.app.key_capture is None
    scan(kiosk, "CBPL001")  # no scanner reading: nothing happens but the digits' presses
    assert kiosk.terminal.flow.officer is None and notice(kiosk) == ""


# -- the demo's keys ------------------------------------------------------------------------------------

def test_the_demo_keys_sign_in_and_scan_a_dossier(counter_kiosk):
    from kivy.core.window import Window

    kiosk = counter_kiosk()
    Window.dispatch("on_key_down", 283, 60, None, [])  # F2: the demo officer's badge
    Window.dispatch("on_key_up", 283, 60)
    kiosk.frames(3)
    assert kiosk.terminal.flow.officer == "PL001"
    Window.dispatch("on_key_down", 285, 62, None, [])  # F4: a dossier
    Window.dispatch("on_key_up", 285, 62)
    kiosk.frames(3)
    assert kiosk.screen == "invitation"
    type_slowly(kiosk, "1")
    assert kiosk.wait_for(lambda: kiosk.screen == "thanks", timeout=2)
    [row] = kiosk.rows()
    assert row["officer"] == "PL001" and row["dossier"].startswith("000.00.31.H26-")


# -- pictures for the README -----------------------------------------------------------------------------

def test_screenshots_of_the_counter_screens(counter_kiosk):
    from test_ui import assert_not_blank

    kiosk = counter_kiosk(feedback={"thanks_s": 30})
    scan(kiosk, "CBPL001")
    kiosk.app.desk.notice.shown = False
    shots = [kiosk.screenshot("home-officer-800x480")]
    open_signin(kiosk)
    touch_pad(kiosk, "PL0")
    shots.append(kiosk.screenshot("signin-800x480"))
    touch_pad(kiosk, "A")  # the letters
    shots.append(kiosk.screenshot("signin-letters-800x480"))
    kiosk.touch(kiosk.widget("signin", "cancel"))
    scan(kiosk, DOSSIER)
    kiosk.app.desk.notice.shown = False
    shots.append(kiosk.screenshot("invitation-800x480"))
    kiosk.touch(kiosk.widget("invitation", "satisfied"))
    shots.append(kiosk.screenshot("thanks-same-800x480"))
    kiosk.terminal.flow.reset()
    assert kiosk.wait_for(lambda: kiosk.screen == "home")
    scan(kiosk, "CBPL", enter=False)
    assert kiosk.wait_for(lambda: notice(kiosk) != "", timeout=2)
    shots.append(kiosk.screenshot("scan-partial-800x480"))
    for shot in shots:
        assert_not_blank(shot)

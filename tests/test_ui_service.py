"""The service screen, driven headless: PIN, the facts, sync now, the button and LED test, restart."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import tmpfs
from kiosk.restart import restart_argv, restart_terminal
from kiosk.service_pin import hash_pin
from kiosk.texts import TEXTS
from server_fixtures import *  # noqa: F401,F403 - server_db_url, start_server, server
from test_disk_trouble import fill, filled_database

pytestmark = pytest.mark.ui
PIN = "2468"
SERVICE = {"pin_hash": hash_pin(PIN, rounds=1000)}
LEDS = {"very_satisfied": 23, "satisfied": 24, "dissatisfied": 25}


def unlock(kiosk) -> None:
    kiosk.app.service_hold_s = 0.3
    assert kiosk.hold_at(5, kiosk.app.root.height - 5, until=lambda: kiosk.screen == "service", timeout=0.6)
    keys = {w.text: w for w in kiosk.widget("service", "keypad").children}
    for digit in PIN:
        kiosk.touch(keys[digit])
    kiosk.touch(kiosk.widget("service", "ok"))
    assert kiosk.app.root.get_screen("service").unlocked


FACTS = {
    "vi": ("Mã thiết bị: test-ui-01", "Đơn vị: UBND phường Phúc La", "Quầy: Quầy 1", "Máy chủ: không có",
           "Đăng ký: chưa — đánh giá được giữ", "Chờ gửi: 0", "Gửi thành công gần nhất: chưa lần nào",
           "Lỗi gần nhất: không có", "Đồng hồ: ", "Địa chỉ IP: ", "Phiên bản: 0.1.0",
           "Lượt nhấn không tính hôm nay: 0",
           "Nút bấm: Rất hài lòng GPIO17, Hài lòng GPIO27, Không hài lòng GPIO22 (giả lập, phím 1-9 và 0)", "Kiểm tra khi khởi động:", "CẢNH BÁO renderer"),
    "en": ("Terminal: test-ui-01", "Site: UBND phường Phúc La", "Counter: Quầy 1", "Server: none",
           "Provisioning: Not provisioned", "Waiting to upload: 0", "Last sync: never", "Last error: none",
           "Clock: ", "IP address: ", "Version: 0.1.0", "Presses not counted today: 0",
           "Buttons: Very satisfied GPIO17, Satisfied GPIO27, Dissatisfied GPIO22 (mock pins, keys 1-9 and 0)", "Checks:",
           "WARNING renderer"),
}


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_service_screen_shows_every_fact_in_the_screens_language(start_kiosk, language):
    kiosk = start_kiosk(service=SERVICE)
    kiosk.terminal.checks = []
    kiosk.app.check_renderer(model="Raspberry Pi 4 Model B")  # Mesa's llvmpipe here
    if language == "en":
        kiosk.touch(kiosk.widget("home", "language"))
    unlock(kiosk)
    text = kiosk.widget("service", "status").text
    for label in FACTS[language]:
        assert label in text, label
    assert "software renderer" in text
    if language == "vi":  # no English label or value is left (the checks' sentences name commands: English)
        facts = [line for line in text.splitlines() if not line.startswith("  ")]
        english = {label.split(":")[0] for label in FACTS["en"]}
        assert not [line for line in facts if line.split(":")[0] in english or line.endswith((" never", " none"))]
    assert kiosk.terminal.store.meta()["gl_renderer"].startswith("llvmpipe")


def test_sync_now_without_a_server_says_why(start_kiosk):
    kiosk = start_kiosk(service=SERVICE, sync=True)
    unlock(kiosk)
    kiosk.touch(kiosk.widget("service", "sync_now"))
    message = kiosk.widget("service", "outcome").text
    assert message.startswith("Chưa thể gửi: not provisioned")


def test_sync_now_sends_to_a_real_server(start_kiosk, server, tmp_path):
    enrolled = server.enroll()
    token = tmp_path / "device.token"
    token.write_text(enrolled.token)
    kiosk = start_kiosk(service=SERVICE, sync=True, terminal={"id": enrolled.id},
                        server={"url": server.url, "token_file": str(token), "pause_s": 0,
                                "heartbeat_s": 3600})
    assert kiosk.wait_for(lambda: kiosk.app.sync_state == "ok", timeout=15)  # the first heartbeat
    kiosk.terminal.store.record_press("satisfied", source="touch")  # stored, uploader not woken
    unlock(kiosk)
    kiosk.touch(kiosk.widget("service", "sync_now"))
    assert kiosk.wait_for(lambda: kiosk.app.service_message.startswith("Đã gửi"), timeout=15)
    assert server.count() == 1
    assert "Chờ gửi: 0" in kiosk.widget("service", "status").text


def test_an_uploader_arriving_once_space_is_back_drives_the_indicator_and_sync_now(start_kiosk, server, tmp_path):
    enrolled = server.enroll()
    token = tmp_path / "device.token"
    token.write_text(enrolled.token)
    with tmpfs(tmp_path / "tiny") as folder:
        filled_database(folder / "kiosk.db", 3)
        filler = fill(folder)
        kiosk = start_kiosk(service=SERVICE, sync=True, terminal={"id": enrolled.id},
                            storage={"path": str(folder / "kiosk.db")},
                            server={"url": server.url, "token_file": str(token), "pause_s": 0,
                                    "heartbeat_s": 3600})
        assert kiosk.terminal.uploader is None and kiosk.app.sync_state == "off"
        filler.unlink()
        kiosk.terminal.watch.step()  # the storage watch's look: the disk takes writes and the file is shared
        assert kiosk.wait_for(lambda: kiosk.app.sync_state == "ok", timeout=15)
        assert server.count() == 3
        kiosk.terminal.store.record_press("satisfied", source="touch")  # stored, uploader not woken
        unlock(kiosk)
        kiosk.touch(kiosk.widget("service", "sync_now"))
        assert kiosk.wait_for(lambda: kiosk.app.service_message.startswith("Đã gửi"), timeout=15)
        assert server.count() == 4


def test_sync_now_shows_the_failure_sentence(start_kiosk, tmp_path):
    token = tmp_path / "device.token"
    token.write_text("not-a-real-token")
    kiosk = start_kiosk(service=SERVICE, sync=True,
                        server={"url": "http://127.0.0.1:9", "token_file": str(token), "heartbeat_s": 3600})
    unlock(kiosk)
    kiosk.touch(kiosk.widget("service", "sync_now"))
    assert kiosk.wait_for(lambda: kiosk.app.service_message.startswith("Gửi không được"), timeout=20)
    assert "cannot reach the server" in kiosk.app.service_message



def test_sync_now_at_a_busy_server_says_when_it_tries_again(start_kiosk, start_server, tmp_path):
    """A 429 with Retry-After is the server's pacing, not a failure: the outcome and the facts say when."""
    server = start_server(rate_limit_per_s=0.05, rate_limit_burst=1)  # after the first heartbeat: 20 s
    enrolled = server.enroll()
    token = tmp_path / "device.token"
    token.write_text(enrolled.token)
    kiosk = start_kiosk(service=SERVICE, sync=True, terminal={"id": enrolled.id},
                        server={"url": server.url, "token_file": str(token), "pause_s": 0, "heartbeat_s": 3600,
                                "drain_spread_s": 5, "outage_s": 900})
    uploader = kiosk.terminal.uploader
    assert (uploader.drain_spread_s, uploader.outage_s) == (5.0, 900.0)  # the config reaches the uploader
    assert kiosk.wait_for(lambda: kiosk.app.sync_state == "ok", timeout=15)  # the first heartbeat
    kiosk.terminal.store.record_press("satisfied", source="touch")
    unlock(kiosk)
    kiosk.touch(kiosk.widget("service", "sync_now"))
    assert kiosk.wait_for(lambda: kiosk.app.service_message.startswith("Máy chủ đang bận, sẽ gửi lại lúc"),
                          timeout=15)
    assert kiosk.app.sync_state == "ok"  # the dot stays green: the server answered
    assert "Máy chủ điều tiết: máy chủ đang bận, gửi lại lúc" in kiosk.widget("service", "status").text
    assert server.count() == 0 and uploader.state.failures_in_a_row == 0
    assert kiosk.screenshot("service-busy-800x480", (800, 480)).stat().st_size > 0  # to look at: the wait said

def test_button_test_lights_each_button_and_its_led_and_stores_nothing(start_kiosk):
    kiosk = start_kiosk(service=SERVICE, leds=LEDS)
    unlock(kiosk)
    kiosk.touch(kiosk.widget("service", "button_test"))
    service = kiosk.app.root.get_screen("service")
    assert service.ids.panels.current == "buttons"
    kiosk.app.button_test.done_s = 30
    panel = kiosk.terminal.panel
    for key, name in (("1", "very_satisfied"), ("2", "satisfied"), ("3", "dissatisfied")):
        assert not service.lamp(name).lit
        kiosk.terminal.keyboard.tap(key)
        assert kiosk.wait_for(lambda: service.lamp(name).lit, timeout=2)
        assert kiosk.wait_for(lambda: panel.leds[name].is_lit, timeout=2)
    assert kiosk.widget("service", "test_prompt").text == TEXTS["vi"]["test_all_seen"].format(count=3)
    kiosk.screenshot("service-buttons-800x480")
    assert kiosk.rows() == []
    kiosk.touch(kiosk.widget("service", "test_done"))
    assert service.ids.panels.current == "status"
    kiosk.touch(kiosk.widget("service", "back"))
    kiosk.terminal.keyboard.tap("1")  # the buttons rate again
    kiosk.frames(2)
    assert [r["rating"] for r in kiosk.rows()] == ["very_satisfied"]


def test_button_test_by_touch_and_it_closes_itself_with_buttons_only(start_kiosk):
    kiosk = start_kiosk(service=SERVICE)
    unlock(kiosk)
    kiosk.touch(kiosk.widget("service", "button_test"))
    service = kiosk.app.root.get_screen("service")
    kiosk.app.button_test.done_s = 0.3
    kiosk.touch(service.lamp("satisfied"))
    assert service.lamp("satisfied").lit and not service.lamp("dissatisfied").lit
    kiosk.terminal.keyboard.tap("1")
    kiosk.terminal.keyboard.tap("3")
    assert kiosk.wait_for(lambda: service.ids.panels.current == "status", timeout=3)
    assert not kiosk.app.button_test.testing and kiosk.rows() == []


def test_button_test_with_a_dead_button_closes_itself_when_left_alone(start_kiosk):
    kiosk = start_kiosk(service=SERVICE)
    unlock(kiosk)
    kiosk.app.button_test.idle_s = 0.6
    kiosk.touch(kiosk.widget("service", "button_test"))
    kiosk.terminal.keyboard.tap("1")  # satisfied and dissatisfied never come
    kiosk.frames(1)  # (not a fixed wait: under emulation one frame may outlast idle_s)
    assert kiosk.app.button_test.testing
    assert kiosk.wait_for(lambda: not kiosk.app.button_test.testing, timeout=3)
    assert kiosk.app.root.get_screen("service").ids.panels.current == "status"


def test_restart_stops_the_screens_and_asks_kiosk_run_to_exec_itself(start_kiosk):
    kiosk = start_kiosk(service=SERVICE)
    unlock(kiosk)
    kiosk.touch(kiosk.widget("service", "restart"))
    assert not kiosk.running
    assert kiosk.app.exit_action == "restart"
    calls = []
    restart_terminal(exec_=lambda path, argv: calls.append((path, argv)))
    [(path, argv)] = calls
    assert path == argv[0] and argv[1:] == __import__("sys").orig_argv[1:]


def test_leave_kiosk_mode_says_so_to_kiosk_run(start_kiosk):
    kiosk = start_kiosk(service=SERVICE)
    unlock(kiosk)
    kiosk.touch(kiosk.widget("service", "leave"))
    assert not kiosk.running and kiosk.app.exit_action == "leave"


def test_restart_command_line_of_a_bundle_and_of_python():
    assert restart_argv(executable="/opt/k/kiosk", orig_argv=["/opt/k/kiosk", "run"], argv=["/opt/k/kiosk", "run"],
                        frozen=True) == ["/opt/k/kiosk", "run"]
    assert restart_argv(executable="/v/bin/python", orig_argv=["/v/bin/python", "/v/bin/kiosk", "run"],
                        argv=["/v/bin/kiosk", "run"], frozen=False) == ["/v/bin/python", "/v/bin/kiosk", "run"]


def test_kiosk_run_restarts_in_place_then_leaves_kiosk_mode_with_status_4(tmp_path):
    """The real `kiosk run`: "Restart" re-executes the same process, "Leave kiosk mode" exits 4 (systemd's cue)."""
    from kiosk.restart import LEFT_KIOSK_STATUS

    mods = tmp_path / "kivy" / "mods"
    mods.mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "kivy_mods" / "service_action.py", mods)
    marker = tmp_path / "starts"
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[terminal]\nid = "svc-01"\n[storage]\npath = "{tmp_path / "kiosk.db"}"\n', encoding="utf-8")
    env = {**os.environ, "SDL_VIDEODRIVER": "offscreen", "KIVY_HOME": str(tmp_path / "kivy"),
           "KCFG_MODULES_SERVICE_ACTION": f"marker={marker}", "KIVY_NO_ARGS": "1"}
    done = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config", str(config), "--mock-pins",
                           "--windowed"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == LEFT_KIOSK_STATUS, done.stderr[-3000:]
    starts = marker.read_text().split()
    assert len(starts) == 2 and starts[0] == starts[1], starts  # the same process, started twice
    assert done.stderr.count("terminal svc-01 stopped") == 2
    assert "Traceback" not in done.stderr


def test_a_button_held_while_the_terminal_starts_opens_the_button_test_without_touch(start_kiosk, monkeypatch):
    """A button box without a touchscreen: hold a button while the terminal starts; the test runs by buttons
    alone, stores nothing, and goes back to the citizens' home screen by itself."""
    from gpiozero.pins.mock import MockFactory

    import hardware
    from conftest import held_pin_class

    monkeypatch.setattr(hardware, "mock_pin_factory", lambda: MockFactory(pin_class=held_pin_class(17)))
    kiosk = start_kiosk(service=SERVICE, leds=LEDS)
    service = kiosk.app.root.get_screen("service")
    assert kiosk.screen == "service" and kiosk.app.button_test.testing
    assert service.ids.panels.current == "buttons" and not service.unlocked  # the test only, no status
    kiosk.app.button_test.done_s = 0.3
    panel = kiosk.terminal.panel
    panel.buttons["very_satisfied"].pin.drive_high()  # let go of the held button ...
    kiosk.advance(0.06)  # past the debounce interval
    for name in ("very_satisfied", "satisfied", "dissatisfied"):  # ... then press each one
        panel.buttons[name].pin.drive_low()
        kiosk.frames(2)
        panel.buttons[name].pin.drive_high()
        kiosk.advance(0.06)  # past the debounce interval
        assert service.lamp(name).lit
    assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=3)
    assert not kiosk.app.button_test.testing and not kiosk.app.servicing and kiosk.rows() == []
    kiosk.terminal.keyboard.tap("2")  # the buttons rate again
    kiosk.frames(2)
    assert [r["rating"] for r in kiosk.rows()] == ["satisfied"]


def test_without_a_held_button_the_terminal_starts_on_home(start_kiosk):
    kiosk = start_kiosk(service=SERVICE)
    assert kiosk.screen == "home" and not kiosk.app.button_test.testing


def press_button(kiosk, name: str) -> None:
    """A physical button pressed and let go (gpiozero's mock pin), past the debounce interval."""
    pin = kiosk.terminal.panel.buttons[name].pin
    pin.drive_low()
    kiosk.frames(2)
    pin.drive_high()
    kiosk.advance(0.06)


def test_presses_during_service_are_stored_filtered_as_service_and_never_counted(start_kiosk):
    """PIN pad, status, button test: a button pressed while a technician is at work is no citizen's rating."""
    kiosk = start_kiosk(service=SERVICE, feedback={"repeat_interval_s": 0})
    store = kiosk.terminal.store
    kiosk.app.service_hold_s = 0.3
    kiosk.touch_at(5, kiosk.app.root.height - 5, hold=0.6)  # the PIN pad
    assert kiosk.screen == "service" and not kiosk.app.root.get_screen("service").unlocked
    press_button(kiosk, "very_satisfied")
    press_button(kiosk, "dissatisfied")
    assert kiosk.screen == "service" and kiosk.terminal.flow.screen == "home"
    keys = {w.text: w for w in kiosk.widget("service", "keypad").children}
    for digit in PIN:
        kiosk.touch(keys[digit])
    kiosk.touch(kiosk.widget("service", "ok"))  # the status
    press_button(kiosk, "satisfied")
    kiosk.touch(kiosk.widget("service", "button_test"))  # the test takes the presses: nothing stored
    press_button(kiosk, "satisfied")
    kiosk.touch(kiosk.widget("service", "test_done"))
    rows = kiosk.rows()
    assert [(r["rating"], r["filtered"], r["filter_cause"], r["sealed"]) for r in rows] == [
        ("very_satisfied", 1, "service", 1), ("dissatisfied", 1, "service", 1), ("satisfied", 1, "service", 1)]
    counts = store.counts()
    assert counts["counted"] == 0 and counts["filtered_by_cause"]["service"] == 3
    assert "Lượt nhấn không tính hôm nay: 3: lúc bảo trì 3" in kiosk.widget("service", "status").text
    kiosk.touch(kiosk.widget("service", "back"))
    press_button(kiosk, "satisfied")  # the citizens' again
    assert kiosk.screen == "thanks"
    assert store.counts()["counted"] == 1 and kiosk.rows()[-1]["filter_cause"] is None


@pytest.mark.parametrize(("language", "tiles"), [
    ("vi", ["Rất hài lòng", "Hài lòng", "Không hài lòng", "Lý do 1: Thời gian giải quyết hồ sơ",
            "Lý do 2: Thái độ của cán bộ", "Lý do 3: Hướng dẫn chưa rõ ràng", "Lý do 4: Thủ tục, giấy tờ phức tạp",
            "Lý do 5: Phải đi lại nhiều lần", "Lý do 6: Cơ sở vật chất", "Bỏ qua"]),
    ("en", ["Very satisfied", "Satisfied", "Dissatisfied", "Reason 1: Processing time", "Reason 2: Staff attitude",
            "Reason 3: Unclear guidance", "Reason 4: Complicated procedure", "Reason 5: Too many visits",
            "Reason 6: Facilities", "Skip"]),
])
def test_button_test_tiles_are_named_in_the_screens_language(start_kiosk, language, tiles):
    kiosk = start_kiosk(service=SERVICE, pins={"reasons": [5, 6, 13, 19, 26, 21], "skip": 20})
    if language == "en":
        kiosk.touch(kiosk.widget("home", "language"))
    unlock(kiosk)
    kiosk.touch(kiosk.widget("service", "button_test"))
    assert [lamp.text for lamp in reversed(kiosk.widget("service", "lamps").children)] == tiles
    if language == "vi":
        kiosk.screenshot("service-buttons-reasons-800x480")

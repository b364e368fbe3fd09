"""The key capture between Kivy's window and the scan reader (no window: key codes and times by hand).

The headless app's tests (tests/test_ui_counter.py) drive the same path through real window events; here the
times are exact, so the edges are: a burst against typing, a key held down, keys let go before the reader
decided, a burst cut short, the keypad, Shift.
"""

from __future__ import annotations

import pytest

from kiosk.scanner import ScanReader
from kiosk.ui.key_capture import DEMO_BADGES, KeyCapture, demo_scan, key_char

ENTER = 13


class Recorder:
    def __init__(self):
        self.events: list[tuple] = []

    def capture(self) -> KeyCapture:
        return KeyCapture(ScanReader(), when_scan=lambda s: self.events.append(("scan", s.text)),
                          when_partial=lambda p: self.events.append(("partial", p.text)),
                          when_key_down=lambda c: self.events.append(("down", c)),
                          when_key_up=lambda c: self.events.append(("up", c)))


@pytest.fixture
def seen():
    return Recorder()


def type_burst(capture: KeyCapture, text: str, start: float, step: float = 0.004, enter: bool = True) -> float:
    at = start
    for char in text:
        shifted = char.isupper() or char == "_"
        key = ord("-") if char == "_" else ord(char.lower())
        capture.key_down(key, char.lower(), ["shift"] if shifted else [], at)
        capture.key_up(key, at + 0.001)
        at += step
    if enter:
        capture.key_down(ENTER, None, [], at)
        capture.key_up(ENTER, at + 0.001)
    return at


@pytest.mark.parametrize("text", ["CBPL001", "000.00.31.H26-261202-0042", "cb_lower.case-1"])
def test_a_burst_ended_by_enter_is_one_scan_and_presses_nothing(seen, text):
    capture = seen.capture()
    at = type_burst(capture, text, 10.0)
    capture.poll(at + 1.0)
    assert seen.events == [("scan", text)]


def test_keys_typed_slowly_are_given_back_in_order_with_their_releases(seen):
    capture = seen.capture()
    capture.key_down(ord("1"), "1", [], 10.0)
    capture.key_up(ord("1"), 10.08)  # let go before the reader decided
    capture.poll(10.1)
    capture.key_down(ord("3"), "3", [], 11.0)
    capture.poll(11.1)  # still held down: pressed, not let go
    assert seen.events == [("down", "1"), ("up", "1"), ("down", "3")]
    capture.key_up(ord("3"), 11.5)
    assert seen.events[-1] == ("up", "3")


def test_a_key_held_down_repeats_but_is_one_press(seen):
    capture = seen.capture()
    for n in range(10):  # SDL's key repeat: a key-down every 30 ms
        capture.key_down(ord("2"), "2", [], 10.0 + n * 0.03)
    capture.key_up(ord("2"), 10.4)
    capture.poll(10.5)
    assert seen.events == [("down", "2"), ("up", "2")]


def test_a_burst_without_its_enter_is_a_partial_scan(seen):
    capture = seen.capture()
    at = type_burst(capture, "CBPL0", 10.0, enter=False)
    capture.poll(at + 0.1)
    assert seen.events == []  # the Enter may still come
    capture.poll(at + 0.5)
    assert seen.events == [("partial", "CBPL0")]


def test_a_key_typed_after_a_partial_burst_is_kept(seen):
    capture = seen.capture()
    at = type_burst(capture, "CBPL0", 10.0, enter=False)
    capture.key_down(ord("2"), "2", [], at + 0.3)  # the burst is over: this one is a person's
    capture.key_up(ord("2"), at + 0.35)
    capture.poll(at + 0.5)
    assert seen.events == [("partial", "CBPL0"), ("down", "2"), ("up", "2")]


def test_the_demo_burst_is_a_scan(seen):
    capture = seen.capture()
    capture.type_burst(demo_scan("badge"), 10.0)
    assert seen.events == [("scan", DEMO_BADGES["badge"])]


@pytest.mark.parametrize(("key", "codepoint", "modifiers", "char"), [
    (ord("a"), "a", [], "a"), (ord("a"), "a", ["shift"], "A"), (ord("a"), "a", ["capslock", "shift"], "a"),
    (ord("-"), "-", ["shift"], "_"), (ord("/"), "/", [], "/"), (263, None, ["numlock"], "7"),
    (266, None, [], "."), (ord("c"), "c", ["ctrl"], None), (ENTER, None, [], None), (27, None, [], None),
])
def test_key_char(key, codepoint, modifiers, char):
    assert key_char(key, codepoint, modifiers) == char


def test_a_persons_enter_after_typing_means_nothing(seen):
    capture = seen.capture()
    capture.key_down(ord("5"), "5", [], 10.0)
    capture.key_up(ord("5"), 10.05)
    capture.key_down(ENTER, None, [], 10.07)  # too few keys for a code: typed, given back at the Enter
    capture.key_up(ENTER, 10.08)
    capture.poll(11.0)
    assert seen.events == [("down", "5"), ("up", "5")]


def test_a_shifted_key_let_go_during_the_burst_is_no_stray_key_up(seen):
    capture = seen.capture()
    type_burst(capture, "AB_CD", 10.0)
    assert seen.events == [("scan", "AB_CD")] and capture.reader.held == ""

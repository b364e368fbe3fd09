"""Telling a USB scanner from a person typing (kiosk/scanner.py), with the times a real scanner and a real
person give: a scanner's characters come 2-20 ms apart and end with Enter; a person's keys come 100 ms or
more apart."""

import pytest

from kiosk.config import load_config, parse_config
from kiosk.scanner import PartialScan, Scan, ScanReader, classify

GAP = 0.008  # a real scanner's character interval (a 2D imager at its default USB keyboard rate)


@pytest.fixture
def typed():
    return []


@pytest.fixture
def reader(typed):
    return ScanReader(max_gap_s=0.05, min_length=4, when_typed=typed.append)


def burst(reader, text, start, gap=GAP, enter_after=GAP):
    """Feed ``text`` as a scanner types it; returns (results of each feed, the result of Enter or None)."""
    results = [reader.feed(char, start + i * gap) for i, char in enumerate(text)]
    end = start + (len(text) - 1) * gap
    return results, (reader.feed_enter(end + enter_after) if enter_after is not None else None)


def test_a_scanners_burst_ending_in_enter_is_a_scan_and_nothing_is_typed(reader, typed):
    results, end = burst(reader, "CB0042", 10.0)
    assert results == [None] * 6 and end == Scan("CB0042")
    reader.poll(11.0)
    assert typed == []


def test_a_long_dossier_code_at_a_slow_scanners_pace_is_one_scan(reader, typed):
    code = "000.00.23.H26-261202-0007"
    _, end = burst(reader, code, 5.0, gap=0.03, enter_after=0.12)  # 30 ms a character, a late suffix
    assert end == Scan(code) and typed == []


def test_a_person_typing_gets_every_key_back_in_order(reader, typed):
    for i, char in enumerate("123"):
        assert reader.feed(char, 1.0 + i * 0.25) is None
    assert reader.poll(1.0 + 2 * 0.25 + 0.06) is None
    assert typed == ["1", "2", "3"]


def test_a_key_is_held_only_until_the_gap_shows_it_was_typed(reader, typed):
    reader.feed("2", 3.0)
    assert reader.poll(3.04) is None and typed == []  # a scanner could still follow
    reader.poll(3.051)
    assert typed == ["2"]


def test_a_person_pressing_enter_after_keys_is_not_a_scan(reader, typed):
    reader.feed("1", 1.0)
    assert reader.feed_enter(1.2) is None
    assert typed == ["1"]


def test_a_burst_cut_short_is_a_partial_scan_once_its_enter_is_overdue(reader, typed):
    burst(reader, "CB00", 7.0, enter_after=None)
    last = 7.0 + 3 * GAP
    assert reader.poll(last + 0.1) is None  # a scanner may pause before its Enter
    assert reader.poll(last + 4 * 0.05 + 0.001) == PartialScan("CB00")
    assert typed == []  # never given back: its digits must not press buttons


def test_a_burst_whose_enter_comes_too_late_is_partial(reader):
    _, end = burst(reader, "HS-2026-1", 2.0, enter_after=0.5)
    assert end == PartialScan("HS-2026-1")


def test_a_new_burst_after_a_cut_one_reports_the_cut_one_and_reads_the_new(reader):
    burst(reader, "CB00", 1.0, enter_after=None)
    results, end = burst(reader, "CB0042", 1.5)
    assert results[0] == PartialScan("CB00") and end == Scan("CB0042")


def test_a_short_fast_burst_is_keys_pressed_together_not_a_code(reader, typed):
    reader.feed("1", 1.0)
    reader.feed("2", 1.01)
    assert reader.feed_enter(1.02) is None
    assert typed == ["1", "2"]


def test_keys_1_2_3_around_a_scan_still_press_while_the_scans_digits_do_not(reader, typed):
    """The demo's keyboard path: 1 2 3 press the mock buttons; a dossier code full of 1s, 2s and 3s must not."""
    reader.feed("1", 1.0)  # the citizen presses 1
    _, end = burst(reader, "HS-123-321-0001", 1.3)  # the officer scans a dossier 300 ms later
    assert end == Scan("HS-123-321-0001")
    reader.feed("3", 1.8)  # and a key after the scan
    reader.poll(1.9)
    assert typed == ["1", "3"]


def test_a_key_within_a_burst_is_part_of_it_and_the_scan_then_fails_its_pattern(reader, typed):
    # A key pressed inside a scanner's burst cannot be told from it: it lands in the code, which then matches
    # no pattern (refused as unknown) — and is never typed.
    results = [reader.feed(c, 1.0 + i * GAP) for i, c in enumerate("CB00")]
    reader.feed("2", 1.0 + 4 * GAP)
    results += [reader.feed(c, 1.0 + (5 + i) * GAP) for i, c in enumerate("42")]
    end = reader.feed_enter(1.0 + 7 * GAP)
    assert end == Scan("CB00242") and typed == []
    config = parse_config({"officers": {"badge_pattern": r"^CB(?P<code>\d{4})$"},
                           "dossier": {"pattern": r"^HS-\d{4}-\d{4}$"}})
    assert classify(end.text, config) == ("unknown", "CB00242")


def test_is_reading_while_a_burst_comes_in(reader):
    assert not reader.is_reading(1.0)
    reader.feed("C", 1.0)
    assert not reader.is_reading(1.0)  # one key: maybe a person
    reader.feed("B", 1.0 + GAP)
    assert reader.is_reading(1.0 + GAP) and reader.is_reading(1.0 + GAP + 0.19)
    assert not reader.is_reading(1.0 + GAP + 0.21)
    reader.feed_enter(1.0 + 2 * GAP)
    assert not reader.is_reading(1.0 + 2 * GAP)


def test_feed_takes_one_character(reader):
    with pytest.raises(ValueError):
        reader.feed("ab", 1.0)


@pytest.mark.parametrize(("text", "expected"), [
    ("CB0042", ("badge", "0042")),
    ("CBnguyen.lan", ("badge", "nguyen.lan")),
    ("000.00.23.H26-261202-0007", ("dossier", "000.00.23.H26-261202-0007")),
    ("HS/2026/000123", ("dossier", "HS/2026/000123")),
    ("CB0", ("unknown", "CB0")),          # a badge's code is at least 2 characters, and too short for a dossier
    ("abc", ("unknown", "abc")),          # too short for a dossier
    ("-HS-2026-1", ("unknown", "-HS-2026-1")),  # a dossier code starts with a letter or a digit
    ("HS 2026 1", ("unknown", "HS 2026 1")),
    ("https://dichvucong.gov.vn/p/x?id=1", ("unknown", "https://dichvucong.gov.vn/p/x?id=1")),
])
def test_classify_with_the_default_patterns(text, expected):
    assert classify(text, load_config(None)) == expected


def test_classify_tries_the_badge_pattern_first():
    # "CB12345678" matches both default patterns: it is a badge.
    assert classify("CB12345678", load_config(None)) == ("badge", "12345678")


def test_classify_with_an_offices_own_patterns():
    config = parse_config({"officers": {"badge_pattern": r"^NV-(?P<code>\d{5})$"},
                           "dossier": {"pattern": r"^H26\.\d{2}-\d{6}-\d{4}$"}})
    assert classify("NV-00042", config) == ("badge", "00042")
    assert classify("H26.23-261202-0007", config) == ("dossier", "H26.23-261202-0007")
    assert classify("CB0042", config) == ("unknown", "CB0042")

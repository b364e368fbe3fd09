"""Time facts stored with each press."""

from datetime import datetime, timedelta, timezone

import pytest

from kiosk import timekeeping
from kiosk.timekeeping import SystemClock, iso_utc, read_boot_id


@pytest.mark.parametrize("moment,text", [
    (datetime(2026, 11, 25, 9, 30, 12, 345678, tzinfo=timezone.utc), "2026-11-25T09:30:12.345Z"),
    (datetime(2026, 11, 25, 16, 30, 12, 999999, tzinfo=timezone(timedelta(hours=7))), "2026-11-25T09:30:12.999Z"),
    (datetime(2026, 1, 1, 0, 0, 0, 0, tzinfo=timezone.utc), "2026-01-01T00:00:00.000Z"),
])
def test_iso_utc_has_milliseconds_and_z(moment, text):
    assert iso_utc(moment) == text


def test_boot_id_falls_back_to_a_stable_process_id(tmp_path):
    assert read_boot_id(tmp_path / "missing") == read_boot_id(tmp_path / "missing")
    (tmp_path / "boot_id").write_text("abc\n")
    assert read_boot_id(tmp_path / "boot_id") == "abc"


def test_timesyncd_flag_marks_the_clock_synced(tmp_path, monkeypatch):
    monkeypatch.setattr(timekeeping, "_kernel_clock_synced", lambda: False)
    monkeypatch.setattr(timekeeping, "TIMESYNC_FLAG", tmp_path / "synchronized")
    assert SystemClock().stamp().clock_synced == 0
    (tmp_path / "synchronized").touch()
    assert SystemClock().stamp().clock_synced == 1


def test_kernel_sync_state_is_read_without_error():
    assert timekeeping._kernel_clock_synced() in (True, False)


def test_stamps_are_monotonic():
    clock = SystemClock()
    first, second = clock.stamp(), clock.stamp()
    assert second.monotonic_ns > first.monotonic_ns and first.boot_id == second.boot_id

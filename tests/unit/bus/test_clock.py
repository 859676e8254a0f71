"""Unit tests of the clocks."""

from datetime import UTC, datetime, timedelta

import pytest

from bus.clock import FakeClock, SystemClock


def test_system_clock_is_utc_aware():
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_fake_clock_stands_still_until_advanced():
    clock = FakeClock(datetime(2025, 3, 1, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2025, 3, 1, tzinfo=UTC)
    clock.advance(timedelta(minutes=15))
    assert clock.now() == datetime(2025, 3, 1, 0, 15, tzinfo=UTC)


def test_fake_clock_refuses_a_naive_start():
    with pytest.raises(ValueError):
        FakeClock(datetime(2025, 3, 1))

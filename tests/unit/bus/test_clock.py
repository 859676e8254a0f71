"""Unit tests of the clocks."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bus.clock import FakeClock, SystemClock, as_utc, iso


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


def test_a_naive_instant_is_taken_as_utc_and_an_aware_one_converted():
    assert as_utc(datetime(2025, 3, 1, 9, 30)) == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    paris = datetime(2025, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    assert as_utc(paris).tzinfo is UTC and as_utc(paris) == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    assert as_utc(None) is None


def test_instants_are_written_in_utc_with_a_z_and_dates_as_days():
    assert iso(datetime(2025, 3, 1, 9, 30, tzinfo=UTC)) == "2025-03-01T09:30:00Z"
    assert iso(datetime(2025, 3, 1, 9, 30, 0, 250)) == "2025-03-01T09:30:00.000250Z"
    assert (
        iso(datetime(2025, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1))))
        == "2025-03-01T09:30:00Z"
    )
    assert iso(date(2025, 3, 1)) == "2025-03-01"
    assert iso(None) is None

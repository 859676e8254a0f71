"""Clocks and instants: the time source every part is given, so tests move time instead of
sleeping, and the one way an instant is made UTC-aware (`as_utc`) and written out (`iso`)."""

from datetime import UTC, date, datetime, timedelta
from typing import Protocol, overload


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """`moment` as an aware UTC instant; a naive one (SQLite gives those back) is taken to be UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@overload
def iso(moment: date) -> str: ...
@overload
def iso(moment: None) -> None: ...
def iso(moment: date | None) -> str | None:
    """ISO 8601, the form of every answer and event: an instant in UTC with a Z
    (`2025-01-31T09:00:00Z`), a date as `2025-01-31`; None stays None."""
    if isinstance(moment, datetime):
        return as_utc(moment).isoformat().replace("+00:00", "Z")
    return None if moment is None else moment.isoformat()

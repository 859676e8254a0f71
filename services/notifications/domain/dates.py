"""Dates and times written the way each e-mail language writes them, without Babel."""

from __future__ import annotations

from datetime import date, datetime

from bus.clock import as_utc

_MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
}  # fmt: skip

DateLike = date | datetime | str


def format_date(value: DateLike, language: str) -> str:
    """Write a day: "March 5, 2027" in English, "5 mars 2027" (and "1er mars") in French."""
    day = _as_utc_datetime(value).date() if _has_time(value) else _as_date(value)
    months = _MONTHS.get(language, _MONTHS["en"])
    month = months[day.month - 1]
    if language == "fr":
        number = "1er" if day.day == 1 else str(day.day)
        return f"{number} {month} {day.year}"
    return f"{month} {day.day}, {day.year}"


def format_datetime(value: DateLike, language: str) -> str:
    """Write an instant in UTC: "March 5, 2027 at 2:30 PM UTC", "5 mars 2027 à 14 h 30 UTC".

    A plain date is written as a day. A naive datetime is taken to be in UTC already.
    """
    if not _has_time(value):
        return format_date(value, language)
    moment = _as_utc_datetime(value)
    day = format_date(moment, language)
    if language == "fr":
        return f"{day} à {moment.hour} h {moment.minute:02d} UTC"
    hour = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    return f"{day} at {hour}:{moment.minute:02d} {meridiem} UTC"


def _has_time(value: DateLike) -> bool:
    if isinstance(value, str):
        return "T" in value or " " in value.strip()
    return isinstance(value, datetime)


def _as_date(value: DateLike) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise TypeError(f"expected a date or an ISO 8601 string, got {type(value).__name__}")


def _as_utc_datetime(value: DateLike) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime or an ISO 8601 string, got {type(value).__name__}")
    return as_utc(value)

"""Dates in e-mails are written the way each language writes them, in UTC."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.notifications.domain.dates import format_date, format_datetime


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        (date(2027, 3, 5), "en", "March 5, 2027"),
        (date(2027, 3, 5), "fr", "5 mars 2027"),
        (date(2027, 3, 1), "fr", "1er mars 2027"),
        (date(2027, 8, 15), "fr", "15 août 2027"),
        (date(2027, 12, 1), "en", "December 1, 2027"),
        ("2027-02-10", "fr", "10 février 2027"),
        (date(2027, 3, 5), "de", "March 5, 2027"),
    ],
)
def test_format_date(value, language, expected):
    assert format_date(value, language) == expected


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        (datetime(2027, 3, 5, 14, 30, tzinfo=UTC), "en", "March 5, 2027 at 2:30 PM UTC"),
        (datetime(2027, 3, 5, 14, 30, tzinfo=UTC), "fr", "5 mars 2027 à 14 h 30 UTC"),
        (datetime(2027, 3, 5, 0, 5), "en", "March 5, 2027 at 12:05 AM UTC"),
        (datetime(2027, 3, 5, 12, 0), "en", "March 5, 2027 at 12:00 PM UTC"),
        (datetime(2027, 3, 1, 9, 5), "fr", "1er mars 2027 à 9 h 05 UTC"),
        ("2027-03-05T14:30:00Z", "en", "March 5, 2027 at 2:30 PM UTC"),
        (date(2027, 3, 5), "fr", "5 mars 2027"),
    ],
)
def test_format_datetime(value, language, expected):
    assert format_datetime(value, language) == expected


def test_an_aware_datetime_is_shown_in_utc_even_across_midnight():
    paris = timezone(timedelta(hours=1))
    moment = datetime(2027, 3, 6, 0, 30, tzinfo=paris)
    assert format_datetime(moment, "fr") == "5 mars 2027 à 23 h 30 UTC"
    assert format_date(moment, "en") == "March 5, 2027"


def test_a_value_that_is_not_a_date_is_refused():
    with pytest.raises(TypeError):
        format_date(12, "en")
    with pytest.raises(ValueError):
        format_date("next tuesday", "en")

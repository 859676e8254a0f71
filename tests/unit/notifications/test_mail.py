"""Rules of outgoing mail with no I/O: Message-IDs, the report CSV, links, which acceptance
e-mail, and the mail settings."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from bus.clock import as_utc
from bus.config import ConfigError, Settings
from services.notifications.config import MailConfig
from services.notifications.domain.mail import (
    acceptance_template,
    anomalies_by_line,
    find_links,
    full_name,
    json_safe,
    message_key,
    neutralise_cell,
    report_csv,
)


def test_a_message_key_is_stable_per_event_template_and_address():
    key = message_key("evt-1", "request_pending", "Admin@Example.test")

    assert key == message_key("evt-1", "request_pending", "admin@example.test ")
    assert key.startswith("evt-1.")
    assert key != message_key("evt-1", "request_pending", "other@example.test")
    assert key != message_key("evt-1", "request_accepted", "admin@example.test")
    assert key != message_key("evt-2", "request_pending", "admin@example.test")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_cells_a_spreadsheet_could_run_are_neutralised(start):
    assert neutralise_cell(f"{start}1+1") == f"'{start}1+1"


def test_plain_cells_are_kept():
    assert [neutralise_cell(v) for v in ("a=b", 12, None, "")] == ["a=b", "12", "", ""]


def test_the_report_lists_every_anomaly_by_line():
    text = report_csv(
        [
            {"line": 9, "field": "email", "message": "-bad"},
            {"line": None, "message": "the file has no header"},
            {"line": 2, "field": "last_name", "message": 'has a "quote"; and a separator'},
        ]
    )

    assert text.startswith("\ufeffline;field;message\r\n")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows[1:] == [
        ["2", "last_name", 'has a "quote"; and a separator'],
        ["9", "email", "'-bad"],
        ["", "", "the file has no header"],
    ]


def test_anomalies_keep_only_line_field_and_message():
    assert anomalies_by_line([{"line": 3, "message": "x", "extra": 1}]) == [
        {"line": 3, "field": None, "message": "x"}
    ]


def test_links_are_found_once_without_trailing_punctuation():
    text = (
        "Open https://portal.example.test/activate/abc.\n"
        "(see https://portal.example.test/help) or “https://portal.example.test/faq/1”, "
        "again https://portal.example.test/activate/abc"
    )

    assert find_links(text) == [
        "https://portal.example.test/activate/abc",
        "https://portal.example.test/help",
        "https://portal.example.test/faq/1",
    ]


@pytest.mark.parametrize(
    ("data", "template"),
    [
        ({"cause": "auto_subscribe", "granted_directly": True}, None),
        ({"cause": "administration_grant", "granted_directly": True}, None),
        ({"cause": "decision"}, "request_accepted"),
        ({"cause": "request"}, "subscription_accepted"),
        ({"cause": "grant"}, "subscription_accepted"),
        ({"granted_directly": True}, "subscription_accepted"),
        ({}, "subscription_accepted"),
        (
            {"requested_at": "2027-01-01T00:00:00Z", "decided_at": "2027-01-01T00:00:00Z"},
            "subscription_accepted",
        ),
        (
            {"requested_at": "2027-01-01T00:00:00Z", "decided_at": "2027-01-02T00:00:00Z"},
            "request_accepted",
        ),
    ],
)
def test_which_acceptance_email(data, template):
    assert acceptance_template(data) == template


def test_names_dates_and_json():
    assert full_name(" Steven ", "MARKS") == "Steven MARKS"
    assert full_name(None, "") is None
    assert as_utc(datetime(2027, 1, 1, 9)) == datetime(2027, 1, 1, 9, tzinfo=UTC)
    assert json_safe({"on": date(2027, 1, 2), "list": [datetime(2027, 1, 1, tzinfo=UTC)]}) == {
        "on": "2027-01-02",
        "list": ["2027-01-01T00:00:00+00:00"],
    }


def settings(**extra):
    return Settings(part="notifications", extra=extra, public_url="https://p.example.test")


def test_mail_settings_have_defaults_and_read_the_environment():
    default = MailConfig.from_settings(settings())
    tuned = MailConfig.from_settings(
        settings(
            PORTICO_MAIL_POLL_SECONDS="0.25",
            PORTICO_MAIL_MAX_ATTEMPTS="3",
            PORTICO_MAIL_RETRY_SECONDS="10",
            PORTICO_MAIL_RETRY_MAX_SECONDS="25",
        )
    )

    assert (default.poll_seconds, default.max_attempts, default.batch_size) == (1.0, 8, 100)
    assert default.uses_mailbox
    assert default.validation_url == "https://p.example.test/validation"
    assert tuned.poll_seconds == 0.25 and tuned.max_attempts == 3
    assert [tuned.backoff_seconds(n) for n in (1, 2, 3, 4)] == [10, 20, 25, 25]


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_mail_setting_names_the_variable(value):
    with pytest.raises(ConfigError, match="PORTICO_MAIL_POLL_SECONDS"):
        MailConfig.from_settings(settings(PORTICO_MAIL_POLL_SECONDS=value))

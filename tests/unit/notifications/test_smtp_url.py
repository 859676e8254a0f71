"""SMTP settings come from one URL: scheme, credentials, TLS mode and options."""

import pytest

from services.notifications.adapters.smtp import DEFAULT_TIMEOUT, SmtpSender, SmtpSettings


def test_plain_smtp():
    settings = SmtpSettings.from_url("smtp://mail.example.test:2525")
    assert settings == SmtpSettings(host="mail.example.test", port=2525)
    assert not settings.implicit_tls and not settings.starttls
    assert settings.timeout == DEFAULT_TIMEOUT


def test_credentials_and_starttls():
    settings = SmtpSettings.from_url("smtp://user:s%40cret%3A1@mail.example.test:587?starttls=true")
    assert settings.username == "user"
    assert settings.password == "s@cret:1"
    assert settings.starttls and not settings.implicit_tls
    assert settings.port == 587


def test_implicit_tls():
    settings = SmtpSettings.from_url("smtps://relay%40example.test:pw@mail.example.test")
    assert settings.implicit_tls and not settings.starttls
    assert settings.port == 465
    assert settings.username == "relay@example.test"


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("smtp://mail.example.test", 25),
        ("smtp://mail.example.test?starttls=true", 587),
        ("smtps://mail.example.test", 465),
        ("SMTP://mail.example.test:2525", 2525),
    ],
)
def test_default_ports(url, port):
    assert SmtpSettings.from_url(url).port == port


@pytest.mark.parametrize("value", ["true", "True", "1", "yes", "on"])
def test_starttls_true_spellings(value):
    assert SmtpSettings.from_url(f"smtp://h.example.test?starttls={value}").starttls


@pytest.mark.parametrize("value", ["false", "0", "no", "off", ""])
def test_starttls_false_spellings(value):
    assert not SmtpSettings.from_url(f"smtp://h.example.test?starttls={value}").starttls


def test_timeout_option():
    assert SmtpSettings.from_url("smtp://h.example.test?timeout=2.5").timeout == 2.5


def test_ipv6_host():
    settings = SmtpSettings.from_url("smtp://[::1]:2525")
    assert settings.host == "::1"
    assert settings.safe_url == "smtp://[::1]:2525"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.test", "smtp:// or smtps://"),
        ("mail.example.test:25", "smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtp://h.example.test?startls=true", "unknown SMTP URL option"),
        ("smtp://h.example.test?starttls=maybe", "true or false"),
        ("smtps://h.example.test?starttls=true", "already TLS"),
        ("smtp://h.example.test?timeout=0", "positive"),
        ("smtp://h.example.test?timeout=soon", "positive"),
        ("smtp://h.example.test:99999", "out of range"),
    ],
)
def test_bad_urls_are_refused(url, message):
    with pytest.raises(ValueError, match=message):
        SmtpSettings.from_url(url)


def test_the_password_stays_out_of_logs():
    settings = SmtpSettings.from_url("smtp://user:hunter2@h.example.test:587?starttls=true")
    assert "hunter2" not in repr(settings)
    assert settings.safe_url == "smtp://user@h.example.test:587?starttls=true"


def test_the_sender_is_built_from_a_url_without_connecting():
    sender = SmtpSender.from_url("smtp://127.0.0.1:1")
    assert sender.settings.port == 1
    sender.close()  # nothing open: nothing to do

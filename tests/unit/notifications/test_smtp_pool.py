"""The SMTP pool (several connections, one thread each, many e-mails per connection) and the
prepared e-mails it sends (`adapters/mime.py`), against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from bus.config import ConfigError, Settings
from services.notifications.adapters.mime import smtp_envelope
from services.notifications.adapters.smtp import SmtpEnvelope, SmtpPool, SmtpSettings
from services.notifications.config import MailConfig
from services.notifications.domain.rendering import TEMPLATES, build_message
from tests.service.notifications.smtp_sink import RecordingHandler, start_sink

SENDER = "administrateur@portico.example.test"
WHEN = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
HEADERS = (
    "Subject",
    "From",
    "To",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "Content-Language",
    "MIME-Version",
)


def parsed(data: bytes):
    return message_from_bytes(data, policy=policy.default)


def library_envelope(rendered, to, attachments=()):
    message = build_message(
        rendered, sender=SENDER, to=to, attachments=attachments, message_id="evt-1.abc", date=WHEN
    )
    return SmtpEnvelope.of(message)


@pytest.mark.parametrize("language", ["en-GB", "fr-FR"])
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_a_prepared_email_is_the_one_the_email_package_makes(
    renderer, make_context, template, language
):
    rendered = renderer.render(template, language, make_context(template))
    ours = smtp_envelope(
        rendered, sender=SENDER, to="steven.marks@example.test", message_id="evt-1.abc", date=WHEN
    )
    theirs = library_envelope(rendered, "steven.marks@example.test")

    assert (ours.sender, ours.recipients, ours.international) == (
        theirs.sender,
        theirs.recipients,
        theirs.international,
    )
    assert (
        ours.data.isascii()
        and b"\r\n" in ours.data
        and b"\n" not in ours.data.replace(b"\r\n", b"")
    )
    mine, reference = parsed(ours.data), parsed(theirs.data)
    for header in HEADERS:
        assert str(mine[header]) == str(reference[header]), header
    assert mine.get_content_type() == reference.get_content_type() == "multipart/alternative"
    for kind in ("plain", "html"):
        assert mine.get_body((kind,)).get_content() == reference.get_body((kind,)).get_content()
    assert max(len(line) for line in ours.data.split(b"\r\n")) <= 78


def test_an_email_with_an_attachment_or_a_non_ascii_address_is_made_by_the_email_package(
    renderer, make_context
):
    rendered = renderer.render("import_finished", "fr", make_context("import_finished"))
    report = [("import-report.csv", b"line;field;message\r\n", "text/csv")]
    with_report = smtp_envelope(
        rendered,
        sender=SENDER,
        to="a@example.test",
        message_id="evt-1.abc",
        date=WHEN,
        attachments=report,
    )
    [attachment] = parsed(with_report.data).iter_attachments()
    assert attachment.get_filename() == "import-report.csv"

    international = smtp_envelope(
        rendered, sender=SENDER, to="zoé@exemple.test", message_id="evt-1.abc", date=WHEN
    )
    assert international.international and international.recipients == ("zoé@exemple.test",)


def test_a_header_cannot_be_injected_through_the_address(renderer, make_context):
    """Not the shortcut's plain address: the email package refuses it (the delivery loop
    then fails the row with the reason)."""
    rendered = renderer.render("activation", "en", make_context("activation"))
    with pytest.raises(ValueError, match="linefeed"):
        smtp_envelope(
            rendered,
            sender=SENDER,
            to="a@example.test\r\nBcc: b@example.test",
            message_id="evt-1.abc",
            date=WHEN,
        )


class HoldingHandler(RecordingHandler):
    """Holds every DATA until `release` is set, counting how many are held at once."""

    def __init__(self) -> None:
        super().__init__(keep=True)
        self.release = threading.Event()
        self.held = 0
        self.most_held = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        import asyncio

        with self.lock:
            self.held += 1
            self.most_held = max(self.most_held, self.held)
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        with self.lock:
            self.held -= 1
        return await super().handle_DATA(server, session, envelope)


def envelope_to(index: int) -> SmtpEnvelope:
    data = f"Subject: {index}\r\nTo: u{index}@example.test\r\n\r\nhello\r\n".encode()
    return SmtpEnvelope(SENDER, (f"u{index}@example.test",), data, False)


def test_the_pool_sends_over_as_many_connections_at_once_as_it_has():
    handler = HoldingHandler()
    controller = start_sink(handler)
    pool = SmtpPool(SmtpSettings("127.0.0.1", controller.port), 3)
    try:
        futures = [
            pool.submit(lambda sender, e: sender.send_envelope(e), envelope_to(i))
            for i in range(12)
        ]
        deadline = threading.Event()
        for _ in range(500):  # until three are held at the server (at most 5 s)
            if handler.held == 3:
                break
            deadline.wait(0.01)
        assert handler.held == 3
        handler.release.set()
        for future in futures:
            future.result(timeout=30)
    finally:
        pool.close()
        controller.stop()
    assert handler.most_held == 3
    assert sorted(m["To"] for m in handler.messages()) == sorted(
        f"u{i}@example.test" for i in range(12)
    )
    assert handler.connections() == 3  # and each carried several e-mails
    assert pool.open_connections == 0  # closed: QUIT said on each


def test_a_light_load_reuses_one_connection():
    handler = RecordingHandler()
    controller = start_sink(handler)
    pool = SmtpPool(SmtpSettings("127.0.0.1", controller.port), 4)
    try:
        for index in range(5):
            pool.submit(lambda sender, e: sender.send_envelope(e), envelope_to(index)).result(30)
    finally:
        pool.close()
        controller.stop()
    assert handler.count == 5 and handler.connections() == 1


@pytest.mark.parametrize("value", ["0", "-2", "four", "1.5"])
def test_a_connection_count_that_is_not_a_whole_number_is_refused(value):
    settings = Settings(part="notifications", extra={"PORTICO_MAIL_CONNECTIONS": value})
    with pytest.raises(ConfigError, match="PORTICO_MAIL_CONNECTIONS"):
        MailConfig.from_settings(settings)


def test_four_connections_by_default():
    assert MailConfig.from_settings(Settings(part="notifications")).connections == 4

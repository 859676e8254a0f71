"""build_message assembles a rendered e-mail into a MIME message mail servers accept."""

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from services.notifications.domain.rendering import RenderedEmail, build_message

SENDER = "administrateur@portico.example.test"


@pytest.fixture
def rendered():
    return RenderedEmail(
        subject="Demande refusée\u00a0: Invoice viewing service",
        text="Bonjour Élodie,\n\nVotre demande a été refusée.\n",
        html='<!DOCTYPE html>\n<html lang="fr"><body><p>Bonjour Élodie,</p></body></html>\n',
        language="fr",
        sender_name="Administrateur Portico",
    )


def reparse(message):
    return message_from_bytes(message.as_bytes(), policy=policy.default)


def test_text_and_html_are_alternatives(rendered):
    message = reparse(build_message(rendered, sender=SENDER, to="elodie@example.test"))

    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert text.get_content() == rendered.text
    assert html.get_content() == rendered.html
    assert message["Subject"] == rendered.subject
    assert message["To"] == "elodie@example.test"
    assert message["Content-Language"] == "fr"
    assert message["Auto-Submitted"] == "auto-generated"


def test_the_message_is_7bit_clean_for_any_server(rendered):
    raw = build_message(rendered, sender=SENDER, to="elodie@example.test").as_bytes()
    assert raw.isascii()


def test_attachments_make_the_message_mixed(rendered):
    report = "line;field;message\r\n2;email;adresse non valide (é)\r\n".encode()
    message = reparse(
        build_message(
            rendered,
            sender=SENDER,
            to="elodie@example.test",
            attachments=[("report.csv", report, "text/csv")],
        )
    )

    assert message.get_content_type() == "multipart/mixed"
    body, attachment = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_payload(decode=True) == report
    assert message.get_body(("plain",)).get_content() == rendered.text


def test_an_attachment_needs_a_full_mimetype(rendered):
    with pytest.raises(ValueError, match="mimetype"):
        build_message(rendered, sender=SENDER, to="x@example.test", attachments=[("a", b"", "csv")])


def test_a_bare_sender_gets_the_administrator_name(rendered):
    message = reparse(build_message(rendered, sender=SENDER, to="x@example.test"))
    assert message["From"].addresses[0].display_name == "Administrateur Portico"
    assert message["From"].addresses[0].addr_spec == SENDER


def test_a_sender_with_a_name_is_kept(rendered):
    sender = f"Portico <{SENDER}>"
    message = reparse(build_message(rendered, sender=sender, to="x@example.test"))
    assert message["From"].addresses[0].display_name == "Portico"


def test_several_recipients(rendered):
    message = reparse(
        build_message(rendered, sender=SENDER, to=["a@example.test", "b@example.test"])
    )
    assert [a.addr_spec for a in message["To"].addresses] == ["a@example.test", "b@example.test"]


def test_an_event_id_becomes_a_stable_message_id(rendered):
    first = build_message(rendered, sender=SENDER, to="x@example.test", message_id="7f3c-01")
    again = build_message(rendered, sender=SENDER, to="x@example.test", message_id="7f3c-01")
    assert first["Message-ID"] == again["Message-ID"] == "<7f3c-01@portico.example.test>"
    kept = build_message(rendered, sender=SENDER, to="x@example.test", message_id="<a@b.test>")
    assert kept["Message-ID"] == "<a@b.test>"
    generated = build_message(rendered, sender=SENDER, to="x@example.test")
    assert generated["Message-ID"].endswith("@portico.example.test>")


def test_date_and_extra_headers(rendered):
    message = build_message(
        rendered,
        sender=SENDER,
        to="x@example.test",
        date=datetime(2027, 3, 5, 14, 30, tzinfo=UTC),
        headers={"X-Portico-Event": "7f3c-01", "Auto-Submitted": "auto-replied"},
    )
    assert message["Date"] == "Fri, 05 Mar 2027 14:30:00 +0000"
    assert message["X-Portico-Event"] == "7f3c-01"
    assert message.get_all("Auto-Submitted") == ["auto-replied"]

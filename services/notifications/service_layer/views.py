"""Read models of the internal API: the built-in mailbox and the delivery log."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bus.clock import iso
from bus.i18n import _l
from bus.pagination import Page
from services.notifications.adapters import repository as repo
from services.notifications.domain.mail import find_links
from services.notifications.domain.records import STATUSES, Delivery, KeptMail


class Invalid(Exception):
    """A query parameter that cannot be used; `errors` per parameter, written for a person."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class NotFound(Exception):
    """Nothing with this id."""


def list_mailbox(session: Session, page: Page, to: str | None = None) -> dict[str, Any]:
    """Kept e-mails, newest first; `to` keeps those sent to that address (any case)."""
    found = repo.mailbox_page(session, page, to)
    return {**found, "items": [_mail_summary(mail) for mail in found["items"]]}


def show_mail(session: Session, mail_id: int) -> dict[str, Any]:
    """One kept e-mail with its text, HTML, the links of its text and its attachments."""
    mail = repo.get_kept_mail(session, mail_id)
    if mail is None:
        raise NotFound(_l("There is no e-mail with this id in the mailbox.", code="mail.not_found"))
    return {
        **_mail_summary(mail),
        "message_id": mail.message_id,
        "text": mail.text,
        "html": mail.html,
        "links": find_links(mail.text),
        "attachments": [
            {
                "filename": item["filename"],
                "mimetype": item["mimetype"],
                "size": len(item["content"].encode("utf-8")),
            }
            for item in mail.attachments or ()
        ],
    }


def mail_attachment(session: Session, mail_id: int, index: int) -> tuple[str, str, bytes]:
    """(filename, mimetype, content) of a kept e-mail's attachment, counted from 0."""
    attachments = repo.kept_attachments(session, mail_id)
    if not 0 <= index < len(attachments):
        raise NotFound(
            _l("This e-mail has no attachment with this number.", code="mail.attachment_not_found")
        )
    item = attachments[index]
    return item["filename"], item["mimetype"], item["content"].encode("utf-8")


def list_deliveries(session: Session, page: Page, status: str | None = None) -> dict[str, Any]:
    """Outgoing e-mails, newest first, with their attempts and the server's last answer."""
    if status and status not in STATUSES:
        raise Invalid(
            {
                "status": [
                    _l(
                        "Choose one of {choices}.",
                        code="validation.not_a_choice",
                        choices=", ".join(STATUSES),
                    )
                ]
            }
        )
    found = repo.deliveries_page(session, page, status)
    return {**found, "items": [_delivery(delivery) for delivery in found["items"]]}


def _mail_summary(mail: KeptMail) -> dict[str, Any]:
    return {
        "id": mail.id,
        "to": mail.recipient,
        "subject": mail.subject,
        "sent_at": iso(mail.sent_at),
    }


def _delivery(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "template": delivery.template,
        "to": delivery.recipient,
        "user_id": delivery.user_id,
        "language": delivery.language,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_answer": delivery.last_answer,
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.waiting else None,
        "subject": delivery.subject,
        "message_id": delivery.message_id,
        "created_at": iso(delivery.created_at),
        "sent_at": iso(delivery.sent_at),
    }

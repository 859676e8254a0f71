"""Read models of the internal API: the built-in mailbox and the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bus.pagination import Page
from services.notifications.adapters.orm import STATUSES, mailbox, outgoing
from services.notifications.domain.mail import as_utc, find_links


class Invalid(Exception):
    """A query parameter that cannot be used; `errors` per parameter, written for a person."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class NotFound(Exception):
    """Nothing with this id."""


def list_mailbox(session: Session, page: Page, to: str | None = None) -> dict[str, Any]:
    """Kept e-mails, newest first; `to` keeps those sent to that address (any case)."""
    query = sa.select(
        mailbox.c.id, mailbox.c.recipient, mailbox.c.subject, mailbox.c.sent_at
    ).order_by(mailbox.c.id.desc())
    if to and to.strip():
        query = query.where(sa.func.lower(mailbox.c.recipient) == to.strip().lower())
    return page.answer(session, query, _mail_summary)


def show_mail(session: Session, mail_id: int) -> dict[str, Any]:
    """One kept e-mail with its text, HTML, the links of its text and its attachments."""
    row = session.execute(sa.select(mailbox).where(mailbox.c.id == mail_id)).first()
    if row is None:
        raise NotFound("There is no e-mail with this id in the mailbox.")
    return {
        **_mail_summary(row),
        "message_id": row.message_id,
        "text": row.text,
        "html": row.html,
        "links": find_links(row.text),
        "attachments": [
            {"filename": item["filename"], "mimetype": item["mimetype"],
             "size": len(item["content"].encode("utf-8"))}
            for item in row.attachments or ()
        ],
    }


def mail_attachment(session: Session, mail_id: int, index: int) -> tuple[str, str, bytes]:
    """(filename, mimetype, content) of a kept e-mail's attachment, counted from 0."""
    attachments = session.execute(
        sa.select(mailbox.c.attachments).where(mailbox.c.id == mail_id)
    ).scalar_one_or_none() or []
    if not 0 <= index < len(attachments):
        raise NotFound("This e-mail has no attachment with this number.")
    item = attachments[index]
    return item["filename"], item["mimetype"], item["content"].encode("utf-8")


def list_deliveries(session: Session, page: Page, status: str | None = None) -> dict[str, Any]:
    """Outgoing e-mails, newest first, with their attempts and the server's last answer."""
    query = sa.select(
        *(column for column in outgoing.c if column.name not in ("context", "attachments"))
    ).order_by(outgoing.c.id.desc())
    if status:
        if status not in STATUSES:
            raise Invalid({"status": [f"Choose one of {', '.join(STATUSES)}."]})
        query = query.where(outgoing.c.status == status)
    return page.answer(session, query, _delivery)


def _mail_summary(row: Any) -> dict[str, Any]:
    return {"id": row.id, "to": row.recipient, "subject": row.subject,
            "sent_at": _iso(row.sent_at)}


def _delivery(row: Any) -> dict[str, Any]:
    waiting = row.status in ("queued", "retrying")
    return {
        "id": row.id,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "template": row.template,
        "to": row.recipient,
        "user_id": row.user_id,
        "language": row.language,
        "status": row.status,
        "attempts": row.attempts,
        "last_answer": row.last_answer,
        "next_attempt_at": _iso(row.next_attempt_at) if waiting else None,
        "subject": row.subject,
        "message_id": row.message_id,
        "created_at": _iso(row.created_at),
        "sent_at": _iso(row.sent_at),
    }


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return as_utc(moment).isoformat().replace("+00:00", "Z")

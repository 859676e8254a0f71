"""The recipients projection: who can be written to, who administers which account, who holds
which notification service. Fed by identity and subscription events; nothing fetched over HTTP."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bus.db import upsert
from bus.envelope import Envelope
from services.notifications.adapters.orm import accounts, held_services, recipients
from services.notifications.domain.mail import REACHABLE, Recipient, as_utc, full_name

from .unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)

USER_FIELDS = ("account_id", "email", "title", "first_name", "last_name", "language", "status")


# -- handlers -------------------------------------------------------------------------------


def record_account(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """Keep the account projection (the account's name in e-mails)."""
    data = event.data
    values = {k: data.get(k) for k in ("number", "name", "parent_id", "relation")}
    _upsert(uow.session, accounts, accounts.c.id, data["account_id"], values)


def record_user(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.user.created / .updated / .activated: the user's address, names and language."""
    data = event.data
    tombstone = uow.session.execute(
        sa.select(recipients.c.status).where(recipients.c.user_id == data["user_id"])
    ).scalar_one_or_none()
    if tombstone == "deleted":  # a late update of a deleted user must not bring them back
        return
    values: dict[str, Any] = {name: data.get(name) for name in USER_FIELDS}
    values["email"] = _address(values["email"])
    values["full_name"] = full_name(data.get("first_name"), data.get("last_name"))
    values["updated_at"] = uow.now()
    _upsert(uow.session, recipients, recipients.c.user_id, data["user_id"], values)


def forget_user(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.user.deleted: keep a tombstone without personal data; their holdings end."""
    user_id = event.data["user_id"]
    values = {
        "account_id": event.data["account_id"],
        "status": "deleted",
        "email": None,
        "title": None,
        "first_name": None,
        "last_name": None,
        "full_name": None,
        "updated_at": uow.now(),
    }
    _upsert(uow.session, recipients, recipients.c.user_id, user_id, values)
    uow.session.execute(held_services.delete().where(held_services.c.user_id == user_id))


def record_email_change(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.email.changed: the new address is the one to write to from now on."""
    uow.session.execute(
        recipients.update()
        .where(recipients.c.user_id == event.data["user_id"], recipients.c.status != "deleted")
        .values(email=_address(event.data["new_email"]), updated_at=uow.now())
    )


def record_subscription(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """subscriptions.subscription.*: administration and notification holdings, and the
    subscriber's address when identity has not told us about them yet."""
    data = event.data
    _learn_subscriber(uow, data)
    if not data.get("administers_account_id") and not data.get("notifies"):
        return
    changed_at = _instant(data.get("changed_at"))
    current = uow.session.execute(
        sa.select(held_services.c.changed_at).where(
            held_services.c.subscription_id == data["subscription_id"]
        )
    ).first()
    if current is not None and _older(changed_at, current.changed_at):
        log.info("subscription %s: ignoring an older change", data["subscription_id"])
        return
    values = {
        "user_id": data["user_id"],
        "account_id": data["account_id"],
        "service_code": data["service_code"],
        "administers_account_id": data.get("administers_account_id"),
        "supervises": bool(data.get("supervises")),
        "notifies": data.get("notifies"),
        "status": data["status"],
        "expires_on": _day(data.get("expires_on")),
        "changed_at": changed_at,
    }
    _upsert(uow.session, held_services, held_services.c.subscription_id,
            data["subscription_id"], values)


# -- queries used to address e-mails ------------------------------------------------------------


def find_user(session: Session, user_id: str | None) -> Any:
    """The recipients row of `user_id`, or None when we never heard of them."""
    if not user_id:
        return None
    return session.execute(sa.select(recipients).where(recipients.c.user_id == user_id)).first()


def as_recipient(row: Any) -> Recipient | None:
    """A projection row as someone to write to; None when deleted or without address."""
    if row is None or not row.email or row.status not in REACHABLE:
        return None
    return Recipient(row.email, row.full_name, row.language, row.user_id)


def account_name(session: Session, account_id: str | None) -> str | None:
    if not account_id:
        return None
    return session.execute(
        sa.select(accounts.c.name).where(accounts.c.id == account_id)
    ).scalar_one_or_none()


def administrators_of(session: Session, account_id: str, today: date) -> list[Recipient]:
    """Who holds the account's administration service now; its supervisors when it has none."""
    rows = session.execute(
        sa.select(recipients, held_services.c.supervises)
        .join(held_services, held_services.c.user_id == recipients.c.user_id)
        .where(
            held_services.c.administers_account_id == account_id,
            held_services.c.status == "accepted",
            _unexpired(today),
        )
        .order_by(recipients.c.user_id)
    ).all()
    direct = [row for row in rows if not row.supervises]
    return _unique(as_recipient(row) for row in (direct or rows))


def holders_of(session: Session, notifies: str, today: date) -> list[Recipient]:
    """Who holds a service that notifies of this content kind, now, once each."""
    rows = session.execute(
        sa.select(recipients)
        .join(held_services, held_services.c.user_id == recipients.c.user_id)
        .where(
            held_services.c.notifies == notifies,
            held_services.c.status == "accepted",
            _unexpired(today),
        )
        .order_by(recipients.c.user_id)
    ).all()
    return _unique(as_recipient(row) for row in rows)


# -- helpers --------------------------------------------------------------------------------


def _learn_subscriber(uow: NotificationsUnitOfWork, data: dict[str, Any]) -> None:
    if not data.get("user_email") or find_user(uow.session, data["user_id"]) is not None:
        return
    uow.session.execute(
        recipients.insert().values(
            user_id=data["user_id"],
            account_id=data["account_id"],
            email=_address(data["user_email"]),
            full_name=data.get("user_name"),
            language=data.get("user_language"),
            status="unknown",  # identity's events will say; until then, write to it
            updated_at=uow.now(),
        )
    )


def _unexpired(today: date) -> sa.ColumnElement[bool]:
    return sa.or_(held_services.c.expires_on.is_(None), held_services.c.expires_on >= today)


def _unique(found: Any) -> list[Recipient]:
    seen: dict[str, Recipient] = {}
    for recipient in found:
        if recipient is not None and recipient.key not in seen:
            seen[recipient.key] = recipient
    return list(seen.values())


def _upsert(session: Session, table: sa.Table, key: sa.Column[Any], value: str,
            values: dict[str, Any]) -> None:
    upsert(session, table, {key.name: value, **values}, keys=(key.name,))


def _address(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _older(new: datetime | None, stored: datetime | None) -> bool:
    return new is not None and stored is not None and as_utc(new) < as_utc(stored)

"""The recipients projection: who can be written to, who administers which account, who holds
which notification service. Fed by identity and subscription events; nothing fetched over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from bus.clock import as_utc
from bus.envelope import Envelope
from services.notifications.adapters import repository as repo
from services.notifications.domain.mail import Recipient, full_name
from services.notifications.domain.records import Account, Holding, User

from .unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)


# -- handlers -------------------------------------------------------------------------------


def record_account(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """Keep the account projection (the account's name in e-mails)."""
    data = event.data
    repo.save_account(
        uow.session,
        Account(
            id=data["account_id"],
            number=data.get("number"),
            name=data.get("name"),
            parent_id=data.get("parent_id"),
            relation=data.get("relation"),
        ),
    )


def record_user(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.user.created / .updated / .activated: the user's address, names and language."""
    data = event.data
    known = repo.get_user(uow.session, data["user_id"])
    if known is not None and known.status == "deleted":  # a late update must not bring them back
        return
    user = User(
        user_id=data["user_id"],
        account_id=data["account_id"],
        status=data["status"],
        email=_address(data.get("email")),
        title=data.get("title"),
        first_name=data.get("first_name"),
        last_name=data.get("last_name"),
        full_name=full_name(data.get("first_name"), data.get("last_name")),
        language=data.get("language"),
    )
    repo.save_user(uow.session, user, uow.now())


def record_users(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.users.created: the users a bulk command created, in one statement."""
    data = event.data
    repo.save_users(
        uow.session,
        [
            User(
                user_id=user["user_id"],
                account_id=data["account_id"],
                status=user["status"],
                email=_address(user.get("email")),
                title=user.get("title"),
                first_name=user.get("first_name"),
                last_name=user.get("last_name"),
                full_name=full_name(user.get("first_name"), user.get("last_name")),
                language=user.get("language"),
            )
            for user in data["users"]
        ],
        uow.now(),
    )


def forget_user(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.user.deleted: keep a tombstone without personal data; their holdings end."""
    repo.forget_user(uow.session, event.data["user_id"], event.data["account_id"], uow.now())


def record_email_change(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.email.changed: the new address is the one to write to from now on."""
    new_email = _address(event.data["new_email"])
    repo.change_email(uow.session, event.data["user_id"], new_email, uow.now())


def record_subscription(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """subscriptions.subscription.*: administration and notification holdings, and the
    subscriber's address when identity has not told us about them yet."""
    _record_holding(uow, event.data)


def record_subscriptions(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """subscriptions.subscriptions.accepted: record_subscription of the bulk change's entries
    that matter here (administration and notification services; no e-mail goes out for an
    automatic grant), in the consumer's one transaction. A batch that describes each service
    once is read only for the services that administer or notify."""
    for data in event.data.get("subscriptions") or ():
        if data.get("administers_account_id") or data.get("notifies"):
            _record_holding(uow, data)
    for data in _granted_that_matter(event.data):
        _record_holding(uow, data)


def _granted_that_matter(batch: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """The grants of a batch's `users` whose service (of `services`) administers or notifies,
    each in subscriptions.subscription.accepted's shape."""
    services = {
        service["service_id"]: service
        for service in batch.get("services") or ()
        if service.get("administers_account_id") or service.get("notifies")
    }
    if not services:
        return
    for user in batch.get("users") or ():
        for subscription_id, service_id in zip(
            user["subscription_ids"], user["service_ids"], strict=False
        ):
            service = services.get(service_id)
            if service is None:
                continue
            yield {
                **service,
                **{k: user.get(k) for k in ("user_id", "user_email", "user_name", "user_language")},
                "subscription_id": subscription_id,
                "account_id": batch["account_id"],
                "status": "accepted",
                "expires_on": batch.get("expires_on"),
                "changed_at": batch.get("changed_at"),
            }


def _record_holding(uow: NotificationsUnitOfWork, data: Mapping[str, Any]) -> None:
    _learn_subscriber(uow, data)
    if not data.get("administers_account_id") and not data.get("notifies"):
        return
    changed_at = _instant(data.get("changed_at"))
    current = repo.get_holding(uow.session, data["subscription_id"])
    if current is not None and _older(changed_at, current.changed_at):
        log.info("subscription %s: ignoring an older change", data["subscription_id"])
        return
    repo.save_holding(
        uow.session,
        Holding(
            subscription_id=data["subscription_id"],
            user_id=data["user_id"],
            account_id=data["account_id"],
            service_code=data["service_code"],
            administers_account_id=data.get("administers_account_id"),
            supervises=bool(data.get("supervises")),
            notifies=data.get("notifies"),
            status=data["status"],
            expires_on=_day(data.get("expires_on")),
            changed_at=changed_at,
        ),
    )


# -- who to write to ---------------------------------------------------------------------------


def administrators_of(
    uow: NotificationsUnitOfWork, account_id: str, today: date
) -> list[Recipient]:
    """Who holds the account's administration service now; its supervisors when it has none."""
    found = repo.administrators(uow.session, account_id, today)
    direct = [admin for admin in found if not admin.supervises]
    return _unique(admin.user.recipient() for admin in (direct or found))


def holders_of(uow: NotificationsUnitOfWork, notifies: str, today: date) -> list[Recipient]:
    """Who holds a service that notifies of this content kind, now, once each."""
    return _unique(user.recipient() for user in repo.holders(uow.session, notifies, today))


# -- helpers --------------------------------------------------------------------------------


def _learn_subscriber(uow: NotificationsUnitOfWork, data: Mapping[str, Any]) -> None:
    if not data.get("user_email") or repo.get_user(uow.session, data["user_id"]) is not None:
        return
    repo.add_user(
        uow.session,
        User(
            user_id=data["user_id"],
            account_id=data["account_id"],
            email=_address(data["user_email"]),
            full_name=data.get("user_name"),
            language=data.get("user_language"),
            status="unknown",  # identity's events will say; until then, write to it
        ),
        uow.now(),
    )


def _unique(found: Iterable[Recipient | None]) -> list[Recipient]:
    seen: dict[str, Recipient] = {}
    for recipient in found:
        if recipient is not None and recipient.key not in seen:
            seen[recipient.key] = recipient
    return list(seen.values())


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

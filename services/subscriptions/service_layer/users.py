"""The users projection and what a new or deleted user means for subscriptions."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from bus.consumer import NotYet
from bus.envelope import Envelope
from services.subscriptions.adapters import batch_repository as batches
from services.subscriptions.adapters import repository as repo
from services.subscriptions.adapters import subscription_repository as subs
from services.subscriptions.domain.administrators import may_be_automatic
from services.subscriptions.domain.definitions import admin_service_code
from services.subscriptions.domain.errors import LevelTooLow
from services.subscriptions.domain.model import grant
from services.subscriptions.domain.records import CatalogService, User

from .common import end_current
from .events import Announcer, Granted
from .unit_of_work import SubscriptionsUnitOfWork
from .views import stored

log = logging.getLogger(__name__)

USER_FIELDS = (
    "account_id",
    "email",
    "title",
    "last_name",
    "first_name",
    "language",
    "password_level",
    "status",
)


class AccountNotKnownYet(NotYet):
    """A user of an account whose `created` event has not arrived yet: retried later (the
    other replica may still be handling it), without counting an attempt."""


def record_user(uow: SubscriptionsUnitOfWork, event: Envelope) -> None:
    """identity.user.updated / .activated: keep level, names, e-mail, language and status."""
    values: dict[str, Any] = {name: event.data.get(name) for name in USER_FIELDS}
    repo.save_user(uow.session, event.data["user_id"], values, uow.now())


def welcome_user(uow: SubscriptionsUnitOfWork, event: Envelope) -> None:
    """identity.user.created: record the user, grant every auto service the level allows,
    and the account's administration service when the operator created an administrator.

    A service whose minimum level the user lacks is skipped (logged), never a failure.
    """
    data = event.data
    account = repo.get_account(uow.session, data["account_id"])
    if account is None or account.created_at is None:
        raise AccountNotKnownYet(f"account {data['account_id']} is not known yet")
    record_user(uow, event)
    user = repo.get_user(uow.session, data["user_id"])
    if user is None:  # deleted before its creation reached us: nothing to grant
        return
    services = repo.catalog_services(uow.session, account.id)
    wanted: list[tuple[CatalogService, str, str | None]] = [
        (service, "auto_subscribe", None)
        for service in services
        if service.auto_subscribe and may_be_automatic(service.code)
    ]
    if data.get("grant_administration"):
        admin_code = admin_service_code(account.id)
        admin = next((s for s in services if s.code == admin_code), None)
        if admin is None:
            log.error(
                "account %s has no administration service; %s not made administrator",
                account.id,
                user.id,
            )
        else:
            wanted = [w for w in wanted if w[0].id != admin.id]
            wanted.append((admin, "administration_grant", "operator"))
    _grant_at_creation(uow, user, wanted)


def _grant_at_creation(
    uow: SubscriptionsUnitOfWork, user: User, wanted: list[tuple[CatalogService, str, str | None]]
) -> None:
    held = {s.service_id for s in subs.of_user(uow.session, user.id, statuses=subs.CURRENT)}
    announcer = Announcer(uow)
    now = uow.now()
    for service, cause, granted_by in wanted:
        if service.id in held:  # a redelivered creation, or granted meanwhile
            continue
        try:
            subscription = grant(
                service,
                user.password_level,
                now,
                user_id=user.id,
                granted_by=granted_by,
                subscription_id=str(uuid.uuid4()),
            )
        except LevelTooLow:
            log.info(
                "user %s (level %s) not subscribed to %s: it needs level %s",
                user.id,
                user.password_level,
                service.code,
                service.min_password_level,
            )
            continue
        record = stored(
            subscription, account_id=user.account_id, service_id=service.id, granted_directly=True
        )
        subs.insert(uow.session, record)
        announcer.subscription(record, service, cause=cause)


def welcome_users(uow: SubscriptionsUnitOfWork, event: Envelope) -> None:
    """identity.users.created: welcome_user for a whole batch in one transaction, set-based.

    The users are written with one statement (which answers who exists), what they already
    hold is read with one query, their automatic services are inserted with one statement and
    announced as subscriptions.subscriptions.accepted batches (each service described once,
    each user with the ids of their new subscriptions). An administration grant, which identity
    follows, keeps its own event. A redelivered batch grants nothing twice.
    """
    data = event.data
    account = repo.get_account(uow.session, data["account_id"])
    if account is None or account.created_at is None:
        raise AccountNotKnownYet(f"account {data['account_id']} is not known yet")
    entries = data["users"]
    rows = [
        {
            "id": user["user_id"],
            "account_id": account.id,
            **{name: user.get(name) for name in USER_FIELDS if name != "account_id"},
        }
        for user in entries
    ]
    # the users not deleted before their creation reached us
    users = batches.save_users(uow.session, rows, uow.now())
    services = repo.catalog_services(uow.session, account.id)
    automatic = [s for s in services if s.auto_subscribe and may_be_automatic(s.code)]
    admin_code = admin_service_code(account.id)
    admin = next((s for s in services if s.code == admin_code), None)
    held = batches.held_by_users(uow.session, users)
    wanted: list[tuple[str, str]] = []
    administrators: list[User] = []
    for entry in entries:
        user = users.get(entry["user_id"])
        if user is None:
            continue
        admin_id = admin.id if admin is not None and entry.get("grant_administration") else None
        for service in automatic:
            if (user.id, service.id) in held or service.id == admin_id:
                continue  # held: a redelivered batch, or granted meanwhile
            if user.password_level < service.min_password_level:
                continue  # as welcome_user: a service above the user's level is not granted
            wanted.append((user.id, service.id))
        if admin_id is not None and (user.id, admin_id) not in held:
            administrators.append(user)
    by_id = {service.id: service for service in automatic}
    granted = [
        Granted(subscription_id, user_id, by_id[service_id])
        for subscription_id, user_id, service_id in batches.insert_grants(
            uow.session, account.id, wanted, uow.now()
        )
    ]
    announcer = Announcer(uow).know_users(users.values()).know(accounts=[account.id])
    announcer.accepted_grants(account.id, granted, cause="auto_subscribe")
    if admin is not None:
        for user in administrators:
            _grant_at_creation(uow, user, [(admin, "administration_grant", "operator")])


def forget_user(uow: SubscriptionsUnitOfWork, event: Envelope) -> None:
    """identity.user.deleted: the user's requests and subscriptions end (cancelled).

    Identity already refused to delete the last administrator, so there is no check here.
    """
    user_id = event.data["user_id"]
    current = subs.of_user(uow.session, user_id, statuses=subs.CURRENT, lock=True)
    end_current(
        uow,
        Announcer(uow),
        current,
        cause="user_deleted",
        ended_by=event.data.get("deleted_by"),
        reason=lambda service: "The user was deleted.",
    )
    repo.mark_user_deleted(uow.session, user_id, uow.now())

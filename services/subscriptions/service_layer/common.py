"""Steps several handlers share: finding what a request names, ending subscriptions in bulk."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from bus.i18n import _l
from services.subscriptions.adapters import repository as repo
from services.subscriptions.adapters import subscription_repository as subs
from services.subscriptions.domain.records import (
    Account,
    CatalogService,
    StoredSubscription,
    User,
)

from .errors import NotFound
from .events import Announcer
from .unit_of_work import SubscriptionsUnitOfWork

log = logging.getLogger(__name__)


def find_account(session: Session, account_id: str) -> Account:
    account = repo.get_account(session, account_id)
    if account is None:
        raise NotFound(
            _l("This account is unknown to the subscriptions service.", code="account.not_found")
        )
    return account


def find_user(session: Session, user_id: str, account_id: str | None = None) -> User:
    """The user (not deleted), who must belong to `account_id` when it is given."""
    user = repo.get_user(session, user_id)
    if user is None or (account_id is not None and user.account_id != account_id):
        raise NotFound(_l("This user is unknown in this account.", code="user.not_found"))
    return user


def find_subscription(
    session: Session,
    subscription_id: str,
    *,
    account_id: str,
    user_id: str | None = None,
    lock: bool = False,
) -> StoredSubscription:
    """The subscription, which must belong to the account (and the user when given)."""
    subscription = subs.get(session, subscription_id, lock=lock)
    if (
        subscription is None
        or subscription.account_id != account_id
        or (user_id is not None and subscription.user_id != user_id)
    ):
        raise NotFound(
            _l("This subscription is unknown in this account.", code="subscription.not_found")
        )
    return subscription


def find_services(
    session: Session, account_id: str, service_ids: list[str]
) -> list[CatalogService]:
    """The account's catalog services with these ids, in the order asked; 404 naming the others."""
    found = {s.id: s for s in repo.catalog_services(session, account_id, ids=service_ids)}
    missing = [service_id for service_id in service_ids if service_id not in found]
    if missing:
        raise NotFound(
            _l(
                "Not in this account's catalog: {ids}. Choose services from the account's catalog.",
                code="service.not_in_catalog",
                ids=", ".join(missing),
            )
        )
    return [found[service_id] for service_id in dict.fromkeys(service_ids)]


def end_current(
    uow: SubscriptionsUnitOfWork,
    announcer: Announcer,
    current: list[StoredSubscription],
    *,
    cause: str,
    ended_by: str | None,
    reason: Callable[[CatalogService], str] | None = None,
) -> list[str]:
    """End these pending or accepted subscriptions (cancelled) and announce each; event ids.

    Used when a user is deleted or a service leaves a catalog: no person decided, so no
    last-administrator check (identity refuses to delete the last administrator, and the
    administration service never leaves its account's catalog).
    """
    services = repo.services_by_id(uow.session, {s.service_id for s in current})
    announcer.know(
        users={s.user_id or "" for s in current}, accounts={s.account_id for s in current}
    )
    now = uow.now()
    event_ids = []
    for subscription in current:
        service = services.get(subscription.service_id)
        if service is None:  # no longer a shipped service: nothing to tell anyone about
            continue
        previous = subscription.status
        subscription.end(now=now, ended_by=ended_by, reason=reason(service) if reason else None)
        if not subs.save(uow.session, subscription, previous):
            log.info("subscription %s changed meanwhile; not ended twice", subscription.id)
            continue
        event_ids.append(announcer.subscription(subscription, service, cause=cause).id)
    return event_ids

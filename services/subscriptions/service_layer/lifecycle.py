"""A subscription's life through the API: request, accept, refuse, grant, cancel, remove."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.exc import IntegrityError

from bus.i18n import _l
from services.subscriptions.adapters import repository as repo
from services.subscriptions.adapters import subscription_repository as subs
from services.subscriptions.domain import model
from services.subscriptions.domain.administrators import ensure_not_last_admin
from services.subscriptions.domain.errors import AlreadySubscribed, InvalidTransition
from services.subscriptions.domain.records import (
    Account,
    CatalogService,
    StoredSubscription,
    User,
)

from .common import find_account, find_services, find_subscription, find_user
from .errors import NotFound
from .events import Announcer
from .unit_of_work import SubscriptionsUnitOfWork
from .views import SubscriptionView, Written, stored, view


def _service_now(uow: SubscriptionsUnitOfWork, subscription: StoredSubscription) -> CatalogService:
    """The subscription's service with today's subscriber count (removed ones included)."""
    service = repo.catalog_service(
        uow.session, subscription.account_id, subscription.service_id, today=uow.today()
    )
    return (
        service
        or repo.services_by_id(uow.session, [subscription.service_id])[subscription.service_id]
    )


def _insert(uow: SubscriptionsUnitOfWork, record: StoredSubscription, title: str) -> None:
    try:
        with uow.session.begin_nested():
            subs.insert(uow.session, record)
    except IntegrityError:  # a concurrent request for the same service won the race
        raise AlreadySubscribed(
            _l("“{title}” is already held or requested.", title=title)
        ) from None


def request_subscription(
    uow: SubscriptionsUnitOfWork, user_id: str, service_id: str
) -> SubscriptionView:
    """The user asks: accepted at once, or pending when the service is subject to validation."""
    with uow:
        user = find_user(uow.session, user_id)
        service = repo.catalog_service(uow.session, user.account_id, service_id)
        if service is None:
            raise NotFound(
                _l(
                    "This service is not in your account's catalog.",
                    code="service.not_in_catalog",
                )
            )
        current = subs.of_user(uow.session, user.id, statuses=subs.CURRENT)
        model.ensure_not_held(
            [s for s in current if s.service_id == service.id], service.code, service.title
        )
        subscription = model.request(
            service,
            user.password_level,
            uow.now(),
            user_id=user.id,
            subscription_id=str(uuid.uuid4()),
        )
        record = stored(
            subscription, account_id=user.account_id, service_id=service.id, granted_directly=False
        )
        _insert(uow, record, service.title)
        event = Announcer(uow).subscription(record, service, cause="request")
        answer = view(record, _service_now(uow, record), uow.today(), event_id=event.id)
        uow.commit()
    return answer


def accept_request(
    uow: SubscriptionsUnitOfWork,
    account_id: str,
    subscription_id: str,
    expires_on: date | None,
    actor: str | None,
) -> SubscriptionView:
    """An administrator accepts a pending request, optionally until `expires_on`."""
    with uow:
        subscription = find_subscription(
            uow.session, subscription_id, account_id=account_id, lock=True
        )
        user = find_user(uow.session, subscription.user_id or "")
        service = _service_now(uow, subscription)
        subscription.accept(expires_on, uow.today(), now=uow.now(), decided_by=actor)
        model.ensure_level(service, user.password_level)
        answer = _saved(uow, subscription, model.PENDING, cause="decision")
        uow.commit()
    return answer


def refuse_request(
    uow: SubscriptionsUnitOfWork,
    account_id: str,
    subscription_id: str,
    reason: str | None,
    actor: str | None,
) -> SubscriptionView:
    """An administrator refuses a pending request, with an optional reason for the requester.

    Only a pending request can be refused, and its requester does not administer the account
    yet, so refusing never takes the last administrator away; an accepted one is 409.
    """
    with uow:
        subscription = find_subscription(
            uow.session, subscription_id, account_id=account_id, lock=True
        )
        subscription.refuse(now=uow.now(), decided_by=actor, reason=reason)
        answer = _saved(uow, subscription, model.PENDING, cause="decision")
        uow.commit()
    return answer


def _saved(
    uow: SubscriptionsUnitOfWork, subscription: StoredSubscription, previous: str, *, cause: str
) -> SubscriptionView:
    if not subs.save(uow.session, subscription, previous):
        raise InvalidTransition(
            _l("This subscription changed meanwhile; reload it and try again."),
            status=previous,
            action=cause,
        )
    service = _service_now(uow, subscription)
    event = Announcer(uow).subscription(subscription, service, cause=cause)
    return view(subscription, service, uow.today(), event_id=event.id)


def grant_subscriptions(
    uow: SubscriptionsUnitOfWork,
    account_id: str,
    user_id: str,
    service_ids: list[str],
    expires_on: date | None,
    actor: str | None,
) -> Written:
    """An administrator gives services (no validation; the level rule applies). All or nothing.

    A service the user already asked for is accepted (the request is decided); one the user
    already holds is 409.
    """
    with uow:
        user = find_user(uow.session, user_id, account_id)
        services = find_services(uow.session, account_id, service_ids)
        today, now = uow.today(), uow.now()
        model.ensure_expiry(expires_on, today)
        current = {
            s.service_id: s
            for s in subs.of_user(uow.session, user.id, statuses=subs.CURRENT, lock=True)
        }
        announcer = Announcer(uow)
        answers = []
        for service in services:
            model.ensure_level(service, user.password_level)
            existing = current.get(service.id)
            if existing is not None and existing.status == model.ACCEPTED:
                raise AlreadySubscribed(
                    _l("{name} already holds “{title}”.", name=user.full_name, title=service.title)
                )
            if existing is not None:
                existing.accept(expires_on, today, now=now, decided_by=actor)
                record, cause = existing, "decision"
                if not subs.save(uow.session, record, model.PENDING):
                    raise AlreadySubscribed(
                        _l("The request for “{title}” changed meanwhile.", title=service.title)
                    )
            else:
                subscription = model.grant(
                    service,
                    user.password_level,
                    now,
                    user_id=user.id,
                    granted_by=actor,
                    expires_on=expires_on,
                    today=today,
                    subscription_id=str(uuid.uuid4()),
                )
                record = stored(
                    subscription,
                    account_id=account_id,
                    service_id=service.id,
                    granted_directly=True,
                )
                _insert(uow, record, service.title)
                cause = "grant"
            answers.append((record, announcer.subscription(record, service, cause=cause).id))
        counted = {
            s.id: s
            for s in repo.catalog_services(
                uow.session, account_id, today=today, ids=[s.id for s in services]
            )
        }
        items = [
            view(record, counted[record.service_id], today, event_id=event_id)
            for record, event_id in answers
        ]
        uow.commit()
    return Written(items, [event_id for _, event_id in answers])


def cancel_subscription(
    uow: SubscriptionsUnitOfWork, user_id: str, subscription_id: str
) -> SubscriptionView:
    """The user removes one of their own subscriptions."""
    with uow:
        user = find_user(uow.session, user_id)
        answer = _remove(uow, user, subscription_id, actor=user.id)
        uow.commit()
    return answer


def remove_subscription(
    uow: SubscriptionsUnitOfWork,
    account_id: str,
    user_id: str,
    subscription_id: str,
    actor: str | None,
) -> SubscriptionView:
    """An administrator removes a user's subscription."""
    with uow:
        user = find_user(uow.session, user_id, account_id)
        answer = _remove(uow, user, subscription_id, actor=actor)
        uow.commit()
    return answer


def _remove(
    uow: SubscriptionsUnitOfWork, user: User, subscription_id: str, *, actor: str | None
) -> SubscriptionView:
    subscription = find_subscription(
        uow.session, subscription_id, account_id=user.account_id, user_id=user.id
    )
    service = _service_now(uow, subscription)
    if service.is_administration:
        # Lock the account, then re-read: two administrators removing each other at once
        # must not both see "another administrator remains".
        account: Account = find_account(uow.session, user.account_id)
        repo.lock_account(uow.session, account.id)
        subscription = find_subscription(
            uow.session, subscription_id, account_id=account.id, user_id=user.id, lock=True
        )
        if subscription.status == model.ACCEPTED:
            holders = subs.admin_holders(uow.session, [account.id])[account.id]
            ensure_not_last_admin(holders, user.id, "cancel", account=account)
    else:
        subscription = find_subscription(
            uow.session, subscription_id, account_id=user.account_id, user_id=user.id, lock=True
        )
    previous = subscription.status
    subscription.cancel(now=uow.now(), cancelled_by=actor)
    return _saved(uow, subscription, previous, cause="removal")

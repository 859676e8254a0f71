"""Reads: a user's services, catalog and dashboard; an account's services, subscribers, requests.

Each answer costs a fixed number of queries (catalog, subscriptions, one GROUP BY for the
subscriber counts), whatever the number of items; the dashboard reads only the user's own
subscriptions and lets the database count the account's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.subscriptions.adapters import repository as repo
from services.subscriptions.adapters import subscription_repository as subs
from services.subscriptions.domain import catalog as rules
from services.subscriptions.domain.model import ACCEPTED, CANCELLED, PENDING, REFUSED
from services.subscriptions.domain.records import CatalogService, User

from .common import find_account, find_services, find_user
from .unit_of_work import SubscriptionsUnitOfWork
from .views import view


@dataclass(frozen=True)
class Filters:
    """List filters and page of a request (validated by the entry point)."""

    family: str | None = None
    status: str | None = None
    title: str | None = None
    q: str | None = None
    name: str | None = None
    page: int = 1
    per_page: int = rules.DEFAULT_PER_PAGE


def _subscriptions_page(
    uow: SubscriptionsUnitOfWork, user: User, filters: Filters
) -> dict[str, Any]:
    today = uow.today()
    services = {
        s.id: s
        for s in repo.catalog_services(
            uow.session, user.account_id, today=today, include_removed=True
        )
    }
    mine = [s for s in subs.of_user(uow.session, user.id) if s.service_id in services]
    if not filters.status:  # removed ones left the user's list (the manual's cross)
        mine = [s for s in mine if s.status != CANCELLED]
    by_code = {s.code: s for s in services.values()}
    kept = rules.filter_subscriptions(
        mine,
        by_code,
        family=filters.family,
        status=filters.status,
        title=filters.title,
        q=filters.q,
    )
    order = {service_id: index for index, service_id in enumerate(services)}
    kept.sort(key=lambda s: (order[s.service_id], -s.requested_at.timestamp()))
    page = rules.paginate(kept, filters.page, filters.per_page)
    page["items"] = [view(s, services[s.service_id], today) for s in page["items"]]
    return page


def user_subscriptions(
    uow: SubscriptionsUnitOfWork, user_id: str, filters: Filters
) -> dict[str, Any]:
    """ "My services": the user's subscriptions (removed ones only when asked by status)."""
    with uow:
        return _subscriptions_page(uow, find_user(uow.session, user_id), filters)


def account_user_subscriptions(
    uow: SubscriptionsUnitOfWork, account_id: str, user_id: str, filters: Filters
) -> dict[str, Any]:
    """A user's subscriptions as an administrator of the account sees them."""
    with uow:
        return _subscriptions_page(uow, find_user(uow.session, user_id, account_id), filters)


def user_catalog(uow: SubscriptionsUnitOfWork, user_id: str, filters: Filters) -> dict[str, Any]:
    """The services of the user's account that the user neither holds nor asked for."""
    with uow:
        user = find_user(uow.session, user_id)
        services = repo.catalog_services(uow.session, user.account_id, today=uow.today())
        current = subs.of_user(uow.session, user.id, statuses=subs.CURRENT)
        offered = rules.not_subscribed(services, current, user.id)
        kept = rules.filter_services(
            offered, family=filters.family, title=filters.title, q=filters.q
        )
        return rules.paginate(kept, filters.page, filters.per_page)


def user_dashboard(
    uow: SubscriptionsUnitOfWork, user_id: str, since: datetime | None
) -> dict[str, Any]:
    """The profile page's "My services" and "Services catalog" panels.

    The user's own subscriptions are read; the account's are only counted by the database.
    """
    with uow:
        user = find_user(uow.session, user_id)
        today = uow.today()
        services, activity = repo.catalog_activity(uow.session, user.account_id, today)
        by_id = {s.id: s for s in services}
        mine = [
            s
            for s in subs.of_user(uow.session, user.id, statuses=(ACCEPTED, PENDING, REFUSED))
            if s.service_id in by_id
        ]
        summary = rules.user_summary(mine, user.id)
        counts = repo.subscriber_counts(
            uow.session, user.account_id, today, ids={s.service_id for s in summary["last"]}
        )
        summary["last"] = [
            view(s, by_id[s.service_id].counted(counts.get(s.service_id, 0)), today)
            for s in summary["last"]
        ]
        offered = [s for s in services if s.in_catalog]
        in_account = [s for s in mine if s.account_id == user.account_id]
        return {
            "my_services": summary,
            "catalog": rules.catalog_summary(offered, activity, in_account, user.id, since),
        }


def account_services(
    uow: SubscriptionsUnitOfWork, account_id: str, filters: Filters
) -> dict[str, Any]:
    """The account's whole catalog with its settings and subscriber counts."""
    with uow:
        find_account(uow.session, account_id)
        services = repo.catalog_services(uow.session, account_id, today=uow.today())
        kept = rules.filter_services(
            services, family=filters.family, title=filters.title, q=filters.q
        )
        return rules.paginate(kept, filters.page, filters.per_page)


def service_subscribers(
    uow: SubscriptionsUnitOfWork, account_id: str, service_id: str, filters: Filters
) -> dict[str, Any]:
    """Who holds the service (accepted; or the status asked for), by name, one page."""
    rules.paginate([], filters.page, filters.per_page)  # checks the page arguments
    with uow:
        today = uow.today()
        service: CatalogService = find_services(uow.session, account_id, [service_id])[0]
        statuses = (filters.status,) if filters.status else (ACCEPTED,)
        rows, total = subs.subscribers_page(
            uow.session, service.id, statuses, filters.page, filters.per_page
        )
        counted = repo.catalog_service(uow.session, account_id, service.id, today=today) or service
        return {
            "items": [view(s, counted, today, user=user) for s, user in rows],
            "page": filters.page,
            "per_page": filters.per_page,
            "total": total,
        }


def subscription_requests(
    uow: SubscriptionsUnitOfWork, account_id: str, filters: Filters
) -> dict[str, Any]:
    """The account's requests waiting for validation, oldest first; `name` searches requesters."""
    with uow:
        find_account(uow.session, account_id)
        today = uow.today()
        services = {
            s.id: s
            for s in repo.catalog_services(
                uow.session, account_id, today=today, include_removed=True
            )
        }
        waiting = [
            view(s, services[s.service_id], today, user=user)
            for s, user in subs.pending_with_users(uow.session, account_id)
            if s.service_id in services
            and rules.matches(filters.name, user.last_name, user.first_name, user.email)
        ]
        return rules.paginate(waiting, filters.page, filters.per_page)

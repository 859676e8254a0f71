"""Catalog and "my services" arithmetic: dashboard counters, list filters and pagination."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from bus.contracts.vocabulary import FAMILIES, SUBSCRIPTION_STATUSES
from bus.i18n import _l

from .errors import InvalidFilter, InvalidPagination
from .model import ACCEPTED, PENDING, REFUSED, Subscription

DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 200
LAST_COUNT = 3

T = TypeVar("T")


class ListedService(Protocol):
    """What listing and searching need from a service (a definition or account settings)."""

    @property
    def code(self) -> str: ...

    @property
    def family(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def description(self) -> str: ...


class DatedService(ListedService, Protocol):
    """A service of an account's catalog, with when it was added to that catalog."""

    @property
    def added_at(self) -> datetime | None: ...


S = TypeVar("S", bound=ListedService)
D = TypeVar("D", bound=DatedService)
Sub = TypeVar("Sub", bound=Subscription)


# -- searching ---------------------------------------------------------------------------------


def normalize(text: str | None) -> str:
    """Text folded for searching: no accents, no case (`Équipe` and `equipe` are equal)."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())


def matches(q: str | None, *fields: str | None) -> bool:
    """Every word of `q` appears in one of the fields (case- and accent-insensitive)."""
    words = normalize(q).split()
    haystack = " \n".join(normalize(field) for field in fields)
    return all(word in haystack for word in words)


def _check_family(family: str | None) -> None:
    if family and family not in FAMILIES:
        raise InvalidFilter(
            _l(
                "Unknown family “{family}”; choose one of: {choices}.",
                family=family,
                choices=", ".join(FAMILIES),
            )
        )


def _check_status(status: str | None) -> None:
    if status and status not in SUBSCRIPTION_STATUSES:
        raise InvalidFilter(
            _l(
                "Unknown status “{status}”; choose one of: {choices}.",
                status=status,
                choices=", ".join(SUBSCRIPTION_STATUSES),
            )
        )


def sort_services(services: Iterable[S]) -> list[S]:
    """Services in the catalog's order: by family (the vocabulary's order), then by title."""

    def key(service: S) -> tuple[int, str]:
        family = FAMILIES.index(service.family) if service.family in FAMILIES else len(FAMILIES)
        return family, normalize(service.title)

    return sorted(services, key=key)


def filter_services(
    services: Iterable[S],
    *,
    family: str | None = None,
    title: str | None = None,
    q: str | None = None,
) -> list[S]:
    """The services of a family, whose title contains `title`, and matching keywords `q`.

    `q` searches title and description; empty filters let everything through. The order of
    `services` is kept.
    """
    _check_family(family)
    return [
        service
        for service in services
        if (not family or service.family == family)
        and matches(title, service.title)
        and matches(q, service.title, service.description)
    ]


def filter_subscriptions(
    subscriptions: Iterable[Sub],
    services: Mapping[str, ListedService],
    *,
    family: str | None = None,
    status: str | None = None,
    title: str | None = None,
    q: str | None = None,
) -> list[Sub]:
    """ "My services" filtered by the service's family, the status, title and keywords.

    `services` maps a service code to its service; a subscription whose service is unknown
    is kept only when no family, title or keyword filter is set.
    """
    _check_family(family)
    _check_status(status)
    kept = []
    for subscription in subscriptions:
        if status and subscription.status != status:
            continue
        service = services.get(subscription.service_code)
        if service is None:
            if family or normalize(title) or normalize(q):
                continue
        elif (
            (family and service.family != family)
            or not matches(title, service.title)
            or not matches(q, service.title, service.description)
        ):
            continue
        kept.append(subscription)
    return kept


# -- a user's services -------------------------------------------------------------------------


def _last_moved(subscription: Subscription) -> tuple[datetime, str]:
    """When the subscription last moved; its id breaks ties (subscriptions decided at one instant,
    as a catalog's automatic ones are), so that the order never depends on the database's."""
    return subscription.decided_at or subscription.requested_at, subscription.id or ""


def user_summary(
    subscriptions: Iterable[Subscription], user_id: str | None = None, *, last: int = LAST_COUNT
) -> dict[str, Any]:
    """The "My services" panel: counts by decision and the user's last subscriptions.

    `{"accepted", "pending", "refused", "last": [...]}`; `last` lists the most recently
    requested or decided of them (removed and expired ones are no longer the user's services).
    When `user_id` is given, other users' subscriptions are ignored.
    """
    mine = [s for s in subscriptions if user_id is None or s.user_id == user_id]
    shown = [s for s in mine if s.status in (ACCEPTED, PENDING, REFUSED)]
    return {
        "accepted": sum(s.status == ACCEPTED for s in mine),
        "pending": sum(s.status == PENDING for s in mine),
        "refused": sum(s.status == REFUSED for s in mine),
        "last": sorted(shown, key=_last_moved, reverse=True)[:last],
    }


# -- an account's catalog ----------------------------------------------------------------------


def held_codes(subscriptions: Iterable[Subscription], user_id: str) -> set[str]:
    """Codes of the services the user holds or waits for (pending or accepted)."""
    return {s.service_code for s in subscriptions if s.user_id == user_id and s.is_current}


def not_subscribed(
    services: Iterable[S], subscriptions: Iterable[Subscription], user_id: str
) -> list[S]:
    """The catalog a user sees: the account's services the user neither holds nor asked for."""
    held = held_codes(subscriptions, user_id)
    return [service for service in services if service.code not in held]


def new_since(services: Iterable[D], since: datetime | None) -> list[D]:
    """Services added to the catalog after `since`, newest first.

    `since` is usually the user's previous sign-in; None (no previous sign-in) makes every
    service new. A service with no known `added_at` is never new.
    """
    fresh = [
        service
        for service in services
        if service.added_at is not None and (since is None or service.added_at > since)
    ]
    return sorted(fresh, key=lambda service: service.added_at or datetime.min, reverse=True)


@dataclass(frozen=True, slots=True)
class ServiceActivity:
    """What the account's subscriptions to one service amount to: the database counts them.

    `held`: someone in the account holds it today (an accepted subscription not past its expiry
    date, as `Subscription.is_active` says); `pending`: the account's requests waiting for an
    administrator.
    """

    held: bool = False
    pending: int = 0


NO_ACTIVITY = ServiceActivity()


def without_subscriber(services: Iterable[S], activity: Mapping[str, ServiceActivity]) -> list[S]:
    """Services nobody in the account holds today; `activity` maps a service code to its own."""
    return [service for service in services if not activity.get(service.code, NO_ACTIVITY).held]


def pending_validation(services: Iterable[S], activity: Mapping[str, ServiceActivity]) -> int:
    """How many of the account's requests for these services wait for an administrator."""
    return sum(activity.get(service.code, NO_ACTIVITY).pending for service in services)


def catalog_summary(
    services: Sequence[D],
    activity: Mapping[str, ServiceActivity],
    subscriptions: Iterable[Subscription],
    user_id: str,
    since: datetime | None,
) -> dict[str, int]:
    """The "Services catalog" panel for a user, from the account's services and their activity.

    `{"not_subscribed", "new_since_last_sign_in", "without_subscriber", "pending_validation"}`;
    `activity` maps a service code to the account's activity on it, `subscriptions` are the
    user's own in the account, `since` the user's previous sign-in.
    """
    return {
        "not_subscribed": len(not_subscribed(services, subscriptions, user_id)),
        "new_since_last_sign_in": len(new_since(services, since)),
        "without_subscriber": len(without_subscriber(services, activity)),
        "pending_validation": pending_validation(services, activity),
    }


# -- pages -------------------------------------------------------------------------------------


def paginate(items: Sequence[T], page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> dict[str, Any]:
    """One page of a list: `{"items", "page", "per_page", "total"}` (a page past the end is empty).

    Raises InvalidPagination when `page` < 1 or `per_page` is outside 1..200.
    """
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidPagination(
            _l("The page must be a whole number from 1; got {page}.", page=repr(page))
        )
    if (
        isinstance(per_page, bool)
        or not isinstance(per_page, int)
        or not (1 <= per_page <= MAX_PER_PAGE)
    ):
        raise InvalidPagination(
            _l(
                "per_page must be a whole number from 1 to {most}; got {given}.",
                most=MAX_PER_PAGE,
                given=repr(per_page),
            )
        )
    start = (page - 1) * per_page
    return {
        "items": list(items[start : start + per_page]),
        "page": page,
        "per_page": per_page,
        "total": len(items),
    }

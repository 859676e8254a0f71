"""What handlers answer: subscriptions with their service, and pages of them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from services.subscriptions.domain.model import Subscription
from services.subscriptions.domain.records import CatalogService, StoredSubscription, User


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as answered: its service (with subscriber count) and whether it applies."""

    subscription: StoredSubscription
    service: CatalogService
    effective: bool
    event_id: str | None = None
    user: User | None = None


@dataclass(frozen=True)
class Written:
    """The answer of a write: what it produced and the ids of the events it wrote."""

    items: list[Any]
    event_ids: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def event_id(self) -> str | None:
        return self.event_ids[0] if self.event_ids else None


def view(
    subscription: StoredSubscription,
    service: CatalogService,
    today: date,
    *,
    event_id: str | None = None,
    user: User | None = None,
) -> SubscriptionView:
    return SubscriptionView(subscription, service, subscription.is_effective(today), event_id, user)


def stored(
    subscription: Subscription, *, account_id: str, service_id: str, granted_directly: bool
) -> StoredSubscription:
    """A domain subscription with where it lives, ready to be inserted."""
    values = {f.name: getattr(subscription, f.name) for f in fields(Subscription)}
    return StoredSubscription(
        **values, account_id=account_id, service_id=service_id, granted_directly=granted_directly
    )

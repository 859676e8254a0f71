"""Factory fixtures for the subscriptions domain's unit tests: services, subscriptions, clock."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest

from services.subscriptions.domain.model import ServiceSettings, Subscription

_ids = itertools.count(1)

NOW = datetime(2027, 1, 3, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


@pytest.fixture
def now() -> datetime:
    """A fixed instant: tests move time by arithmetic, never by sleeping."""
    return NOW


@pytest.fixture
def today() -> date:
    """The date of `now`."""
    return TODAY


@pytest.fixture
def make_settings():
    """Build a ServiceSettings with unique code; keyword arguments override the defaults."""

    def make(**overrides) -> ServiceSettings:
        number = next(_ids)
        fields = {
            "code": f"svc_{number}",
            "title": f"Service {number}",
            "family": "support",
            "min_password_level": 1,
            "requires_validation": False,
            "auto_subscribe": False,
        }
        fields.update(overrides)
        return ServiceSettings(**fields)

    return make


@pytest.fixture
def make_subscription():
    """Build a Subscription in any status with a unique id; keyword arguments override."""

    def make(status: str = "accepted", **overrides) -> Subscription:
        number = next(_ids)
        fields = {
            "id": f"sub_{number}",
            "user_id": f"user_{number}",
            "service_code": f"svc_{number}",
            "requested_at": NOW,
            "status": status,
        }
        if status != "pending":
            fields["decided_at"] = NOW
        fields.update(overrides)
        return Subscription(**fields)

    return make

"""A call that depends on the caller's own write, met by a part that still lacks it: 503, not 404.

Found by the chaos test: while RabbitMQ restarted, an administrator who had just created a user
and granted them a service was told 404 "This user is unknown in this account" — untrue, and
nothing said to try again. The gateway waits (PORTICO_OWN_EVENTS_WAIT_SECONDS) for the part to
apply the caller's own events; when the wait is over and the part answers "not found", the
gateway now answers 503 with Retry-After, and the same call succeeds once the part caught up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.real_portal import Portal, start_portal
from tests.service.gateway.test_read_your_writes import new_user, parent_id, service_ids
from tests.waiting_kit import eventually


@pytest.fixture
def portal(tmp_path, prefix) -> Iterator[Portal]:
    started = start_portal(tmp_path, prefix, env={"PORTICO_OWN_EVENTS_WAIT_SECONDS": "0.3"})
    yield started
    started.stop()


@pytest.fixture
def stopped_consumer(portal) -> Iterator[threading.Event]:
    """Subscriptions' bus consumer handles nothing until the event is set (its broker is away)."""
    released = threading.Event()
    processor = portal.embedded.parts["subscriptions"].worker.processor
    process_batch = processor.process_batch

    def held(items: list[Any]) -> Any:
        released.wait()
        return process_batch(items)

    processor.process_batch = held
    yield released
    released.set()


def test_granting_a_user_the_subscriptions_part_has_not_heard_of_yet_is_a_503(
    portal, stopped_consumer
):
    admin = portal.admin()
    account = parent_id(portal, admin)
    invoices = service_ids(portal, account, admin)["invoice_viewing"]
    user = new_user(portal, account, admin)

    def grant() -> Any:
        return portal.client.post(
            f"/api/v1/accounts/{account}/users/{user['id']}/subscriptions",
            json={"service_ids": [invoices]},
            headers=admin,
        )

    refused = grant()
    assert refused.status_code == 503, refused.get_json()
    assert refused.mimetype == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert "previous change" in refused.get_json()["detail"]

    stopped_consumer.set()  # the part catches up: the same call now succeeds
    granted = eventually(
        lambda: (answer := grant()).status_code == 201 and answer, what="the grant, later"
    )
    assert [item["service"]["id"] for item in granted.get_json()["items"]] == [invoices]

"""Read-your-writes across services, in the embedded mode (every part in-process, memory bus, demo).

A call that depends on the caller's previous write succeeds at once, without the client retrying,
even while the part that must hear of that write has not yet. Each test holds back that part's bus
consumer: what it is sent waits, unapplied, until the gateway asks the part whether it applied the
caller's event (`GET /internal/processed/{id}`), so a gateway that forwards without waiting meets
a part that never heard of the write (a 404 or a wrong refusal), whatever the machine's speed.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bus.config import Settings
from bus.http_client import ServiceClient
from gateway.bootstrap import build
from gateway.service_layer.read_your_writes import KEEP, await_events, remember_events
from portico import demo
from tests.security.real_portal import Portal, start_portal
from tests.waiting_kit import eventually

PROCESSED = "/internal/processed/"


@pytest.fixture
def portal(tmp_path, prefix) -> Iterator[Portal]:
    started = start_portal(tmp_path, prefix)
    yield started
    started.stop()


class Held:
    """A part's bus consumer, held back until the gateway asks that part about an event."""

    def __init__(self, portal: Portal, name: str) -> None:
        self.released = threading.Event()
        self.asked: list[str] = []
        embedded = portal.embedded
        processor = embedded.parts[name].worker.processor
        process_batch = processor.process_batch

        def held(items: list[Any]) -> Any:
            self.released.wait()
            return process_batch(items)

        processor.process_batch = held
        if name == "gateway":  # nobody asks the gateway: held until the test ends
            return
        app = embedded.apps[name]

        def watched(environ: dict[str, Any], start_response: Any) -> Any:
            if environ.get("PATH_INFO", "").startswith(PROCESSED):
                self.asked.append(environ["PATH_INFO"].removeprefix(PROCESSED))
                self.released.set()
            return app(environ, start_response)

        embedded.apps[name] = watched


@pytest.fixture
def hold(portal) -> Iterator[Any]:
    holds: list[Held] = []

    def holding(name: str) -> Held:
        holds.append(Held(portal, name))
        return holds[-1]

    yield holding
    for held in holds:
        held.released.set()


def parent_id(portal: Portal, admin: dict[str, str]) -> str:
    return portal.accounts(admin)[demo.PARENT["number"]]


def service_ids(portal: Portal, account_id: str, admin: dict[str, str]) -> dict[str, str]:
    items = portal.client.get(
        f"/api/v1/accounts/{account_id}/services?per_page=200", headers=admin
    ).get_json()
    return {item["code"]: item["id"] for item in items["items"]}


def new_user(
    portal: Portal, account_id: str, admin: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {
        "email": f"new-{uuid.uuid4().hex[:10]}@retail-it.example",
        "title": "M",
        "last_name": "Martin",
        "first_name": "Paul",
        "language": "en-GB",
        "password_level": 1,
        **fields,
    }
    created = portal.client.post(f"/api/v1/accounts/{account_id}/users", json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def test_a_user_just_created_is_granted_a_service_at_once(portal, hold):
    admin = portal.admin()
    account = parent_id(portal, admin)
    invoices = service_ids(portal, account, admin)["invoice_viewing"]
    held = hold("subscriptions")
    user = new_user(portal, account, admin)
    assert user["propagation"]["status"] == "pending"

    granted = portal.client.post(
        f"/api/v1/accounts/{account}/users/{user['id']}/subscriptions",
        json={"service_ids": [invoices]},
        headers=admin,
    )

    assert granted.status_code == 201, granted.get_json()
    assert [item["service"]["code"] for item in granted.get_json()["items"]] == ["invoice_viewing"]
    assert set(held.asked) == {user["propagation"]["event_id"]}  # the gateway waited for that event


def test_a_user_just_created_has_their_subscriptions_listed_at_once_with_the_automatic_ones(
    portal, hold
):
    admin = portal.admin()
    account = parent_id(portal, admin)
    faq = service_ids(portal, account, admin)["notify_faq"]
    flagged = portal.client.patch(
        f"/api/v1/accounts/{account}/services",
        json={"service_ids": [faq], "auto_subscribe": True},
        headers=admin,
    )
    assert flagged.status_code == 200, flagged.get_json()
    hold("subscriptions")
    user = new_user(portal, account, admin)

    listed = portal.client.get(
        f"/api/v1/accounts/{account}/users/{user['id']}/subscriptions", headers=admin
    )

    assert listed.status_code == 200, listed.get_json()
    assert ("notify_faq", "accepted") in [
        (item["service"]["code"], item["status"]) for item in listed.get_json()["items"]
    ]


def test_a_user_just_created_gets_the_activation_e_mail_again_at_once(portal, hold):
    admin = portal.admin()
    account = parent_id(portal, admin)
    hold("subscriptions")
    hold("notifications")
    user = new_user(portal, account, admin)

    sent = portal.client.post(
        f"/api/v1/accounts/{account}/activation-emails",
        json={"user_ids": [user["id"]]},
        headers=admin,
    )

    assert sent.status_code == 202, sent.get_json()
    assert (sent.get_json()["sent"], sent.get_json()["skipped"]) == (1, 0)


def test_a_raised_password_level_is_known_to_the_next_grant(portal, hold):
    admin = portal.admin()
    account = parent_id(portal, admin)
    saas = service_ids(portal, account, admin)["saas_administrator"]
    user = new_user(portal, account, admin, password_level=1)
    portal.client.get(f"/api/v1/accounts/{account}/users/{user['id']}/subscriptions", headers=admin)
    hold("subscriptions")
    raised = portal.client.patch(
        f"/api/v1/accounts/{account}/users/{user['id']}", json={"password_level": 2}, headers=admin
    )
    assert raised.status_code == 200, raised.get_json()

    granted = portal.client.post(
        f"/api/v1/accounts/{account}/users/{user['id']}/subscriptions",
        json={"service_ids": [saas]},
        headers=admin,
    )

    assert granted.status_code == 201, granted.get_json()


def test_an_account_just_created_gets_its_catalog_and_administrator_at_once(portal, hold):
    hold("subscriptions")
    number = f"7{uuid.uuid4().int % 10**7:07d}"
    created = portal.client.post(
        "/api/v1/operator/accounts",
        json={"number": number, "name": "Fresh Ltd"},
        headers=portal.operator,
    )
    assert created.status_code == 201, created.get_json()

    catalog = portal.client.put(
        f"/api/v1/operator/accounts/{number}/catalog",
        json={"services": ["invoice_viewing", "notify_faq"]},
        headers=portal.operator,
    )
    administrator = portal.client.post(
        f"/api/v1/operator/accounts/{number}/administrators",
        json={
            "email": f"admin-{number}@fresh.example",
            "title": "MME",
            "last_name": "Roux",
            "first_name": "Anne",
            "language": "en-GB",
        },
        headers=portal.operator,
    )

    assert catalog.status_code == 200, catalog.get_json()
    assert {"invoice_viewing", "notify_faq"} <= {
        item["code"] for item in catalog.get_json()["items"]
    }
    assert administrator.status_code == 201, administrator.get_json()


def test_an_administrator_just_granted_lets_the_former_one_go_at_once(portal, hold):
    """The shop's only administrator is Olivier; its supervisor makes a new user administrator,
    then deletes Olivier: identity must already count the new one (it learns administrators
    from subscriptions' events)."""
    claire = portal.admin()
    shop = portal.accounts(claire)[demo.SHOP["number"]]
    admin_service = service_ids(portal, shop, claire)[f"user_admin:{shop}"]
    successor = new_user(portal, shop, claire, password_level=2)
    olivier = next(
        item
        for item in portal.client.get(
            f"/api/v1/accounts/{shop}/users?per_page=50", headers=claire
        ).get_json()["items"]
        if item["email"] == demo.ADMINS[demo.SHOP["number"]]["email"]
    )
    hold("identity")
    granted = portal.client.post(
        f"/api/v1/accounts/{shop}/users/{successor['id']}/subscriptions",
        json={"service_ids": [admin_service]},
        headers=claire,
    )
    assert granted.status_code == 201, granted.get_json()

    deleted = portal.client.delete(f"/api/v1/accounts/{shop}/users/{olivier['id']}", headers=claire)

    assert deleted.status_code == 204, deleted.get_json()


def test_an_administrator_just_granted_is_on_the_granters_dashboard_at_once(portal, hold):
    claire = portal.admin()
    account = parent_id(portal, claire)
    admin_service = service_ids(portal, account, claire)[f"user_admin:{account}"]
    successor = new_user(portal, account, claire, password_level=2)
    portal.client.get(
        f"/api/v1/accounts/{account}/users/{successor['id']}/subscriptions", headers=claire
    )
    hold("identity")
    granted = portal.client.post(
        f"/api/v1/accounts/{account}/users/{successor['id']}/subscriptions",
        json={"service_ids": [admin_service]},
        headers=claire,
    )
    assert granted.status_code == 201, granted.get_json()

    panels = portal.client.get("/api/v1/me/dashboard", headers=claire).get_json()

    assert successor["email"] in [admin["email"] for admin in panels["administrators"]], panels[
        "administrators"
    ]


def test_an_accepted_request_opens_the_gated_content_at_once(portal, hold):
    """The gateway's own projection: the administrator's acceptance is applied there at once,
    before (here: without) the gateway's consumer hearing the event."""
    claire, sophie = portal.admin(), portal.user()
    account = parent_id(portal, claire)
    assert portal.client.get("/api/v1/invoices", headers=sophie).status_code == 403
    request = next(
        item
        for item in portal.client.get(
            f"/api/v1/accounts/{account}/subscription-requests", headers=claire
        ).get_json()["items"]
        if item["service"]["code"] == "invoice_viewing"
    )
    hold("gateway")

    accepted = portal.client.post(
        f"/api/v1/accounts/{account}/subscription-requests/{request['id']}/accept",
        json={},
        headers=claire,
    )
    assert accepted.status_code == 200, accepted.get_json()

    assert portal.client.get("/api/v1/invoices", headers=sophie).status_code == 200


CONFIRM = re.compile(r"/confirm-email/([A-Za-z0-9_.~-]+)")


def confirmation_token(portal: Portal, address: str) -> str | None:
    client = ServiceClient(
        "notifications",
        app=portal.embedded.apps["notifications"],
        token=portal.embedded.parts["gateway"].settings.service_token,
    )
    for mail in client.get("/internal/mailbox", params={"to": address, "per_page": 20}).get(
        "items", []
    ):
        found = CONFIRM.search(
            " ".join(str(v) for v in client.get(f"/internal/mailbox/{mail['id']}").values())
        )
        if found:
            return found.group(1)
    return None


def test_a_confirmed_e_mail_change_signs_in_with_the_new_address_at_once(portal, hold):
    sophie = portal.user()
    new_address = f"sophie-{uuid.uuid4().hex[:8]}@retail-it.example"
    asked = portal.client.post(
        "/api/v1/me/email-change", json={"new_email": new_address}, headers=sophie
    )
    assert asked.status_code == 202, asked.get_json()
    token = eventually(
        lambda: confirmation_token(portal, new_address), what="the confirmation e-mail"
    )
    for part in ("subscriptions", "notifications", "gateway"):
        hold(part)

    assert portal.client.post(f"/api/v1/email-changes/{token}").status_code == 204

    signed_in = portal.client.post(
        "/api/v1/session", json={"email": new_address, "password": demo.PASSWORD}
    )
    assert signed_in.status_code == 201, signed_in.get_json()


def test_a_user_just_deleted_is_no_longer_among_a_services_subscribers(portal, hold):
    admin = portal.admin()
    account = parent_id(portal, admin)
    invoices = service_ids(portal, account, admin)["invoice_viewing"]
    user = new_user(portal, account, admin)
    granted = portal.client.post(
        f"/api/v1/accounts/{account}/users/{user['id']}/subscriptions",
        json={"service_ids": [invoices]},
        headers=admin,
    )
    assert granted.status_code == 201, granted.get_json()
    hold("subscriptions")

    deleted = portal.client.delete(f"/api/v1/accounts/{account}/users/{user['id']}", headers=admin)
    assert deleted.status_code == 204, deleted.get_json()

    subscribers = portal.client.get(
        f"/api/v1/accounts/{account}/services/{invoices}/subscribers?per_page=200", headers=admin
    )
    assert subscribers.status_code == 200, subscribers.get_json()
    assert user["id"] not in [item["user_id"] for item in subscribers.get_json()["items"]]


class Stopwatch:
    """Monotonic time that only moves when slept through (the wait's clock, injected)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_wait_is_bounded_and_a_lagging_service_delays_one_call_only(tmp_path, prefix):
    part = build(
        Settings(
            part="gateway",
            database_url=f"sqlite:///{tmp_path}/gateway.db",
            broker_url="memory://",
            bus_prefix=prefix,
        )
    )
    part.migrate()
    now = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    remember_events(
        part, "user-1", ["event-1"], "identity.user.created", now, ["identity", "subscriptions"]
    )
    asked: list[str] = []

    def never(event_id: str, event_type: str) -> bool:
        asked.append(f"{event_id} {event_type}")
        return False

    watch = Stopwatch()
    late = await_events(
        part,
        "user-1",
        "subscriptions",
        never,
        2.0,
        now,
        monotonic=watch.monotonic,
        sleep=watch.sleep,
    )
    assert late == ["event-1"]
    assert watch.now == pytest.approx(2.0)  # waited until the bound, not past it
    assert set(asked) == {"event-1 identity.user.created"} and len(asked) > 2

    asked.clear()
    assert (
        await_events(
            part,
            "user-1",
            "subscriptions",
            never,
            2.0,
            now,
            monotonic=watch.monotonic,
            sleep=watch.sleep,
        )
        == []
    )
    assert asked == []  # the next call goes straight through
    assert (
        await_events(part, "user-1", "identity", never, 2.0, now) == []
    )  # the producer waits for nobody
    assert asked == []

    remember_events(part, "user-1", ["event-2"], "identity.user.updated", now, ["subscriptions"])
    assert await_events(part, "user-2", "subscriptions", never, 2.0, now) == []  # another caller
    assert (
        await_events(part, "user-1", "subscriptions", never, 2.0, now + KEEP + KEEP) == []
    )  # too old
    assert asked == []

"""Read-your-writes across services in the distributed mode (every part its own processes,
RabbitMQ, PostgreSQL): a call that depends on the caller's previous write succeeds at once,
many times in a row, without the client retrying.

An administrator creates a user and, in the very next request, grants them a service, lists
their subscriptions, raises their password level and grants a service that needs it; deletes a
user and at once lists a service's subscribers; the operator opens an account and, in the next
request, sets its catalog; several administrators do it at once. None of these ever meets a service
that has not heard of the write (no 404 "unknown", no 403 "level too low").
"""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Cluster, unique_number
from tests.e2e.test_identity_journey import (
    PASSWORD,
    USER,
    Portal,
    administered_account,
    create_active_user,
    unique_email,
)

pytestmark = pytest.mark.e2e

ROUNDS = 20
CALLERS = 4


@pytest.fixture
def portal(cluster: Cluster):
    opened = Portal(cluster)
    yield opened
    opened.close()


def codes_to_ids(portal: Portal, account_id: str, admin: dict[str, str]) -> dict[str, str]:
    answer = portal.http.get(
        f"/api/v1/accounts/{account_id}/services", headers=admin, params={"per_page": 200}
    )
    assert answer.status_code == 200, answer.text
    return {item["code"]: item["id"] for item in answer.json()["items"]}


def said(response: Any) -> str:
    return f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"


def test_a_user_just_created_is_granted_listed_and_raised_at_once_many_times_in_a_row(portal):
    account, admin = administered_account(portal, "Read Your Writes Ltd")
    services = codes_to_ids(portal, account["id"], admin)
    users = f"/api/v1/accounts/{account['id']}/users"
    took = []
    before = wait_figures(portal)
    for _ in range(ROUNDS):
        started = time.monotonic()
        created = portal.http.post(
            users,
            headers=admin,
            json={"email": f"ryw-{uuid.uuid4().hex[:10]}@example.com", **USER, "password_level": 1},
        )
        assert created.status_code == 201, said(created)
        user = f"{users}/{created.json()['id']}"

        granted = portal.http.post(
            f"{user}/subscriptions",
            headers=admin,
            json={"service_ids": [services["invoice_viewing"]]},
        )
        assert granted.status_code == 201, said(granted)
        took.append(time.monotonic() - started)

        listed = portal.http.get(f"{user}/subscriptions", headers=admin)
        assert listed.status_code == 200, said(listed)
        assert "invoice_viewing" in [item["service"]["code"] for item in listed.json()["items"]]

        raised = portal.http.patch(user, headers=admin, json={"password_level": 2})
        assert raised.status_code == 200, said(raised)
        needs_level_2 = portal.http.post(
            f"{user}/subscriptions",
            headers=admin,
            json={"service_ids": [services["saas_administrator"]]},
        )
        assert needs_level_2.status_code == 201, said(needs_level_2)
    took.sort()
    print(
        f"create then grant, {ROUNDS} times: median {took[len(took) // 2] * 1000:.0f} ms, "
        f"slowest {took[-1] * 1000:.0f} ms; {waits_since(portal, before)}"
    )


def test_a_user_just_deleted_is_no_longer_among_the_subscribers_at_once(portal):
    account, admin = administered_account(portal, "Read Your Writes Deletions Ltd")
    invoices = codes_to_ids(portal, account["id"], admin)["invoice_viewing"]
    users = f"/api/v1/accounts/{account['id']}/users"
    subscribers = f"/api/v1/accounts/{account['id']}/services/{invoices}/subscribers"
    for _ in range(ROUNDS // 2):
        created = portal.http.post(
            users,
            headers=admin,
            json={
                "email": f"ryw-gone-{uuid.uuid4().hex[:10]}@example.com",
                **USER,
                "password_level": 1,
            },
        )
        assert created.status_code == 201, said(created)
        user_id = created.json()["id"]
        granted = portal.http.post(
            f"{users}/{user_id}/subscriptions", headers=admin, json={"service_ids": [invoices]}
        )
        assert granted.status_code == 201, said(granted)

        deleted = portal.http.delete(f"{users}/{user_id}", headers=admin)
        assert deleted.status_code == 204, said(deleted)
        listed = portal.http.get(subscribers, headers=admin, params={"per_page": 200})
        assert listed.status_code == 200, said(listed)
        assert user_id not in [item["user_id"] for item in listed.json()["items"]]


def test_an_accepted_request_opens_content_and_a_confirmed_address_signs_in_at_once(portal):
    """The gateway's own projection (acceptance applied at once) and identity alone (the address)."""
    account, admin = administered_account(portal, "Read Your Writes Content Ltd")
    email = unique_email("ryw-requester")
    create_active_user(portal, account["id"], admin, email, password_level=1)
    user = portal.session(email)
    invoices = codes_to_ids(portal, account["id"], admin)["invoice_viewing"]
    validated = portal.http.patch(
        f"/api/v1/accounts/{account['id']}/services",
        headers=admin,
        json={"service_ids": [invoices], "requires_validation": True},
    )
    assert validated.status_code == 200, said(validated)
    asked = portal.http.post(
        "/api/v1/me/subscriptions", headers=user, json={"service_id": invoices}
    )
    assert asked.status_code == 202, said(asked)

    accepted = portal.http.post(
        f"/api/v1/accounts/{account['id']}/subscription-requests/{asked.json()['id']}/accept",
        headers=admin,
        json={},
    )
    assert accepted.status_code == 200, said(accepted)
    opened = portal.http.get("/api/v1/invoices", headers=user)
    assert opened.status_code == 200, said(opened)

    new_address = unique_email("ryw-moved")
    before = len(portal.cluster.mail)
    moving = portal.http.post(
        "/api/v1/me/email-change", headers=user, json={"new_email": new_address}
    )
    assert moving.status_code == 202, said(moving)
    token = portal.link_token(new_address, "Email change confirmation", "confirm-email", before)
    confirmed = portal.http.post(f"/api/v1/email-changes/{token}")
    assert confirmed.status_code == 204, said(confirmed)
    portal.sign_in(new_address, PASSWORD)


def test_users_created_then_granted_at_once_by_several_callers_at_the_same_time(portal):
    """Under load: several administrators' requests at once, each creating then granting."""
    account, admin = administered_account(portal, "Read Your Writes Load Ltd")
    invoices = codes_to_ids(portal, account["id"], admin)["invoice_viewing"]
    users = f"/api/v1/accounts/{account['id']}/users"

    def create_then_grant(_: int) -> list[str]:
        failures = []
        with httpx.Client(base_url=portal.cluster.gateway_url, timeout=30) as http:
            for _ in range(ROUNDS // 4):
                created = http.post(
                    users,
                    headers=admin,
                    json={
                        "email": f"ryw-load-{uuid.uuid4().hex[:10]}@example.com",
                        **USER,
                        "password_level": 1,
                    },
                )
                if created.status_code != 201:
                    failures.append(said(created))
                    continue
                granted = http.post(
                    f"{users}/{created.json()['id']}/subscriptions",
                    headers=admin,
                    json={"service_ids": [invoices]},
                )
                if granted.status_code != 201:
                    failures.append(said(granted))
        return failures

    before = wait_figures(portal)
    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        failures = [
            failure for found in pool.map(create_then_grant, range(CALLERS)) for failure in found
        ]
    assert failures == []
    print(
        f"{CALLERS} callers at once, {ROUNDS // 4} creations then grants each: {waits_since(portal, before)}"
    )


def wait_figures(portal: Portal) -> tuple[float, float, float]:
    """The gateway's read-your-writes waits at subscriptions so far (its /metrics): count, total
    seconds, and how many the bound cut."""
    text = portal.http.get("/metrics").text
    found = dict(
        re.findall(
            r'^portico_own_events_(wait_seconds_sum|wait_seconds_count|late_total)\{service="subscriptions"\} (\S+)$',
            text,
            re.MULTILINE,
        )
    )
    return tuple(
        float(found.get(name, 0))
        for name in ("wait_seconds_count", "wait_seconds_sum", "late_total")
    )


def waits_since(portal: Portal, before: tuple[float, float, float]) -> str:
    count, total, late = (
        now - then for now, then in zip(wait_figures(portal), before, strict=True)
    )
    mean = total / count if count else 0.0
    return f"the gateway waited {count:.0f} times for subscriptions, {mean * 1000:.0f} ms on average, {late:.0f} cut by the bound"


def test_an_account_just_opened_gets_its_catalog_at_once_many_times_in_a_row(portal):
    operator = portal.cluster.operator_headers
    for _ in range(ROUNDS // 2):
        number = unique_number()
        opened = portal.http.post(
            "/api/v1/operator/accounts",
            headers=operator,
            json={"number": number, "name": "Read Your Writes Catalog Ltd"},
        )
        assert opened.status_code == 201, said(opened)

        catalog = portal.http.put(
            f"/api/v1/operator/accounts/{number}/catalog",
            headers=operator,
            json={"services": ["invoice_viewing", "notify_faq"]},
        )
        assert catalog.status_code == 200, said(catalog)
        assert {"invoice_viewing", "notify_faq"} <= {
            item["code"] for item in catalog.json()["items"]
        }

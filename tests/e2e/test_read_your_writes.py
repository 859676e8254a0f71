"""Read-your-writes across services in the distributed mode (every part its own processes,
RabbitMQ, PostgreSQL): a call that depends on the caller's previous write succeeds at once,
many times in a row, without the client retrying.

An administrator creates a user and, in the very next request, grants them a service, lists
their subscriptions, raises their password level and grants a service that needs it; the operator
opens an account and, in the next request, sets its catalog. None of these ever meets a service
that has not heard of the write (no 404 "unknown", no 403 "level too low").
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest

from tests.e2e.harness import Cluster, unique_number
from tests.e2e.test_identity_journey import USER, Portal, administered_account

pytestmark = pytest.mark.e2e

ROUNDS = 20


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
        f"slowest {took[-1] * 1000:.0f} ms; {waits(portal)}"
    )


def waits(portal: Portal) -> str:
    """What the gateway's /metrics says of its read-your-writes waits at subscriptions."""
    text = portal.http.get("/metrics").text
    found = dict(
        re.findall(
            r'^portico_own_events_(wait_seconds_sum|wait_seconds_count|late_total)\{service="subscriptions"\} (\S+)$',
            text,
            re.MULTILINE,
        )
    )
    count = float(found.get("wait_seconds_count", 0))
    mean = float(found.get("wait_seconds_sum", 0)) / count if count else 0.0
    return (
        f"the gateway waited {count:.0f} times for subscriptions, {mean * 1000:.0f} ms on average, "
        f"{float(found.get('late_total', 0)):.0f} cut by the bound"
    )


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

"""A subscription subject to validation, end to end: asked, accepted until tomorrow, applied by
the gateway's projection (content opens), then expired by the subscriptions job (content closes),
with the requester e-mailed at each decision over the SMTP sink."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.harness import Cluster, eventually
from tests.e2e.test_identity_journey import (
    Portal,
    administered_account,
    create_active_user,
    unique_email,
)
from tests.waiting_kit import DEADLINE

pytestmark = pytest.mark.e2e
# The propagation-lag check runs after these journeys, on the same cluster.
pytest_plugins = ("tests.e2e.conftest_propagation",)

INVOICES = "Invoice viewing service"  # the service whose holders see GET /api/v1/invoices
MAIL_TIMEOUT = DEADLINE


@pytest.fixture
def portal(cluster: Cluster):
    opened = Portal(cluster)
    yield opened
    opened.close()


def service_named(
    portal: Portal, account_id: str, admin: dict[str, str], title: str
) -> dict[str, Any]:
    response = portal.http.get(
        f"/api/v1/accounts/{account_id}/services",
        headers=admin,
        params={"title": title, "per_page": 200},
    )
    assert response.status_code == 200, response.text
    found = [s for s in response.json()["items"] if s["title"] == title]
    assert len(found) == 1, f"{title!r} in the account's catalog: {response.json()['items']}"
    return found[0]


def my_subscription(
    portal: Portal, user: dict[str, str], subscription_id: str, status: str
) -> dict[str, Any]:
    response = portal.http.get("/api/v1/me/subscriptions", headers=user, params={"status": status})
    assert response.status_code == 200, response.text
    found = [s for s in response.json()["items"] if s["id"] == subscription_id]
    assert found, (
        f"subscription {subscription_id} not among my {status} ones: {response.json()['items']}"
    )
    return found[0]


def test_a_validated_subscription_opens_content_until_it_expires(portal):
    cluster = portal.cluster
    account, admin = administered_account(portal, "Journey Subscriptions Ltd")
    email = unique_email("requester")
    create_active_user(portal, account["id"], admin, email)
    user = portal.session(email)

    # The administrator makes the gated service subject to validation.
    invoices = service_named(portal, account["id"], admin, INVOICES)
    assert invoices["code"] == "invoice_viewing", invoices
    patched = portal.http.patch(
        f"/api/v1/accounts/{account['id']}/services",
        headers=admin,
        json={"service_ids": [invoices["id"]], "requires_validation": True},
    )
    assert patched.status_code == 200, patched.text
    [setting] = [s for s in patched.json()["items"] if s["id"] == invoices["id"]]
    assert setting["requires_validation"] is True, setting

    # The user asks: the request waits, and the content names the service to ask for.
    asked = portal.http.post(
        "/api/v1/me/subscriptions", headers=user, json={"service_id": invoices["id"]}
    )
    assert asked.status_code == 202, asked.text
    request = asked.json()
    assert request["status"] == "pending" and request["effective"] is False, request
    refused = portal.http.get("/api/v1/invoices", headers=user)
    assert refused.status_code == 403, refused.text
    assert INVOICES in refused.json()["detail"] and refused.json().get("service") == INVOICES, (
        refused.json()
    )

    # The administrator accepts it until tomorrow; the requester hears of it.
    waiting = portal.http.get(
        f"/api/v1/accounts/{account['id']}/subscription-requests", headers=admin
    )
    assert waiting.status_code == 200, waiting.text
    assert request["id"] in [r["id"] for r in waiting.json()["items"]], waiting.json()
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    before = len(cluster.mail)
    accepted = portal.http.post(
        f"/api/v1/accounts/{account['id']}/subscription-requests/{request['id']}/accept",
        headers=admin,
        json={"expires_on": tomorrow.isoformat()},
    )
    assert accepted.status_code == 200, accepted.text
    assert (
        accepted.json()["status"] == "accepted"
        and accepted.json()["expires_on"] == tomorrow.isoformat()
    )
    cluster.mail.wait_for_mail(
        to=email,
        subject_contains=f"Request accepted: {INVOICES}",
        timeout=MAIL_TIMEOUT,
        after=before,
    )

    # It becomes effective for the requester, and the content opens.
    eventually(
        lambda: my_subscription(portal, user, request["id"], "accepted")["effective"] is True,
        timeout=DEADLINE,
        what="the accepted subscription effective in My services",
    )
    opened = portal.http.get("/api/v1/invoices", headers=user)
    assert opened.status_code == 200, opened.text
    assert (
        opened.json()["service"] == INVOICES and opened.json()["account"]["id"] == account["id"]
    ), opened.json()

    # The clock passes the expiry date: the subscriptions service's job expires it.
    day_after = tomorrow + timedelta(days=1)
    before = len(cluster.mail)
    job = portal.http.post(
        f"{cluster.urls['subscriptions']}/internal/jobs/expire",
        headers=cluster.service_headers,
        json={"today": day_after.isoformat()},
    )
    assert job.status_code == 200, job.text
    assert request["id"] in job.json()["expired"], job.json()
    expired_at = time.monotonic()

    ended = my_subscription(portal, user, request["id"], "expired")
    assert ended["status"] == "expired" and ended["effective"] is False, ended

    def closed() -> bool:
        response = portal.http.get("/api/v1/invoices", headers=user)
        assert response.status_code == 403, f"GET /api/v1/invoices answered {response.status_code}"
        assert INVOICES in response.json()["detail"], response.json()
        return True

    eventually(closed, timeout=DEADLINE, interval=0.02, what="the invoices closed after the expiry")
    print(
        f"the expiry closed the invoices {time.monotonic() - expired_at:.3f}s after the job answered"
    )
    cluster.mail.wait_for_mail(
        to=email,
        subject_contains=f"Subscription expired: {INVOICES}",
        timeout=MAIL_TIMEOUT,
        after=before,
    )

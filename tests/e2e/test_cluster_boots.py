"""The distributed mode starts, and an event crosses parts over real RabbitMQ."""

from __future__ import annotations

import uuid

import pytest

from portico import parts
from tests.e2e.harness import eventually

pytestmark = pytest.mark.e2e


def test_every_part_is_ready_behind_the_gateway(cluster):
    response = cluster.http.get("/readyz")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert checks["database"] == "ok" and checks["broker"] == "ok"
    for service in parts.SERVICES:
        assert checks.get(service) == "ok", f"the gateway does not see {service} ready: {checks}"
    for name, url in cluster.urls.items():
        assert cluster.http.get(f"{url}/healthz").status_code == 200, name


def test_a_new_account_reaches_the_gateways_projection_over_the_bus(cluster):
    number = str(uuid.uuid4().int)[:12]
    response = cluster.http.post(
        "/api/v1/operator/accounts",
        json={"number": number, "name": "Cluster Boots Ltd"},
        headers=cluster.operator_headers,
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["number"] == number

    # identity's outbox -> portico.events -> the gateway worker's queue -> the gateway's database
    rows = eventually(
        lambda: cluster.query("gateway", "SELECT id, name FROM accounts WHERE number = :n", n=number),
        timeout=20, what=f"account {number} in the gateway's projection",
    )
    assert rows[0].id == account["id"]
    assert rows[0].name == "Cluster Boots Ltd"


def test_the_operator_api_refuses_a_wrong_token(cluster):
    response = cluster.http.post(
        "/api/v1/operator/accounts",
        json={"number": "1", "name": "Nobody"},
        headers={"Authorization": "Bearer dev-operator-token"},
    )
    assert response.status_code == 401

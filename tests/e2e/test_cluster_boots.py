"""The distributed mode starts, and an event crosses parts over real RabbitMQ."""

from __future__ import annotations

import subprocess

import pytest

from portico import parts
from tests.e2e.harness import eventually, portico_argv, unique_number

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
    number = unique_number()
    account = cluster.create_account("Cluster Boots Ltd", number=number)
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


def test_migrating_again_changes_nothing(cluster):
    """`portico migrate` is safe to run at every release and every start (idempotent)."""
    for name in parts.PARTS:
        result = subprocess.run(portico_argv("migrate", name), env=cluster.env_for(name),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
        assert "Running upgrade" not in result.stderr, f"{name} migrated twice: {result.stderr[-2000:]}"


@pytest.mark.xfail(strict=False, reason=(  # a race: it may pass by luck, so not strict
    "gateway/service_layer/own_writes.py apply_account inserts the account its worker may have "
    "projected already from identity.account.created (real RabbitMQ is that fast): "
    "UniqueViolation on accounts_pkey, the operator gets 500 for an account that was created; "
    "make projections.upsert_account an INSERT ... ON CONFLICT (id) DO UPDATE, or retry on "
    "IntegrityError as apply_subscriptions does"
))
def test_account_creation_never_races_the_projection(cluster):
    codes = []
    for _ in range(30):
        number = unique_number()
        response = cluster.http.post("/api/v1/operator/accounts", json={"number": number, "name": "Race Ltd"},
                                     headers=cluster.operator_headers)
        codes.append(response.status_code)
    assert codes == [201] * 30, codes


@pytest.mark.xfail(strict=True, reason=(
    "portico_propagation_seconds is observed by the gateway's projection handlers, which run in "
    "`portico worker gateway`; that process serves no /metrics, so in the distributed mode the "
    "histogram DESIGN.md promises on /metrics stays empty (so do the outbox and consumer metrics "
    "of every part). `portico worker` needs a metrics endpoint (e.g. prometheus_client's "
    "start_http_server on a PORTICO_METRICS_PORT)"
))
def test_the_propagation_lag_is_measured_on_the_gateways_metrics(cluster):
    number = cluster.create_account("Lag Ltd")["number"]
    eventually(lambda: cluster.query("gateway", "SELECT 1 FROM accounts WHERE number = :n", n=number),
               timeout=20, what="the account in the gateway's projection")

    def observed() -> bool:
        text = cluster.http.get("/metrics").text
        counts = [float(line.split()[-1]) for line in text.splitlines()
                  if line.startswith("portico_propagation_seconds_count")]
        return bool(counts) and max(counts) > 0

    eventually(observed, timeout=5, what="portico_propagation_seconds_count > 0 on the gateway's /metrics")

"""The distributed mode starts, and an event crosses parts over real RabbitMQ."""

from __future__ import annotations

import subprocess

import pytest

from portico import parts
from tests.e2e.harness import eventually, portico_argv, unique_number
from tests.waiting_kit import DEADLINE

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
        lambda: cluster.query(
            "gateway", "SELECT id, name FROM accounts WHERE number = :n", n=number
        ),
        timeout=DEADLINE,
        what=f"account {number} in the gateway's projection",
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
        result = subprocess.run(
            portico_argv("migrate", name),
            env=cluster.env_for(name),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
        assert "Running upgrade" not in result.stderr, (
            f"{name} migrated twice: {result.stderr[-2000:]}"
        )


def test_account_creation_never_races_the_projection(cluster):
    """An actor's own write and its event reach the gateway's projection at nearly the same time
    over real RabbitMQ; both must land (this raced into 500s before bus.db.upsert)."""
    codes = []
    for _ in range(30):
        number = unique_number()
        response = cluster.http.post(
            "/api/v1/operator/accounts",
            json={"number": number, "name": "Race Ltd"},
            headers=cluster.operator_headers,
        )
        codes.append(response.status_code)
    assert codes == [201] * 30, codes


def test_the_workers_serve_their_metrics_and_the_gateway_measures_the_lag(cluster):
    """The projections run in `portico worker gateway`, which serves /metrics on PORTICO_METRICS_PORT."""
    number = cluster.create_account("Lag Ltd")["number"]
    eventually(
        lambda: cluster.query("gateway", "SELECT 1 FROM accounts WHERE number = :n", n=number),
        timeout=DEADLINE,
        what="the account in the gateway's projection",
    )

    for name, url in cluster.worker_urls.items():
        assert cluster.http.get(f"{url}/healthz").status_code == 200, name
        assert cluster.http.get(f"{url}/readyz").status_code == 200, name

    def observed() -> bool:
        text = cluster.http.get(f"{cluster.worker_urls['gateway']}/metrics").text
        counts = [
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("portico_propagation_seconds_count")
        ]
        return bool(counts) and max(counts) > 0

    eventually(
        observed,
        timeout=DEADLINE,
        what="portico_propagation_seconds_count > 0 on the gateway worker's /metrics",
    )
    identity = cluster.http.get(f"{cluster.worker_urls['identity']}/metrics").text
    assert "portico_outbox_published_total" in identity

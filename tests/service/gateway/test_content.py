"""Content gated by services: documents for holders, a 403 that says what to do otherwise."""

from __future__ import annotations

import pytest

from gateway.adapters.backoffice import DemoBackOffice
from tests.service.gateway.conftest import bearer, new_id

PATHS = {
    "invoices": "invoices",
    "products_and_contracts": "products-and-contracts",
    "planning": "planning",
    "intervention_reports": "intervention-reports",
}


class WrittenBackOffice:
    """A back office holding the documents the test wrote, by (kind, account number)."""

    def __init__(self) -> None:
        self.held: dict[tuple[str, str], list[dict]] = {}

    def documents(self, kind: str, account_number: str) -> list[dict]:
        return self.held.get((kind, account_number), [])


@pytest.mark.parametrize("gate", sorted(PATHS))
def test_holders_read_their_account_documents(gw, gate):
    office = WrittenBackOffice()
    gw.app.extensions["portico.gateway"].backoffice = office
    written = [
        {"id": f"DOC-{gate}-{i}", "label": f"written by the test, {i} of 12"} for i in range(1, 13)
    ]
    office.held[(gate, "90293531")] = written
    office.held[(gate, "11111111")] = [{"id": "DOC-of-another-account", "label": "not theirs"}]
    account = gw.account("90293531")
    user = gw.user(account)
    gw.holding(user["id"], account, gates=gate, title="The gate")
    answer = gw.client.get(f"/api/v1/{PATHS[gate]}", headers=bearer(gw.sign_in(user)))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert [doc["id"] for doc in body["items"]] == [f"DOC-{gate}-{i}" for i in range(1, 11)]
    assert body["items"][0] == {"id": f"DOC-{gate}-1", "label": "written by the test, 1 of 12"}
    assert body["total"] == 12 and body["account"]["number"] == "90293531"
    second = gw.client.get(
        f"/api/v1/{PATHS[gate]}?page=2", headers=bearer(gw.sign_in(user))
    ).get_json()
    assert [doc["id"] for doc in second["items"]] == [f"DOC-{gate}-11", f"DOC-{gate}-12"]


def test_without_the_service_the_detail_names_it(gw):
    user = gw.user(gw.account())
    gw.subscriptions.on(
        "GET",
        "/internal/users/{u}/subscriptions",
        {"items": [], "page": 1, "per_page": 200, "total": 0},
    )
    answer = gw.client.get("/api/v1/invoices", headers=bearer(gw.sign_in(user)))
    assert answer.status_code == 403
    assert "Invoice viewing service" in answer.get_json()["detail"]
    assert answer.get_json()["service"] == "Invoice viewing service"


def test_an_accepted_subscription_not_yet_applied_is_said_to_be_propagating(gw):
    user = gw.user(gw.account())
    gw.subscriptions.on(
        "GET",
        "/internal/users/{u}/subscriptions",
        {
            "items": [
                {
                    "id": new_id(),
                    "user_id": user["id"],
                    "status": "accepted",
                    "expires_on": None,
                    "effective": True,
                    "service": {
                        "id": "s",
                        "code": "invoice_viewing",
                        "title": "Invoice viewing service",
                        "gates": "invoices",
                    },
                }
            ],
            "page": 1,
            "per_page": 200,
            "total": 1,
        },
    )
    answer = gw.client.get("/api/v1/invoices", headers=bearer(gw.sign_in(user)))
    assert answer.status_code == 403 and "still propagating" in answer.get_json()["detail"]


def test_a_pending_request_and_an_expired_subscription_say_so(gw):
    user = gw.user(gw.account())
    gw.subscriptions.on(
        "GET",
        "/internal/users/{u}/subscriptions",
        {"items": [], "page": 1, "per_page": 200, "total": 0},
    )
    session = gw.sign_in(user)
    gw.holding(
        user["id"],
        user["account_id"],
        status="pending",
        gates="planning",
        title="Planning of services",
    )
    pending = gw.client.get("/api/v1/planning", headers=bearer(session)).get_json()
    assert "waiting for an administrator" in pending["detail"]
    gw.holding(
        user["id"], user["account_id"], gates="intervention_reports", expires_on="2025-01-01"
    )
    expired = gw.client.get("/api/v1/intervention-reports", headers=bearer(session)).get_json()
    assert "expired on 2025-01-01" in expired["detail"]


def test_the_gate_holds_when_subscriptions_is_down(gw):
    user = gw.user(gw.account())
    gw.subscriptions.on("GET", "/internal/users/{u}/subscriptions", lambda **_: 1 / 0)
    answer = gw.client.get("/api/v1/invoices", headers=bearer(gw.sign_in(user)))
    assert answer.status_code == 403 and "Invoice viewing service" in answer.get_json()["detail"]


def test_demo_back_office_is_deterministic_per_account():
    first, again = DemoBackOffice(), DemoBackOffice()
    invoices = first.documents("invoices", "1")
    assert [doc["id"] for doc in invoices] == [
        f"INV-1-{i:03d}" for i in range(1, len(invoices) + 1)
    ]
    assert (
        again.documents("invoices", "1") == invoices
    )  # a second office, built anew, says the same
    assert first.documents("invoices", "2") != invoices
    assert all(2 <= len(first.documents(kind, "90293531")) <= 4 for kind in PATHS)

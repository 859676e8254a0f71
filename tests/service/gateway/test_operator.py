"""The operator API: accounts (applied to the account tree at once), administrators, catalogs, content."""

from __future__ import annotations

import json

import sqlalchemy as sa

from gateway.adapters.orm import accounts, outbox
from tests.service.gateway.conftest import OPERATOR, new_id


def test_creating_an_account_projects_it_at_once(gw):
    account_id = new_id()
    gw.identity.on(
        "POST",
        "/internal/accounts",
        {
            "id": account_id,
            "number": "90293531",
            "name": "Retail IT",
            "parent_id": None,
            "relation": None,
            "event_id": "ev-1",
        },
        201,
    )
    answer = gw.client.post(
        "/api/v1/operator/accounts",
        json={"number": "90293531", "name": "Retail IT"},
        headers=OPERATOR,
    )
    assert answer.status_code == 201
    assert answer.get_json()["propagation"] == {"status": "applied", "event_id": "ev-1"}
    assert gw.identity.calls[-1].headers["X-Portico-Actor"] == "operator"
    with gw.part.engine.connect() as conn:
        assert (
            conn.execute(sa.select(accounts.c.number).where(accounts.c.id == account_id)).scalar()
            == "90293531"
        )


def test_taken_number_is_409_from_identity(gw):
    gw.identity.on(
        "POST",
        "/internal/accounts",
        {
            "type": "about:blank",
            "title": "Conflict",
            "status": 409,
            "detail": "The client number 1 is already taken.",
        },
        409,
    )
    answer = gw.client.post(
        "/api/v1/operator/accounts", json={"number": "1", "name": "x"}, headers=OPERATOR
    )
    assert answer.status_code == 409 and "already taken" in answer.get_json()["detail"]


def test_administrator_of_an_account(gw):
    user = {
        "id": new_id(),
        "account_id": new_id(),
        "email": "boss@example.com",
        "status": "pending_activation",
        "last_name": "Boss",
        "first_name": "Big",
        "language": "en-GB",
        "password_level": 2,
        "event_id": "ev-2",
    }
    gw.identity.on("POST", "/internal/accounts/by-number/{n}/administrators", user, 201)
    body = {
        "email": "boss@example.com",
        "title": "M",
        "last_name": "Boss",
        "first_name": "Big",
        "language": "en-GB",
    }
    answer = gw.client.post(
        "/api/v1/operator/accounts/90293531/administrators", json=body, headers=OPERATOR
    )
    assert answer.status_code == 201 and answer.get_json()["propagation"]["status"] == "pending"
    assert gw.identity.calls[-1].path == "/internal/accounts/by-number/90293531/administrators"
    assert gw.identity.calls[-1].json == body


def test_catalog(gw):
    gw.subscriptions.on(
        "PUT",
        "/internal/accounts/by-number/{n}/catalog",
        {"items": [{"id": "s1", "code": "invoice_viewing"}], "total": 1, "event_id": "ev-3"},
    )
    answer = gw.client.put(
        "/api/v1/operator/accounts/90293531/catalog",
        json={"services": ["invoice_viewing"]},
        headers=OPERATOR,
    )
    assert answer.status_code == 200 and answer.get_json()["items"][0]["code"] == "invoice_viewing"


def test_content_is_published_through_the_gateway_outbox(gw):
    body = {"kind": "faq", "title": "New FAQ", "url": "https://portal.example.com/faq/1"}
    answer = gw.client.post("/api/v1/operator/content", json=body, headers=OPERATOR)
    assert answer.status_code == 202
    event_id = answer.get_json()["propagation"]["event_id"]
    with gw.part.engine.connect() as conn:
        row = (
            conn.execute(sa.select(outbox).where(outbox.c.message_id == event_id)).mappings().one()
        )
    assert row["type"] == "content.published" and json.loads(row["body"])["data"] == body
    bad = gw.client.post(
        "/api/v1/operator/content", json={**body, "kind": "gossip"}, headers=OPERATOR
    )
    assert bad.status_code == 422 and "kind" in bad.get_json()["errors"]

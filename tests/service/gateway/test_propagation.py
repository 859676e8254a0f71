"""Propagation: `effective` from the projection, the actor's own writes applied at once, older
states ignored, and the lag histogram."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from tests.service.gateway.conftest import bearer, new_id


def subscription(
    sub_id,
    user,
    status="accepted",
    *,
    gates=None,
    administers=None,
    expires_on=None,
    decided_at="2025-01-06T09:00:00Z",
):
    return {
        "id": sub_id,
        "user_id": user["id"],
        "account_id": user["account_id"],
        "status": status,
        "service": {
            "id": "svc-1",
            "code": "invoice_viewing",
            "title": "Invoice viewing service",
            "family": "administrative",
            "gates": gates,
            "administers_account_id": administers,
            "supervises": False,
        },
        "requested_at": "2025-01-06T08:00:00Z",
        "decided_at": decided_at,
        "decided_by": None,
        "expires_on": expires_on,
        "effective": status == "accepted",
    }


def test_effective_needs_the_projection_to_have_applied_it(gw):
    user = gw.user(gw.account())
    applied, travelling = new_id(), new_id()
    gw.holding(user["id"], user["account_id"], subscription_id=applied)
    gw.subscriptions.on(
        "GET",
        "/internal/users/{user_id}/subscriptions",
        {
            "items": [subscription(applied, user), subscription(travelling, user)],
            "page": 1,
            "per_page": 10,
            "total": 2,
        },
    )
    listed = gw.client.get("/api/v1/me/subscriptions", headers=bearer(gw.sign_in(user))).get_json()
    assert {s["id"]: s["effective"] for s in listed["items"]} == {applied: True, travelling: False}


def test_own_subscription_is_applied_at_once_and_the_later_event_is_a_no_op(gw):
    user = gw.user(gw.account())
    sub_id = new_id()
    gw.subscriptions.on(
        "POST",
        "/internal/users/{user_id}/subscriptions",
        {**subscription(sub_id, user, gates="invoices"), "event_id": "ev-1"},
        201,
    )
    session = gw.sign_in(user)
    answer = gw.client.post(
        "/api/v1/me/subscriptions", json={"service_id": "svc-1"}, headers=bearer(session)
    )
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["effective"] is True and body["propagation"] == {
        "status": "applied",
        "event_id": "ev-1",
    }
    assert gw.client.get("/api/v1/invoices", headers=bearer(session)).status_code == 200
    # the event of the same change arrives later, then an older "requested" one: nothing moves back
    gw.holding(user["id"], user["account_id"], subscription_id=sub_id, gates="invoices")
    gw.holding(
        user["id"], user["account_id"], subscription_id=sub_id, status="pending", gates="invoices"
    )
    assert gw.client.get("/api/v1/invoices", headers=bearer(session)).status_code == 200


def test_pending_request_answers_202(gw):
    user = gw.user(gw.account())
    gw.subscriptions.on(
        "POST",
        "/internal/users/{user_id}/subscriptions",
        {**subscription(new_id(), user, "pending", decided_at=None), "event_id": "ev-2"},
        202,
    )
    answer = gw.client.post(
        "/api/v1/me/subscriptions", json={"service_id": "svc-1"}, headers=bearer(gw.sign_in(user))
    )
    assert answer.status_code == 202 and answer.get_json()["status"] == "pending"
    assert answer.get_json()["effective"] is False


def test_unsubscribing_stops_access_at_once(gw):
    user = gw.user(gw.account())
    sub_id = gw.holding(user["id"], user["account_id"], gates="invoices")
    gw.subscriptions.on("DELETE", "/internal/users/{user_id}/subscriptions/{sid}", None, 204)
    session = gw.sign_in(user)
    assert gw.client.get("/api/v1/invoices", headers=bearer(session)).status_code == 200
    assert (
        gw.client.delete(f"/api/v1/me/subscriptions/{sub_id}", headers=bearer(session)).status_code
        == 204
    )
    assert gw.client.get("/api/v1/invoices", headers=bearer(session)).status_code == 403
    gw.holding(
        user["id"], user["account_id"], subscription_id=sub_id, gates="invoices"
    )  # stale accepted event
    assert gw.client.get("/api/v1/invoices", headers=bearer(session)).status_code == 403


def test_accepting_a_request_makes_the_requester_administrator_at_once(gw):
    account = gw.account()
    admin, requester = gw.user(account, admin=True), gw.user(account)
    req = new_id()
    gw.subscriptions.on(
        "POST",
        "/internal/accounts/{a}/subscription-requests/{rid}/accept",
        {**subscription(req, requester, administers=account), "event_id": "ev-3"},
    )
    answer = gw.client.post(
        f"/api/v1/accounts/{account}/subscription-requests/{req}/accept",
        json={"expires_on": "2025-06-30"},
        headers=bearer(gw.sign_in(admin)),
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["propagation"]["status"] == "applied"
    assert gw.subscriptions.calls[-1].json == {"expires_on": "2025-06-30"}
    gw.identity.on(
        "GET", "/internal/accounts/{a}/users", {"items": [], "page": 1, "per_page": 10, "total": 0}
    )
    reached = gw.client.get(
        f"/api/v1/accounts/{account}/users", headers=bearer(gw.sign_in(requester))
    )
    assert reached.status_code == 200


def test_granting_applies_every_subscription(gw):
    account = gw.account()
    admin, member = gw.user(account, admin=True), gw.user(account)
    granted = [
        subscription(new_id(), member, gates="invoices"),
        subscription(new_id(), member, gates="planning"),
    ]
    gw.subscriptions.on(
        "POST",
        "/internal/accounts/{a}/users/{u}/subscriptions",
        {"items": granted, "total": 2, "event_id": "ev-4"},
        201,
    )
    answer = gw.client.post(
        f"/api/v1/accounts/{account}/users/{member['id']}/subscriptions",
        json={"service_ids": ["svc-1", "svc-2"]},
        headers=bearer(gw.sign_in(admin)),
    )
    assert answer.status_code == 201 and all(s["effective"] for s in answer.get_json()["items"])
    member_session = gw.sign_in(member)
    assert gw.client.get("/api/v1/planning", headers=bearer(member_session)).status_code == 200


def test_the_consumer_observes_the_lag_of_each_event(gw):
    def bucket(le):
        return REGISTRY.get_sample_value("portico_propagation_seconds_bucket", {"le": le}) or 0

    def count():
        return REGISTRY.get_sample_value("portico_propagation_seconds_count") or 0

    user = gw.user(gw.account())
    before = {le: bucket(le) for le in ("2.5", "5.0", "+Inf")}
    before_count = count()
    # the lag is measured against the wall clock (not the part's clock): the event occurred 3 s ago
    occurred = datetime.now(UTC) - timedelta(seconds=3)
    gw.holding(user["id"], user["account_id"], occurred_at=occurred.isoformat())
    assert count() == before_count + 1
    # a lag of 3 s lies above the 2.5 s bucket and within the 5 s one
    assert bucket("2.5") == before["2.5"]
    assert bucket("5.0") == before["5.0"] + 1
    assert bucket("+Inf") == before["+Inf"] + 1
    metrics = gw.client.get("/metrics").get_data(as_text=True)
    assert 'portico_propagation_seconds_bucket{le="5.0"}' in metrics

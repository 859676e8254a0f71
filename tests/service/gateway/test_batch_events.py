"""subscriptions.subscriptions.accepted: the gateway's projection takes a bulk change's
subscriptions in one transaction; a redelivery changes nothing; a newer state it already holds
(the actor's own write) is kept."""

from __future__ import annotations

import sqlalchemy as sa

from bus.envelope import Envelope
from gateway.adapters.orm import holdings
from tests.service.gateway.conftest import bearer, new_id


def entry(user: dict, *, gates: str | None = None, subscription_id: str | None = None) -> dict:
    return {
        "subscription_id": subscription_id or new_id(),
        "account_id": user["account_id"],
        "user_id": user["id"],
        "service_id": "svc-inv",
        "service_code": "invoice_viewing",
        "service_title": "Invoice viewing service",
        "family": "administrative",
        "status": "accepted",
        "gates": gates,
        "cause": "auto_subscribe",
        "granted_directly": True,
    }


def batch(account: str, entries: list[dict]) -> dict:
    return {"account_id": account, "cause": "auto_subscribe", "subscriptions": entries}


def rows(gw) -> list:
    with gw.part.engine.connect() as conn:
        return conn.execute(sa.select(holdings).order_by(holdings.c.subscription_id)).all()


def test_a_batch_of_grants_is_effective_for_every_user_at_once(gw):
    account = gw.account()
    people = [gw.user(account) for _ in range(3)]
    gw.feed(
        "subscriptions.subscriptions.accepted",
        batch(account, [entry(user, gates="invoices") for user in people]),
    )
    for user in people:
        answer = gw.client.get("/api/v1/invoices", headers=bearer(gw.sign_in(user)))
        assert answer.status_code == 200, answer.get_json()
    assert {row.user_id for row in rows(gw)} == {user["id"] for user in people}


def test_a_redelivered_batch_changes_nothing(gw):
    account = gw.account()
    user = gw.user(account)
    data = batch(account, [entry(user), entry(user)])
    event = Envelope(
        type="subscriptions.subscriptions.accepted", data=data, producer="subscriptions"
    )
    gw.feed(event.type, data, id=event.id)
    before = rows(gw)
    gw.feed(event.type, data, id=event.id)  # stopped by the bus receipt
    assert rows(gw) == before and len(before) == 2
    gw.feed(event.type, data)  # the same subscriptions under another id: still one row each
    assert [(r.subscription_id, r.user_id, r.status) for r in rows(gw)] == [
        (r.subscription_id, r.user_id, r.status) for r in before
    ]


def test_a_newer_state_already_held_is_kept(gw):
    account = gw.account()
    user = gw.user(account)
    sub_id = new_id()
    gw.holding(
        user["id"],
        account,
        status="cancelled",
        subscription_id=sub_id,
        occurred_at="2099-01-01T00:00:00+00:00",
    )
    gw.feed(
        "subscriptions.subscriptions.accepted",
        batch(account, [entry(user, subscription_id=sub_id), entry(user)]),
    )
    by_id = {row.subscription_id: row.status for row in rows(gw)}
    assert by_id[sub_id] == "cancelled" and sorted(by_id.values()) == ["accepted", "cancelled"]


def lean_batch(account: str, people: list[dict], *, gates: str | None = None) -> dict:
    """subscriptions.subscriptions.accepted as subscriptions writes automatic grants: the
    service described once, each user with the id of their new subscription."""
    return {
        "account_id": account,
        "cause": "auto_subscribe",
        "changed_at": "2026-12-04T21:00:00Z",
        "services": [
            {
                "service_id": "svc-inv",
                "service_code": "invoice_viewing",
                "service_title": "Invoice viewing service",
                "family": "administrative",
                "gates": gates,
            }
        ],
        "users": [
            {
                "user_id": user["id"],
                "subscription_ids": [new_id()],
                "service_ids": ["svc-inv"],
            }
            for user in people
        ],
    }


def test_a_batch_describing_each_service_once_is_effective_for_every_user(gw):
    account = gw.account()
    people = [gw.user(account) for _ in range(3)]
    data = lean_batch(account, people, gates="invoices")
    event = gw.feed("subscriptions.subscriptions.accepted", data)
    for user in people:
        answer = gw.client.get("/api/v1/invoices", headers=bearer(gw.sign_in(user)))
        assert answer.status_code == 200, answer.get_json()
    kept = rows(gw)
    assert {(r.user_id, r.service_code, r.status, r.account_id) for r in kept} == {
        (user["id"], "invoice_viewing", "accepted", account) for user in people
    }
    assert {r.applied_event_id for r in kept} == {event.id}
    gw.feed("subscriptions.subscriptions.accepted", data)  # the same grants again: nothing more
    assert len(rows(gw)) == 3


def test_a_grant_of_a_service_the_batch_does_not_describe_is_dead_lettered_with_the_reason(gw):
    account = gw.account()
    data = lean_batch(account, [gw.user(account)])
    data["users"][0]["service_ids"] = ["svc-unknown"]
    event = Envelope(
        type="subscriptions.subscriptions.accepted", data=data, producer="subscriptions"
    )
    outcome = gw.part.processor().process(event.to_json())
    assert outcome.kind == "dead", outcome
    assert "svc-unknown" in outcome.reason and "does not describe" in outcome.reason
    assert rows(gw) == []


def test_a_mass_re_send_takes_ten_thousand_users_and_the_body_cap_bounds_it(gw):
    account = gw.account()
    session = gw.sign_in(gw.user(account, admin=True))
    identity = gw.fakes["identity"]
    identity.on(
        "POST",
        "/internal/accounts/{account_id}/activation-emails",
        {"sent": 10_000, "skipped": 0, "results": []},
        202,
    )
    ids = [new_id() for _ in range(10_000)]
    answer = gw.client.post(
        f"/api/v1/accounts/{account}/activation-emails",
        headers=bearer(session),
        json={"user_ids": ids},
    )
    assert answer.status_code == 202, answer.get_json()
    assert identity.calls[-1].json == {"user_ids": ids}

    too_big = gw.client.post(
        f"/api/v1/accounts/{account}/activation-emails",
        headers=bearer(session),
        json={"user_ids": [new_id() for _ in range(40_000)]},  # about 1.6 MB
    )
    assert too_big.status_code == 413, too_big.get_json()
    assert identity.calls[-1].json == {"user_ids": ids}, "nothing more reached identity"

"""Who administers which account, learnt from subscriptions' events."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def account(svc):
    return svc.account()


def is_admin(svc, account_id, user_id):
    return svc.get(f"/internal/accounts/{account_id}/users/{user_id}").json["is_administrator"]


def test_an_accepted_administration_subscription_makes_an_administrator(svc, account):
    user = svc.active_user(account["id"])
    assert is_admin(svc, account["id"], user["id"]) is False
    subscription = svc.grant_admin(account["id"], user["id"])
    assert is_admin(svc, account["id"], user["id"]) is True
    assert svc.get(f"/internal/users/{user['id']}").json["is_administrator"] is True
    assert svc.sign_in(user["email"]).json["user"]["is_administrator"] is True
    admins = svc.get(f"/internal/accounts/{account['id']}/administrators").json
    assert [a["id"] for a in admins["items"]] == [user["id"]] and admins["total"] == 1
    svc.subscription_event("cancelled", account["id"], user["id"], subscription)
    assert is_admin(svc, account["id"], user["id"]) is False


@pytest.mark.parametrize("ending", ["cancelled", "expired", "refused"])
def test_every_end_of_the_subscription_unmakes_the_administrator(svc, account, ending):
    user = svc.active_user(account["id"])
    subscription = svc.grant_admin(account["id"], user["id"])
    svc.subscription_event(ending, account["id"], user["id"], subscription)
    assert is_admin(svc, account["id"], user["id"]) is False


def test_one_subscription_ending_leaves_another(svc, account):
    user = svc.active_user(account["id"])
    first = svc.grant_admin(account["id"], user["id"])
    svc.grant_admin(account["id"], user["id"])
    svc.subscription_event("expired", account["id"], user["id"], first)
    assert is_admin(svc, account["id"], user["id"]) is True


def test_other_services_and_supervision_make_no_administrator(svc, account):
    user = svc.active_user(account["id"])
    svc.subscription_event(
        "accepted",
        account["id"],
        user["id"],
        str(uuid.uuid4()),
        service_code="invoices",
        administers_account_id=None,
    )
    svc.subscription_event(
        "accepted",
        account["id"],
        user["id"],
        str(uuid.uuid4()),
        service_code=f"user_admin_supervision:{account['id']}",
    )
    assert is_admin(svc, account["id"], user["id"]) is False


def test_a_redelivered_event_and_an_unknown_user_change_nothing(svc, account):
    user = svc.active_user(account["id"])
    data = {
        "subscription_id": "s-1",
        "account_id": account["id"],
        "user_id": user["id"],
        "service_id": "x",
        "service_code": "user_admin:x",
        "service_title": "Admin",
        "family": "management",
        "status": "accepted",
        "administers_account_id": account["id"],
    }
    from bus.envelope import Envelope

    envelope = Envelope(
        type="subscriptions.subscription.accepted", data=data, producer="subscriptions"
    )
    assert svc.part.processor().process(envelope.to_json()).kind == "handled"
    assert svc.part.processor().process(envelope.to_json()).kind == "duplicate"
    assert len(svc.rows("administrators")) == 1
    svc.subscription_event("accepted", account["id"], "no-such-user", "s-2")
    assert len(svc.rows("administrators")) == 1


def test_a_message_breaking_its_contract_is_dead_lettered(svc, account):
    outcome = svc.process("subscriptions.subscription.accepted", {"subscription_id": "s"})
    assert outcome.kind == "dead"


def test_a_deleted_user_leaves_the_administrators(svc, account):
    first = svc.active_user(account["id"])
    second = svc.active_user(account["id"])
    svc.grant_admin(account["id"], first["id"])
    svc.grant_admin(account["id"], second["id"])
    assert svc.delete(f"/internal/accounts/{account['id']}/users/{first['id']}").status_code == 204
    assert [row.user_id for row in svc.rows("administrators")] == [second["id"]]

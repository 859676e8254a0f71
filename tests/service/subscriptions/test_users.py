"""The users projection: auto services and the administration grant at creation, level changes,
deletion ending everything the user held, and consumed events applied once.
"""

from __future__ import annotations

from bus.envelope import Envelope
from services.subscriptions.domain.definitions import load_definitions

from .conftest import user_data

AUTO = {s.code for s in load_definitions().services if s.auto_subscribe}


def codes_of(api, user, **params) -> dict[str, dict]:
    answer = api.get(f"/internal/users/{user['id']}/subscriptions", per_page=200, **params)
    assert answer.status_code == 200, answer.json
    return {s["service"]["code"]: s for s in answer.json["items"]}


def test_a_new_user_gets_every_auto_service(api, make_account, make_user, outbox):
    account = make_account()
    user = make_user(account)
    held = codes_of(api, user)
    assert set(held) == AUTO
    assert all(s["status"] == "accepted" and s["effective"] for s in held.values())
    events = [
        e["data"]
        for e in outbox("subscriptions.subscription.accepted")
        if e["data"]["user_id"] == user["id"]
    ]
    assert {e["service_code"] for e in events} == AUTO
    assert {e["cause"] for e in events} == {"auto_subscribe"}
    assert all(e["granted_directly"] and e["user_email"] == user["email"] for e in events)


def test_auto_services_above_the_users_level_are_skipped_without_failing(
    api, make_account, make_user, services_of
):
    account = make_account()
    saas = services_of(account)["saas_administrator"]  # needs a moderate (2) password
    answer = api.patch(
        f"/internal/accounts/{account['id']}/services",
        {"service_ids": [saas["id"]], "auto_subscribe": True},
    )
    assert answer.status_code == 200
    weak = make_user(account, password_level=1)  # make_user asserts the message was handled
    strong = make_user(account, password_level=3)
    assert "saas_administrator" not in codes_of(api, weak)
    assert "saas_administrator" in codes_of(api, strong)


def test_an_operator_created_administrator_gets_the_administration_service(
    api, make_account, make_admin, outbox
):
    account = make_account()
    admin = make_admin(account)
    code = f"user_admin:{account['id']}"
    held = codes_of(api, admin)[code]
    assert (held["status"], held["decided_by"], held["effective"]) == ("accepted", "operator", True)
    event = next(
        e["data"]
        for e in outbox("subscriptions.subscription.accepted")
        if e["data"]["service_code"] == code
    )
    assert event["administers_account_id"] == account["id"]
    assert event["supervises"] is False
    assert event["cause"] == "administration_grant"
    assert event["decided_by"] == "operator"
    assert (event["account_number"], event["account_name"]) == (account["number"], account["name"])


def test_the_same_user_creation_twice_grants_once(part, make_account, api, outbox):
    account = make_account()
    data = user_data(account, grant_administration=True, source="operator")
    envelope = Envelope(type="identity.user.created", data=data, producer="identity")
    assert part.processor().process(envelope.to_json()).kind == "handled"
    assert part.processor().process(envelope.to_json()).kind == "duplicate"
    held = codes_of(api, {"id": data["user_id"]})
    assert len(held) == len(AUTO) + 1
    events = [
        e
        for e in outbox("subscriptions.subscription.accepted")
        if e["data"]["user_id"] == data["user_id"]
    ]
    assert len(events) == len(AUTO) + 1


def test_a_user_of_an_account_not_known_yet_is_retried(part):
    data = user_data({"id": "not-yet"})
    envelope = Envelope(type="identity.user.created", data=data, producer="identity")
    assert part.processor().process(envelope.to_json()).kind == "retry"


def test_a_raised_level_lets_the_user_ask_for_a_stricter_service(
    api, make_account, make_user, feed, subscribe
):
    account = make_account()
    user = make_user(account, password_level=1)
    assert subscribe(user, "saas_administrator").status_code == 403
    updated = {
        k: v
        for k, v in user.items()
        if k
        in (
            "user_id",
            "account_id",
            "email",
            "title",
            "last_name",
            "first_name",
            "language",
            "function",
            "status",
        )
    }
    _, outcome = feed(
        "identity.user.updated", {**updated, "password_level": 2, "changed": ["password_level"]}
    )
    assert outcome.kind == "handled"
    assert subscribe(user, "saas_administrator").status_code == 202


def test_names_and_email_follow_updates_and_activation(
    api, make_account, make_user, feed, subscribe
):
    account = make_account()
    user = make_user(account)
    fields = {
        k: user[k]
        for k in ("user_id", "account_id", "title", "function", "language", "password_level")
    }
    feed(
        "identity.user.activated",
        {
            **fields,
            "email": "new@example.com",
            "last_name": "Martin",
            "first_name": "Lou",
            "status": "active",
            "activated_at": "2027-03-01T10:00:00Z",
        },
    )
    assert subscribe(user, "invoice_viewing").status_code == 202
    waiting = api.get(f"/internal/accounts/{account['id']}/subscription-requests").json["items"]
    assert waiting[0]["user"]["email"] == "new@example.com"
    assert waiting[0]["user"]["status"] == "active"
    assert (
        api.get(f"/internal/accounts/{account['id']}/subscription-requests", name="martin").json[
            "total"
        ]
        == 1
    )


def test_a_deleted_user_loses_everything_held_or_asked(
    api, make_account, make_user, feed, subscribe, outbox
):
    account = make_account()
    user = make_user(account)
    waiting = subscribe(user, "invoice_viewing").json
    _, outcome = feed(
        "identity.user.deleted",
        {
            "user_id": user["id"],
            "account_id": account["id"],
            "email": user["email"],
            "deleted_by": "admin-1",
        },
    )
    assert outcome.kind == "handled"
    ended = [
        e["data"]
        for e in outbox("subscriptions.subscription.cancelled")
        if e["data"]["user_id"] == user["id"]
    ]
    assert {e["service_code"] for e in ended} == AUTO | {"invoice_viewing"}
    assert {e["cause"] for e in ended} == {"user_deleted"}
    assert {e["decided_by"] for e in ended} == {"admin-1"}
    assert waiting["id"] in {e["subscription_id"] for e in ended}
    assert api.get(f"/internal/users/{user['id']}/subscriptions").status_code == 404
    assert api.get(f"/internal/accounts/{account['id']}/subscription-requests").json["total"] == 0


def test_the_same_deletion_twice_ends_things_once(part, make_account, make_user, outbox):
    account = make_account()
    user = make_user(account)
    envelope = Envelope(
        type="identity.user.deleted",
        producer="identity",
        data={"user_id": user["id"], "account_id": account["id"]},
    )
    assert part.processor().process(envelope.to_json()).kind == "handled"
    assert part.processor().process(envelope.to_json()).kind == "duplicate"
    assert len(outbox("subscriptions.subscription.cancelled")) == len(AUTO)

"""A subscription's life through the internal API: request, decide, grant, cancel, remove."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .conftest import START

TODAY = START.date()


@pytest.fixture
def account(make_account):
    return make_account("Retail IT Limited")


@pytest.fixture
def admin(account, make_admin):
    return make_admin(account)


def requests_path(account, subscription_id, verb):
    return f"/internal/accounts/{account['id']}/subscription-requests/{subscription_id}/{verb}"


# -- asking ------------------------------------------------------------------------------------


def test_a_service_without_validation_is_accepted_at_once(account, make_user, subscribe, outbox):
    user = make_user(account)
    answer = subscribe(user, "view_faqs")
    assert answer.status_code == 201
    body = answer.json
    assert (body["status"], body["effective"], body["user_id"]) == ("accepted", True, user["id"])
    assert body["service"]["code"] == "view_faqs"
    assert body["service"]["subscriber_count"] == 1
    assert body["requested_at"] == "2027-03-01T09:00:00Z"
    event = next(
        e for e in outbox("subscriptions.subscription.accepted") if e["id"] == body["event_id"]
    )
    assert event["data"]["subscription_id"] == body["id"]
    assert event["data"]["cause"] == "request"
    assert event["data"]["granted_directly"] is False


def test_a_service_subject_to_validation_waits_for_an_administrator(
    account, make_user, subscribe, outbox
):
    user = make_user(account, first_name="Ann", last_name="Lee", language="fr-FR")
    answer = subscribe(user, "invoice_viewing")
    assert answer.status_code == 202
    assert (answer.json["status"], answer.json["effective"]) == ("pending", False)
    event = outbox("subscriptions.subscription.requested")[-1]
    assert event["id"] == answer.json["event_id"]
    data = event["data"]
    assert (data["user_name"], data["user_email"], data["user_language"]) == (
        "Ann Lee",
        user["email"],
        "fr-FR",
    )
    assert (data["service_title"], data["family"], data["gates"]) == (
        "Invoice viewing service",
        "administrative",
        "invoices",
    )
    assert data["account_name"] == "Retail IT Limited"


def test_asking_twice_is_409_whether_pending_or_held(account, make_user, subscribe):
    user = make_user(account)
    assert subscribe(user, "invoice_viewing").status_code == 202
    again = subscribe(user, "invoice_viewing")
    assert again.status_code == 409
    assert "waiting" in again.json["detail"]
    assert subscribe(user, "community_area").status_code == 409  # auto-subscribed at creation


def test_a_level_too_low_is_403_naming_the_level_needed(account, make_user, subscribe, outbox):
    user = make_user(account, password_level=1)
    before = len(outbox())
    answer = subscribe(user, "saas_administrator")
    assert answer.status_code == 403
    assert "moderate (level 2)" in answer.json["detail"]
    assert answer.json["required_level"] == 2
    assert len(outbox()) == before


def test_services_of_another_account_and_unknown_users_are_404(
    api, account, make_account, make_user, services_of
):
    user = make_user(account)
    other = make_account()
    foreign = services_of(other)["view_faqs"]["id"]
    answer = api.post(f"/internal/users/{user['id']}/subscriptions", {"service_id": foreign})
    assert answer.status_code == 404
    mine = services_of(account)["view_faqs"]["id"]
    assert api.post("/internal/users/nobody/subscriptions", {"service_id": mine}).status_code == 404


def test_malformed_bodies_are_422_field_by_field(api, account, admin, make_user):
    user = make_user(account)
    answer = api.post(f"/internal/users/{user['id']}/subscriptions", {"service": "x"})
    assert answer.status_code == 422
    assert set(answer.json["errors"]) == {"service_id", "service"}
    not_json = api.post(
        f"/internal/users/{user['id']}/subscriptions", data="nope", content_type="text/plain"
    )
    assert not_json.status_code == 422
    grant = api.post(
        f"/internal/accounts/{account['id']}/users/{user['id']}/subscriptions",
        {"service_ids": [], "expires_on": "tomorrow"},
    )
    assert grant.status_code == 422
    assert set(grant.json["errors"]) == {"service_ids", "expires_on"}


def test_the_service_token_is_required(api):
    assert api.client.get("/internal/users/x/subscriptions").status_code == 401
    assert api.client.get("/healthz").status_code == 200


# -- deciding ----------------------------------------------------------------------------------


def test_an_administrator_accepts_with_an_expiry_date(
    api, account, admin, make_user, subscribe, outbox
):
    user = make_user(account)
    asked = subscribe(user, "invoice_viewing").json
    until = (TODAY + timedelta(days=30)).isoformat()
    answer = api.post(
        requests_path(account, asked["id"], "accept"), {"expires_on": until}, actor=admin["id"]
    )
    assert answer.status_code == 200
    body = answer.json
    assert (body["status"], body["expires_on"], body["decided_by"], body["effective"]) == (
        "accepted",
        until,
        admin["id"],
        True,
    )
    data = next(
        e for e in outbox("subscriptions.subscription.accepted") if e["id"] == body["event_id"]
    )["data"]
    assert (data["cause"], data["expires_on"], data["decided_by"]) == (
        "decision",
        until,
        admin["id"],
    )
    assert data["decided_by_name"] == f"{admin['first_name']} {admin['last_name']}"


def test_accepting_without_a_body_is_fine_and_a_past_date_is_422(
    api, account, admin, make_user, subscribe
):
    user = make_user(account)
    asked = subscribe(user, "invoice_viewing").json
    past = api.post(
        requests_path(account, asked["id"], "accept"),
        {"expires_on": (TODAY - timedelta(days=1)).isoformat()},
    )
    assert past.status_code == 422
    assert "expires_on" in past.json["errors"]
    still = api.get(f"/internal/accounts/{account['id']}/subscription-requests").json
    assert still["total"] == 1  # nothing changed
    accepted = api.post(requests_path(account, asked["id"], "accept"))
    assert accepted.status_code == 200 and accepted.json["expires_on"] is None


def test_refusing_with_a_reason_and_deciding_twice_is_409(
    api, account, admin, make_user, subscribe, outbox
):
    user = make_user(account)
    asked = subscribe(user, "invoice_viewing").json
    refused = api.post(
        requests_path(account, asked["id"], "refuse"),
        {"reason": "Ask your manager first."},
        actor=admin["id"],
    )
    assert refused.status_code == 200
    assert (refused.json["status"], refused.json["reason"]) == (
        "refused",
        "Ask your manager first.",
    )
    event = outbox("subscriptions.subscription.refused")[-1]["data"]
    assert (event["reason"], event["user_email"]) == ("Ask your manager first.", user["email"])
    for verb in ("accept", "refuse"):
        again = api.post(requests_path(account, asked["id"], verb), {})
        assert again.status_code == 409
        assert "refused" in again.json["detail"]


def test_requests_of_another_account_are_404(api, account, make_account, make_user, subscribe):
    user = make_user(account)
    asked = subscribe(user, "invoice_viewing").json
    other = make_account()
    assert api.post(requests_path(other, asked["id"], "accept")).status_code == 404
    assert api.post(requests_path(other, asked["id"], "refuse")).status_code == 404
    assert api.post(requests_path(account, "unknown", "accept")).status_code == 404


# -- granting ----------------------------------------------------------------------------------


def test_an_administrator_grants_several_services_at_once(
    api, account, admin, make_user, services_of, outbox
):
    user = make_user(account)
    services = services_of(account)
    ids = [services["invoice_viewing"]["id"], services["view_faqs"]["id"]]
    until = (TODAY + timedelta(days=10)).isoformat()
    answer = api.post(
        f"/internal/accounts/{account['id']}/users/{user['id']}/subscriptions",
        {"service_ids": ids, "expires_on": until},
        actor=admin["id"],
    )
    assert answer.status_code == 201, answer.json
    items = answer.json["items"]
    assert [s["service"]["id"] for s in items] == ids
    assert {(s["status"], s["expires_on"], s["granted_directly"]) for s in items} == {
        ("accepted", until, True)
    }
    assert answer.json["event_id"] == items[0]["event_id"]
    events = {e["id"]: e["data"] for e in outbox("subscriptions.subscription.accepted")}
    assert {events[s["event_id"]]["cause"] for s in items} == {"grant"}


def test_granting_a_requested_service_accepts_the_request(
    api, account, admin, make_user, subscribe, services_of
):
    user = make_user(account)
    asked = subscribe(user, "invoice_viewing").json
    answer = api.post(
        f"/internal/accounts/{account['id']}/users/{user['id']}/subscriptions",
        {"service_ids": [services_of(account)["invoice_viewing"]["id"]]},
    )
    assert answer.status_code == 201
    assert answer.json["items"][0]["id"] == asked["id"]
    assert answer.json["items"][0]["status"] == "accepted"


def test_a_grant_is_all_or_nothing(api, account, admin, make_user, services_of, outbox):
    user = make_user(account, password_level=1)
    services = services_of(account)
    path = f"/internal/accounts/{account['id']}/users/{user['id']}/subscriptions"
    before = len(outbox())
    low = api.post(
        path, {"service_ids": [services["view_faqs"]["id"], services["saas_administrator"]["id"]]}
    )
    assert low.status_code == 403 and "moderate (level 2)" in low.json["detail"]
    unknown = api.post(path, {"service_ids": [services["view_faqs"]["id"], "nope"]})
    assert unknown.status_code == 404 and "nope" in unknown.json["detail"]
    held = api.post(
        path, {"service_ids": [services["view_faqs"]["id"], services["community_area"]["id"]]}
    )
    assert held.status_code == 409
    past = api.post(
        path,
        {
            "service_ids": [services["view_faqs"]["id"]],
            "expires_on": (TODAY - timedelta(days=1)).isoformat(),
        },
    )
    assert past.status_code == 422
    assert len(outbox()) == before
    assert "view_faqs" not in {
        s["service"]["code"] for s in api.get(path, per_page=200).json["items"]
    }


def test_granting_to_a_user_of_another_account_is_404(
    api, account, make_account, make_user, services_of
):
    other = make_account()
    stranger = make_user(other)
    answer = api.post(
        f"/internal/accounts/{account['id']}/users/{stranger['id']}/subscriptions",
        {"service_ids": [services_of(account)["view_faqs"]["id"]]},
    )
    assert answer.status_code == 404
    foreign = api.post(
        f"/internal/accounts/{other['id']}/users/{stranger['id']}/subscriptions",
        {"service_ids": [services_of(account)["view_faqs"]["id"]]},
    )
    assert foreign.status_code == 404


# -- ending ------------------------------------------------------------------------------------


def test_a_user_cancels_their_own_subscription(api, account, make_user, subscribe, outbox):
    user = make_user(account)
    held = subscribe(user, "view_faqs").json
    answer = api.delete(f"/internal/users/{user['id']}/subscriptions/{held['id']}")
    assert answer.status_code == 204
    event = outbox("subscriptions.subscription.cancelled")[-1]
    assert answer.headers["X-Portico-Event-Id"] == event["id"]
    assert (event["data"]["cause"], event["data"]["decided_by"]) == ("removal", user["id"])
    assert "view_faqs" not in {
        s["service"]["code"]
        for s in api.get(f"/internal/users/{user['id']}/subscriptions", per_page=200).json["items"]
    }
    assert subscribe(user, "view_faqs").status_code == 201  # and may subscribe again
    again = api.delete(f"/internal/users/{user['id']}/subscriptions/{held['id']}")
    assert again.status_code == 409


def test_a_pending_request_cannot_be_cancelled_and_others_subscriptions_are_404(
    api, account, make_user, subscribe
):
    user, other = make_user(account), make_user(account)
    asked = subscribe(user, "invoice_viewing").json
    pending = api.delete(f"/internal/users/{user['id']}/subscriptions/{asked['id']}")
    assert pending.status_code == 409 and "refuse" in pending.json["detail"]
    assert (
        api.delete(f"/internal/users/{other['id']}/subscriptions/{asked['id']}").status_code == 404
    )


def test_an_administrator_removes_a_subscription(
    api, account, admin, make_user, make_account, subscribe, outbox
):
    user = make_user(account)
    held = subscribe(user, "view_faqs").json
    other = make_account()
    assert (
        api.delete(
            f"/internal/accounts/{other['id']}/users/{user['id']}/subscriptions/{held['id']}"
        ).status_code
        == 404
    )
    answer = api.delete(
        f"/internal/accounts/{account['id']}/users/{user['id']}/subscriptions/{held['id']}",
        actor=admin["id"],
    )
    assert answer.status_code == 204
    assert outbox("subscriptions.subscription.cancelled")[-1]["data"]["decided_by"] == admin["id"]


# -- the last administrator ---------------------------------------------------------------------


def admin_subscription(api, user, account):
    items = api.get(f"/internal/users/{user['id']}/subscriptions", per_page=200).json["items"]
    return next(s for s in items if s["service"]["code"] == f"user_admin:{account['id']}")


def test_the_last_administrator_cannot_cancel_or_be_removed(
    api, account, admin, make_user, services_of
):
    mine = admin_subscription(api, admin, account)
    cancel = api.delete(f"/internal/users/{admin['id']}/subscriptions/{mine['id']}")
    assert cancel.status_code == 409
    assert "at least one administrator" in cancel.json["detail"]
    assert account["number"] in cancel.json["detail"]
    remove = api.delete(
        f"/internal/accounts/{account['id']}/users/{admin['id']}/subscriptions/{mine['id']}"
    )
    assert remove.status_code == 409

    second = make_user(account)
    admin_service = services_of(account)[f"user_admin:{account['id']}"]["id"]
    granted = api.post(
        f"/internal/accounts/{account['id']}/users/{second['id']}/subscriptions",
        {"service_ids": [admin_service]},
        actor=admin["id"],
    )
    assert granted.status_code == 201
    assert granted.json["items"][0]["service"]["administers_account_id"] == account["id"]
    assert (
        api.delete(f"/internal/users/{admin['id']}/subscriptions/{mine['id']}").status_code == 204
    )
    theirs = granted.json["items"][0]["id"]
    assert api.delete(f"/internal/users/{second['id']}/subscriptions/{theirs}").status_code == 409


def test_refusing_the_last_administrators_subscription_is_409(api, account, admin):
    mine = admin_subscription(api, admin, account)
    answer = api.post(requests_path(account, mine["id"], "refuse"), {})
    assert answer.status_code == 409
    assert admin_subscription(api, admin, account)["status"] == "accepted"


def test_a_requested_administration_is_pending_then_accepted(
    api, account, admin, make_user, subscribe, outbox
):
    user = make_user(account)
    asked = subscribe(user, f"user_admin:{account['id']}")
    assert asked.status_code == 202
    accepted = api.post(requests_path(account, asked.json["id"], "accept"), actor=admin["id"])
    assert accepted.status_code == 200
    data = outbox("subscriptions.subscription.accepted")[-1]["data"]
    assert (data["administers_account_id"], data["user_id"]) == (account["id"], user["id"])


def test_a_supervision_subscription_names_the_supervised_child(
    api, account, admin, make_account, make_user, subscribe, outbox
):
    child = make_account(parent=account)
    user = make_user(account)
    asked = subscribe(user, f"user_admin_supervision:{child['id']}")
    assert asked.status_code == 202
    api.post(requests_path(account, asked.json["id"], "accept"), actor=admin["id"])
    data = outbox("subscriptions.subscription.accepted")[-1]["data"]
    assert (data["administers_account_id"], data["supervises"]) == (child["id"], True)
    assert data["account_id"] == account["id"]

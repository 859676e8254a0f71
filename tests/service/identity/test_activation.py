"""Activation: the wizard's data, the three steps at once, single use, expiry, purposes."""

from __future__ import annotations

from datetime import timedelta

from tests.service.identity.conftest import PASSWORD, Driver


def test_the_wizard_reads_the_prefilled_data_and_the_rules_of_the_level(svc):
    account = svc.account()
    user, token = svc.user(account["id"], password_level=3, function="Buyer")
    response = svc.get(f"/internal/activations/{token}")
    assert response.status_code == 200
    data = response.json
    assert {
        k: data[k]
        for k in (
            "email",
            "title",
            "last_name",
            "first_name",
            "language",
            "function",
            "office_phone",
            "mobile_phone",
            "password_level",
        )
    } == {
        "email": user["email"],
        "title": "MME",
        "last_name": "Dupont",
        "first_name": "Lovana",
        "language": "en-US",
        "function": "Buyer",
        "office_phone": None,
        "mobile_phone": None,
        "password_level": 3,
    }
    codes = [rule["code"] for rule in data["password_rules"]]
    assert codes[:3] == ["too_short", "too_long", "too_few_classes"] and "reused" in codes
    assert "at least 10 characters" in data["password_rules"][0]["text"]


def test_activation_completes_the_three_steps_and_the_user_can_sign_in_at_once(svc):
    account = svc.account()
    user, token = svc.user(account["id"])
    body = svc.activation_body(
        title="M",
        last_name="Marks",
        first_name="Steven",
        language="en-GB",
        function="Retail Operations Manager",
        office_phone="020 7946 0958",
    )
    response = svc.post(f"/internal/activations/{token}", body)
    assert response.status_code == 201, response.json
    active = response.json
    assert active["status"] == "active" and active["activated_at"] == "2025-01-01T09:00:00Z"
    assert (active["last_name"], active["first_name"], active["office_phone"]) == (
        "Marks",
        "Steven",
        "+442079460958",
    )
    event = svc.envelopes("identity.user.activated")[-1]
    assert active["event_id"] == event["id"]
    assert event["data"]["user_id"] == user["id"] and event["data"]["status"] == "active"
    assert (
        event["data"]["last_name"] == "Marks"
        and event["data"]["activated_at"] == "2025-01-01T09:00:00Z"
    )
    [stored] = svc.rows("users", id=user["id"])
    assert stored.password_hash.startswith("$argon2id$")
    signed = svc.sign_in(user["email"])
    assert signed.status_code == 200 and signed.json["user"]["id"] == user["id"]


def test_an_activation_link_works_once(svc):
    account = svc.account()
    _, token = svc.user(account["id"])
    assert svc.post(f"/internal/activations/{token}", svc.activation_body()).status_code == 201
    again = svc.post(f"/internal/activations/{token}", svc.activation_body())
    assert again.status_code == 410 and "already been used" in again.json["detail"]
    assert svc.get(f"/internal/activations/{token}").status_code == 410
    assert svc.count("identity.user.activated") == 1


def test_an_activation_link_expires_after_seven_days(svc):
    account = svc.account()
    _, token = svc.user(account["id"])
    svc.clock.advance(timedelta(days=7) - timedelta(seconds=1))
    assert svc.get(f"/internal/activations/{token}").status_code == 200
    svc.clock.advance(timedelta(seconds=1))
    response = svc.post(f"/internal/activations/{token}", svc.activation_body())
    assert response.status_code == 410 and "expired" in response.json["detail"]
    assert svc.count("identity.user.activated") == 0


def test_an_expired_link_is_answered_expired_for_30_days_then_forgotten(svc):
    from services.identity.service_layer.links import forget_old_links

    account = svc.account()
    _, old = svc.user(account["id"])  # expires on day 7
    svc.clock.advance(timedelta(days=20))
    _, recent = svc.user(account["id"])  # expires on day 27

    def sweep() -> int:
        with svc.part.uow() as uow:
            gone = forget_old_links(uow)
            uow.commit()
        return gone

    svc.clock.advance(timedelta(days=17))  # day 37: the old link expired 30 days ago, still said so
    assert sweep() == 0
    assert svc.get(f"/internal/activations/{old}").status_code == 410
    svc.clock.advance(timedelta(seconds=1))
    assert sweep() == 1
    assert svc.get(f"/internal/activations/{old}").status_code == 404  # now simply unknown
    assert (
        svc.get(f"/internal/activations/{recent}").status_code == 410
    )  # expired 10 days ago: kept
    assert len(svc.rows("tokens")) == 1


def test_the_activation_lifetime_is_a_setting(make_part):
    svc = Driver(make_part(PORTICO_ACTIVATION_DAYS="2"))
    _, token = svc.user(svc.account()["id"])
    assert svc.last("identity.link.issued")["expires_at"] == "2025-01-03T09:00:00Z"
    svc.clock.advance(timedelta(days=2))
    assert svc.get(f"/internal/activations/{token}").status_code == 410


def test_unknown_tokens_and_tokens_of_another_purpose_are_not_found(svc):
    account = svc.account()
    user = svc.active_user(account["id"])
    assert svc.get("/internal/activations/not-a-token").status_code == 404
    svc.post("/internal/password-resets", {"email": user["email"]})
    reset_token = svc.token_of(user["id"], "reset")
    assert svc.get(f"/internal/activations/{reset_token}").status_code == 404
    assert (
        svc.post(f"/internal/activations/{reset_token}", svc.activation_body()).status_code == 404
    )
    assert svc.post(f"/internal/email-changes/{reset_token}").status_code == 404
    _, activation_token = svc.user(account["id"])
    assert (
        svc.post(
            f"/internal/password-resets/{activation_token}", {"password": "An0ther-Secret!"}
        ).status_code
        == 404
    )


def test_a_password_breaking_the_rules_is_refused_with_every_rule_named(svc):
    account = svc.account()
    _, token = svc.user(account["id"], password_level=3)
    response = svc.post(f"/internal/activations/{token}", svc.activation_body(password="dupont"))
    assert response.status_code == 422
    messages = response.json["errors"]["password"]
    assert any("at least 10 characters" in m for m in messages)
    assert any("first or last name" in m for m in messages)
    assert any("kinds of characters" in m for m in messages)
    # the names checked are those typed in the wizard
    body = svc.activation_body(password="Steven-Rocks-2025", first_name="Steven")
    refused = svc.post(f"/internal/activations/{token}", body)
    assert refused.status_code == 422 and "password" in refused.json["errors"]
    assert svc.count("identity.user.activated") == 0
    assert svc.get(f"/internal/activations/{token}").status_code == 200  # not spent


def test_wizard_fields_are_checked_with_the_password(svc):
    _, token = svc.user(svc.account()["id"])
    body = svc.activation_body(title="Sir", language="", office_phone="42", colour="red")
    del body["password"]
    response = svc.post(f"/internal/activations/{token}", body)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {
        "title",
        "language",
        "office_phone",
        "colour",
        "password",
    }


def test_a_weak_level_accepts_what_a_strong_one_refuses(svc):
    account = svc.account()
    _, weak = svc.user(account["id"], password_level=1)
    assert (
        svc.post(
            f"/internal/activations/{weak}", svc.activation_body(password="Summer-25")
        ).status_code
        == 201
    )
    _, strong = svc.user(account["id"], password_level=3)
    assert (
        svc.post(
            f"/internal/activations/{strong}", svc.activation_body(password="Summer-25")
        ).status_code
        == 422
    )


def test_activation_clears_failures_typed_before_it(svc):
    user, token = svc.user(svc.account()["id"])
    for _ in range(5):
        svc.sign_in(user["email"], "guess")
    assert svc.sign_in(user["email"]).status_code == 423
    assert svc.post(f"/internal/activations/{token}", svc.activation_body()).status_code == 201
    assert svc.sign_in(user["email"], PASSWORD).status_code == 200

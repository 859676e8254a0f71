"""Client accounts, the operator's administrators, and the API's guards (token, bad bodies)."""

from __future__ import annotations


def test_the_internal_api_needs_the_service_token(svc):
    response = svc.client.get("/internal/accounts/by-number/1")
    assert response.status_code == 401
    assert svc.client.get("/healthz").status_code == 200


def test_an_account_is_created_and_announced(svc):
    response = svc.post(
        "/internal/accounts", {"number": "90293531", "name": "Retail IT Limited"}, actor="operator"
    )
    assert response.status_code == 201
    account = response.json
    assert (
        account["number"] == "90293531"
        and account["parent_id"] is None
        and account["relation"] is None
    )
    envelope = svc.envelopes("identity.account.created")[-1]
    assert account["event_id"] == envelope["id"]
    assert envelope["data"] == {
        "account_id": account["id"],
        "number": "90293531",
        "name": "Retail IT Limited",
        "parent_id": None,
        "relation": None,
    }
    assert envelope["account_id"] == account["id"]
    assert svc.get("/internal/accounts/by-number/90293531").json["id"] == account["id"]
    assert svc.get(f"/internal/accounts/{account['id']}").json["number"] == "90293531"


def test_an_associate_account_is_linked_to_its_parent(svc):
    parent = svc.account(number="90293531")
    child = svc.post(
        "/internal/accounts",
        {
            "number": "90293532",
            "name": "Shop London",
            "parent_number": "90293531",
            "relation": "shop",
        },
    ).json
    assert child["parent_id"] == parent["id"] and child["relation"] == "shop"
    linked = svc.last("identity.account.linked")
    assert linked["account_id"] == child["id"]
    assert linked["parent_number"] == "90293531" and linked["relation"] == "shop"
    default = svc.post(
        "/internal/accounts", {"number": "90293533", "name": "Sub", "parent_number": "90293531"}
    ).json
    assert default["relation"] == "subsidiary"


def test_a_taken_number_is_a_conflict_and_an_unknown_parent_is_invalid(svc):
    svc.account(number="123")
    assert svc.post("/internal/accounts", {"number": "123", "name": "Other"}).status_code == 409
    response = svc.post(
        "/internal/accounts", {"number": "124", "name": "X", "parent_number": "999"}
    )
    assert response.status_code == 422
    assert "parent_number" in response.json["errors"]
    assert svc.count("identity.account.created") == 1


def test_unknown_accounts_are_not_found(svc):
    assert svc.get("/internal/accounts/by-number/404").status_code == 404
    assert svc.get("/internal/accounts/no-such-id").status_code == 404
    assert svc.get("/internal/accounts/no-such-id/users").status_code == 404
    body = {
        "email": "a@example.com",
        "title": "M",
        "last_name": "A",
        "first_name": "B",
        "language": "en-US",
        "password_level": 1,
    }
    assert svc.post("/internal/accounts/no-such-id/users", body).status_code == 404


def test_bad_bodies_answer_422_per_field_and_write_nothing(svc):
    malformed = svc.client.post(
        "/internal/accounts",
        data="{not json",
        headers={**svc.headers, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 422
    assert malformed.mimetype == "application/problem+json"
    assert "body" in malformed.json["errors"]
    unknown = svc.post("/internal/accounts", {"number": "1", "name": "A", "colour": "red"})
    assert unknown.status_code == 422 and "colour" in unknown.json["errors"]
    missing = svc.post("/internal/accounts", {"number": "1 2"})
    assert set(missing.json["errors"]) == {"number", "name"}
    not_object = svc.post("/internal/accounts", [1, 2])
    assert not_object.status_code == 422
    assert svc.count("identity.account.created") == 0


def test_the_operator_creates_an_administrator_with_an_activation_link(svc):
    account = svc.account(number="777")
    body = {
        "email": "Boss@Example.com",
        "title": "M",
        "last_name": "Hughes",
        "first_name": "Mark",
        "language": "en-GB",
    }
    response = svc.post("/internal/accounts/by-number/777/administrators", body, actor="operator")
    assert response.status_code == 201, response.json
    user = response.json
    assert user["email"] == "boss@example.com" and user["status"] == "pending_activation"
    assert user["password_level"] == 2  # the default for administrators
    created = svc.envelopes("identity.user.created")[-1]
    assert user["event_id"] == created["id"]
    assert created["data"]["source"] == "operator"
    assert created["data"]["grant_administration"] is True
    assert created["data"]["created_by"] == "operator"
    assert created["data"]["account_id"] == account["id"]
    link = svc.last("identity.link.issued")
    assert link["purpose"] == "activation" and link["recipient"] == "boss@example.com"
    assert link["link_url"].startswith("https://portal.example/activate/")
    again = svc.post("/internal/accounts/by-number/777/administrators", body, actor="operator")
    assert again.status_code == 409 and again.json["detail"] == "The user already exists"
    assert svc.post("/internal/accounts/by-number/778/administrators", body).status_code == 404

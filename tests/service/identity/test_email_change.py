"""E-mail change: the link goes to the new address; the login changes only when it is clicked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.service.identity.conftest import PASSWORD


@pytest.fixture
def user(svc):
    return svc.active_user(svc.account()["id"], email="old@example.com")


def test_the_link_goes_to_the_new_address_and_nothing_changes_yet(svc, user):
    response = svc.post(
        f"/internal/users/{user['id']}/email-change", {"new_email": "New@Example.com"}
    )
    assert response.status_code == 202
    envelope = svc.envelopes("identity.link.issued")[-1]
    assert response.json["event_id"] == envelope["id"]
    link = envelope["data"]
    assert link["purpose"] == "email_change" and link["recipient"] == "new@example.com"
    assert link["old_email"] == "old@example.com"
    assert link["link_url"].startswith("https://portal.example/confirm-email/")
    assert link["expires_at"] == "2025-01-02T09:00:00Z"
    assert svc.get(f"/internal/users/{user['id']}").json["email"] == "old@example.com"
    assert svc.count("identity.email.changed") == 0


def test_confirming_changes_the_login(svc, user):
    svc.post(f"/internal/users/{user['id']}/email-change", {"new_email": "new@example.com"})
    token = svc.token_of(user["id"], "email_change")
    assert svc.post(f"/internal/email-changes/{token}").status_code == 204
    assert svc.last("identity.email.changed") == {
        "user_id": user["id"],
        "account_id": user["account_id"],
        "old_email": "old@example.com",
        "new_email": "new@example.com",
    }
    me = svc.get(f"/internal/users/{user['id']}").json
    assert me["email"] == "new@example.com" and me["account"]["id"] == user["account_id"]
    assert svc.sign_in("old@example.com").status_code == 401
    assert svc.sign_in("new@example.com", PASSWORD).status_code == 200
    assert svc.post(f"/internal/email-changes/{token}").status_code == 410


def test_a_taken_address_is_a_conflict_at_request_and_at_confirmation(svc, user):
    other, _ = svc.user(user["account_id"], email="taken@example.com")
    assert (
        svc.post(
            f"/internal/users/{user['id']}/email-change", {"new_email": "TAKEN@example.com"}
        ).status_code
        == 409
    )
    svc.post(f"/internal/users/{user['id']}/email-change", {"new_email": "later@example.com"})
    token = svc.token_of(user["id"], "email_change")
    svc.user(user["account_id"], email="later@example.com")  # someone got it meanwhile
    assert svc.post(f"/internal/email-changes/{token}").status_code == 409


def test_bad_requests(svc, user):
    path = f"/internal/users/{user['id']}/email-change"
    assert svc.post(path, {"new_email": "nope"}).json["errors"].keys() == {"new_email"}
    assert svc.post(path, {"new_email": "old@example.com"}).status_code == 422
    assert svc.post(path, {}).status_code == 422
    assert (
        svc.post("/internal/users/unknown/email-change", {"new_email": "a@example.com"}).status_code
        == 404
    )
    assert svc.get("/internal/users/unknown").status_code == 404
    assert svc.patch("/internal/users/unknown", {"function": "x"}).status_code == 404
    assert (
        svc.post(
            "/internal/users/unknown/password", {"current_password": "a", "new_password": "b"}
        ).status_code
        == 404
    )


def test_the_confirmation_link_expires(svc, user):
    svc.post(f"/internal/users/{user['id']}/email-change", {"new_email": "new@example.com"})
    token = svc.token_of(user["id"], "email_change")
    svc.clock.advance(timedelta(hours=24))
    assert svc.post(f"/internal/email-changes/{token}").status_code == 410
    assert svc.post("/internal/email-changes/garbage").status_code == 404


def test_the_user_edits_their_profile(svc, user):
    path = f"/internal/users/{user['id']}"
    response = svc.patch(
        path, {"function": "CTO", "mobile_phone": "06 12 34 56 78", "language": "fr-FR"}
    )
    assert response.status_code == 200, response.json
    assert response.json["mobile_phone"] == "+33612345678"
    assert svc.last("identity.user.updated")["changed"] == ["function", "language", "mobile_phone"]
    # national numbers are read in the user's country when the language is not in the body
    assert (
        svc.patch(path, {"office_phone": "01 23 45 67 89"}).json["office_phone"] == "+33123456789"
    )
    refused = svc.patch(path, {"password_level": 1, "email": "x@example.com"})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"password_level", "email"}
    assert svc.patch(path, {"last_name": ""}).json["errors"] == {
        "last_name": ["The last name is required."]
    }

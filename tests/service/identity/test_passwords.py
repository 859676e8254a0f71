"""Forgotten password, reset links, changing one's password, and the history of 24."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.service.identity.conftest import PASSWORD

NEW = "Green-Teapot-Hums-8"


@pytest.fixture
def user(svc):
    return svc.active_user(svc.account()["id"])


def test_a_reset_request_answers_the_same_whatever_the_address(svc, user):
    pending, _ = svc.user(user["account_id"])
    answers = [
        svc.post("/internal/password-resets", {"email": email})
        for email in (user["email"], "nobody@example.com", pending["email"], "not an address")
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.get_data() for a in answers}) == 1
    assert "If this address is known" in answers[0].json["detail"]
    link = svc.envelopes("identity.link.issued")[-2]["data"]
    assert link["purpose"] == "reset" and link["recipient"] == user["email"]
    assert link["link_url"].startswith("https://portal.example/reset-password/")
    assert link["expires_at"] == "2025-01-01T10:00:00Z"
    # a user never activated gets a new activation link instead
    resent = svc.last("identity.link.issued")
    assert resent["purpose"] == "activation" and resent["resent"] is True
    assert resent["user_id"] == pending["id"]


def test_at_most_one_reset_e_mail_per_address_per_five_minutes(svc, user):
    before = svc.count("identity.link.issued")
    for _ in range(3):
        assert svc.post("/internal/password-resets", {"email": user["email"]}).status_code == 202
    assert svc.count("identity.link.issued") == before + 1
    svc.clock.advance(timedelta(minutes=5))
    svc.post("/internal/password-resets", {"email": user["email"].upper()})
    assert svc.count("identity.link.issued") == before + 2


def test_a_reset_sets_the_password_and_ends_other_sessions(svc, user):
    svc.post("/internal/password-resets", {"email": user["email"]})
    token = svc.token_of(user["id"], "reset")
    response = svc.post(f"/internal/password-resets/{token}", {"password": NEW})
    assert response.status_code == 204
    assert svc.last("identity.password.changed") == {
        "user_id": user["id"],
        "account_id": user["account_id"],
        "via": "reset",
    }
    assert svc.sign_in(user["email"], PASSWORD).status_code == 401
    assert svc.sign_in(user["email"], NEW).status_code == 200
    assert (
        svc.post(f"/internal/password-resets/{token}", {"password": "Other-Teapot-9"}).status_code
        == 410
    )


def test_a_reset_link_expires_after_an_hour(svc, user):
    svc.post("/internal/password-resets", {"email": user["email"]})
    token = svc.token_of(user["id"], "reset")
    svc.clock.advance(timedelta(hours=1))
    response = svc.post(f"/internal/password-resets/{token}", {"password": NEW})
    assert response.status_code == 410 and "expired" in response.json["detail"]


def test_a_newer_reset_link_replaces_the_older(svc, user):
    svc.post("/internal/password-resets", {"email": user["email"]})
    old = svc.token_of(user["id"], "reset")
    svc.clock.advance(timedelta(minutes=6))
    svc.post("/internal/password-resets", {"email": user["email"]})
    response = svc.post(f"/internal/password-resets/{old}", {"password": NEW})
    assert response.status_code == 410 and "newer" in response.json["detail"]


def test_a_reset_ends_a_lock(svc, user):
    for _ in range(5):
        svc.sign_in(user["email"], "wrong")
    assert svc.sign_in(user["email"]).status_code == 423
    svc.post("/internal/password-resets", {"email": user["email"]})
    svc.post(f"/internal/password-resets/{svc.token_of(user['id'], 'reset')}", {"password": NEW})
    assert svc.last("identity.user.unlocked")["by"] is None
    assert svc.sign_in(user["email"], NEW).status_code == 200


def test_a_reset_password_must_follow_the_rules(svc, user):
    svc.post("/internal/password-resets", {"email": user["email"]})
    token = svc.token_of(user["id"], "reset")
    response = svc.post(f"/internal/password-resets/{token}", {"password": "short"})
    assert response.status_code == 422
    assert any("at least 8 characters" in m for m in response.json["errors"]["password"])
    reused = svc.post(f"/internal/password-resets/{token}", {"password": PASSWORD})
    assert reused.status_code == 422
    assert any("last 24 passwords" in m for m in reused.json["errors"]["password"])
    assert svc.post(f"/internal/password-resets/{token}", {"password": NEW}).status_code == 204


def test_changing_ones_password(svc, user):
    path = f"/internal/users/{user['id']}/password"
    wrong = svc.post(path, {"current_password": "nope", "new_password": NEW})
    assert wrong.status_code == 422 and "current_password" in wrong.json["errors"]
    assert svc.post(path, {"current_password": PASSWORD, "new_password": "abc"}).status_code == 422
    assert svc.post(path, {"current_password": PASSWORD, "new_password": NEW}).status_code == 204
    assert svc.last("identity.password.changed")["via"] == "change"
    assert svc.sign_in(user["email"], NEW).status_code == 200
    audits = svc.get(f"/internal/users/{user['id']}/audits").json["items"]
    assert [a["result"] for a in audits if a["action"] == "password_change"] == [
        "succeeded",
        "wrong_current_password",
    ]


def test_none_of_the_last_24_passwords_comes_back(svc, user):
    path = f"/internal/users/{user['id']}/password"
    current = PASSWORD
    for n in range(24):
        new = f"Rotating-Secret-{n:02d}!"
        assert svc.post(path, {"current_password": current, "new_password": new}).status_code == 204
        current = new
    # 25 passwords so far: the first has left the history of 24, the second has not
    refused = svc.post(path, {"current_password": current, "new_password": "Rotating-Secret-00!"})
    assert refused.status_code == 422 and "new_password" in refused.json["errors"]
    assert (
        svc.post(path, {"current_password": current, "new_password": PASSWORD}).status_code == 204
    )
    assert len(svc.rows("password_history", user_id=user["id"])) == 24


def test_the_nist_profile_keeps_no_history(make_part):
    from tests.service.identity.conftest import Driver

    svc = Driver(make_part(PORTICO_PASSWORD_PROFILE="nist"))
    user = svc.active_user(svc.account()["id"], password="correct horse battery")
    path = f"/internal/users/{user['id']}/password"
    body = {"current_password": "correct horse battery", "new_password": "correct horse battery"}
    assert svc.post(path, body).status_code == 204

"""Subscriptions answers its problems in the caller's language (Accept-Language, passed on by
the gateway), each with its stable `code`."""

from __future__ import annotations

import pytest

FR = {"Authorization": "Bearer dev-service-token", "Accept-Language": "fr"}


@pytest.fixture
def account(make_account):
    return make_account()


def test_a_level_too_low_is_explained_in_french(api, account, make_user, services_of):
    user = make_user(account, password_level=1)
    service_id = services_of(account)["saas_administrator"]["id"]
    answer = api.client.post(
        f"/internal/users/{user['id']}/subscriptions", json={"service_id": service_id}, headers=FR
    )
    assert answer.status_code == 403
    assert answer.json["code"] == "password_level_too_low"
    assert "demande un mot de passe moyen (niveau 2)" in answer.json["detail"]
    assert "le vôtre est faible (niveau 1)" in answer.json["detail"]
    english = api.post(f"/internal/users/{user['id']}/subscriptions", {"service_id": service_id})
    assert "needs a moderate (level 2) password" in english.json["detail"]


def test_a_request_already_waiting_is_refused_in_french(api, account, make_user, services_of):
    user = make_user(account, password_level=3)
    service_id = services_of(account)["saas_administrator"]["id"]
    path = f"/internal/users/{user['id']}/subscriptions"
    first = api.post(path, {"service_id": service_id})
    assert first.status_code in (201, 202), first.json
    again = api.client.post(path, json={"service_id": service_id}, headers=FR)
    assert again.status_code == 409
    assert again.json["code"] == "already_subscribed"
    assert again.json["detail"].startswith(("Une demande pour « ", "Vous avez déjà « "))


def test_an_unknown_user_is_a_french_404_with_its_code(api):
    answer = api.client.get("/internal/users/nobody/subscriptions", headers=FR)
    assert answer.status_code == 404
    assert answer.json["code"] == "user.not_found"
    assert answer.json["detail"] == "Cet utilisateur est inconnu dans ce compte."

"""The caller's language from end to end, through the gateway in front of the real services
(embedded mode): identity's refusals come back in French, with their code, to a browser that asks
for French before sign-in and to a user whose profile says French whatever the browser says."""

from __future__ import annotations

import io

import pytest

from portico import demo
from portico.runtime import Embedded


@pytest.fixture
def embedded(tmp_path, prefix):
    instance = Embedded(tmp_path, {"PORTICO_BUS_PREFIX": prefix}).build().start()
    assert demo.load_once(instance, io.StringIO())
    yield instance
    instance.stop.set()


def test_identity_s_refusals_reach_the_caller_in_their_language(embedded):
    client = embedded.gateway.test_client()
    email = demo.ADMINS["90293531"]["email"]
    wrong = client.post(
        "/api/v1/session",
        json={"email": email, "password": "not-the-password"},
        headers={"Accept-Language": "fr-FR"},
    )
    assert wrong.status_code == 401
    assert wrong.get_json()["code"] == "sign_in.failed"
    assert wrong.get_json()["detail"].startswith("L'adresse e-mail ou le mot de passe")

    olivier = demo.ADMINS["90293532"]  # his profile says fr-FR
    signed_in = client.post(
        "/api/v1/session", json={"email": olivier["email"], "password": demo.PASSWORD}
    )
    headers = {"Authorization": f"Bearer {signed_in.get_json()['token']}"}
    assert client.get("/api/v1/me", headers=headers).get_json()["language"] == "fr-FR"

    english_browser = {**headers, "Accept-Language": "en-GB"}  # the profile wins
    answer = client.patch("/api/v1/me", json={"mobile_phone": "12"}, headers=english_browser)
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["code"] == "validation.phone_invalid"
    assert body["errors"]["mobile_phone"][0].startswith(
        "Nous ne savons pas lire ce numéro de téléphone"
    )
    assert body["detail"].startswith("Certains champs ne sont pas valides")

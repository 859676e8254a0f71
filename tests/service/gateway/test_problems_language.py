"""The gateway answers in its caller's language: the signed-in user's profile language, else
Accept-Language. It says so to the services it calls (Accept-Language on every internal call),
so their problems come back in that language, and it passes their `code` on unchanged."""

from __future__ import annotations

from tests.service.gateway.conftest import bearer, new_id


def languages_sent(gw, path):
    return [c.headers.get("Accept-Language") for c in gw.identity.calls if c.path == path]


def test_before_sign_in_the_browser_language_is_used_and_passed_on(gw):
    user = gw.user(gw.account())
    wrong = {"email": user["email"], "password": "not-it"}
    answer = gw.client.post("/api/v1/session", json=wrong, headers={"Accept-Language": "fr-CA"})
    assert answer.status_code == 401
    assert languages_sent(gw, "/internal/sign-in") == ["fr"]
    gw.client.post("/api/v1/session", json=wrong)
    assert languages_sent(gw, "/internal/sign-in")[-1] == "en"


def test_the_gateway_s_own_problems_come_in_french_with_their_code(gw):
    answer = gw.client.get("/api/v1/me", headers={"Accept-Language": "fr"})
    assert answer.status_code == 401
    assert answer.get_json()["code"] == "auth.required"
    assert answer.get_json()["detail"].startswith("Connectez-vous d'abord (POST /api/v1/session)")
    english = gw.client.get("/api/v1/me")
    assert english.get_json()["detail"].startswith("Sign in first (POST /api/v1/session)")
    assert english.get_json()["code"] == "auth.required"


def test_a_signed_in_user_gets_their_profile_language_whatever_the_browser_says(gw):
    user = gw.user(gw.account(), language="fr-FR")
    headers = {**bearer(gw.sign_in(user)), "Accept-Language": "en-GB"}
    assert gw.client.get("/api/v1/me", headers=headers).status_code == 200  # profile kept
    answer = gw.client.get(f"/api/v1/accounts/{new_id()}/users", headers=headers)
    assert answer.status_code == 404
    assert answer.get_json()["code"] == "account.not_found"
    assert answer.get_json()["detail"] == (
        "Aucun des comptes que vous administrez n'a cet identifiant."
    )
    gw.identity.on(
        "PATCH",
        "/internal/users/{user_id}",
        lambda user_id: (
            {
                "type": "about:blank",
                "title": "Unprocessable Content",
                "status": 422,
                "code": "validation.phone_invalid",
                "detail": "Certains champs ne sont pas valides ; voyez errors pour savoir quoi changer.",
                "errors": {"mobile_phone": ["Nous ne savons pas lire ce numéro de téléphone."]},
            },
            422,
        ),
    )
    patched = gw.client.patch("/api/v1/me", json={"mobile_phone": "12"}, headers=headers)
    assert patched.status_code == 422
    assert languages_sent(gw, f"/internal/users/{user['id']}")[-1] == "fr"
    body = patched.get_json()
    assert body["code"] == "validation.phone_invalid"
    assert body["errors"]["mobile_phone"] == ["Nous ne savons pas lire ce numéro de téléphone."]

"""Identity answers its problems in the caller's language (Accept-Language, passed on by the
gateway), each with its stable `code`; without French asked, the English text is unchanged."""

from __future__ import annotations

import pytest

FR = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


@pytest.fixture
def account(svc):
    return svc.account()


def post(svc, path, body, headers=None):
    return svc.client.post(path, json=body, headers={**svc.headers, **(headers or {})})


def user_body(**fields):
    return {
        "email": "ldupont@company.ws",
        "title": "MME",
        "last_name": "Dupont",
        "first_name": "Lovana",
        "language": "fr-FR",
        "password_level": 3,
        **fields,
    }


def test_a_phone_number_we_cannot_read_is_refused_in_french_with_its_code(svc, account):
    path = f"/internal/accounts/{account['id']}/users"
    answer = post(svc, path, user_body(mobile_phone="12"), FR)
    assert answer.status_code == 422
    assert answer.json["code"] == "validation.phone_invalid"
    assert answer.json["errors"]["mobile_phone"][0].startswith(
        "Nous ne savons pas lire ce numéro de téléphone"
    )
    assert answer.json["detail"].startswith("Certains champs ne sont pas valides")
    english = post(svc, path, user_body(mobile_phone="12"))
    assert english.json["errors"]["mobile_phone"][0].startswith(
        "This is not a phone number we can read"
    )
    assert english.json["code"] == "validation.phone_invalid"


def test_several_wrong_fields_each_say_what_is_wrong_in_french(svc, account):
    path = f"/internal/accounts/{account['id']}/users"
    answer = post(svc, path, user_body(last_name="", title="X"), FR)
    assert answer.status_code == 422
    assert answer.json["code"] == "validation.failed"
    assert answer.json["errors"]["last_name"] == ["Le champ « nom » est obligatoire."]
    assert answer.json["errors"]["title"][0].startswith("Le champ « civilité » doit valoir")


def test_the_address_already_used_is_refused_in_french(svc, account):
    path = f"/internal/accounts/{account['id']}/users"
    assert post(svc, path, user_body()).status_code == 201
    answer = post(svc, path, user_body(), FR)
    assert answer.status_code == 409
    assert answer.json["code"] == "user.email_taken"
    assert answer.json["detail"] == "L'utilisateur existe déjà"


def test_a_failed_sign_in_is_told_in_french(svc, account):
    user = svc.active_user(account["id"])
    body = {"email": user["email"], "password": "not-it", "ip": "192.0.2.7", "user_agent": "t"}
    answer = post(svc, "/internal/sign-in", body, FR)
    assert answer.status_code == 401
    assert answer.json["code"] == "sign_in.failed"
    assert answer.json["detail"].startswith("L'adresse e-mail ou le mot de passe n'est pas le bon")


def test_the_password_rules_broken_are_listed_in_french(svc, account):
    user, token = svc.user(account["id"])
    names = {name: user[name] for name in ("title", "last_name", "first_name", "language")}
    answer = post(svc, f"/internal/activations/{token}", svc.activation_body("court", **names), FR)
    assert answer.status_code == 422
    rules = answer.json["errors"]["password"]
    assert "Le mot de passe doit compter au moins 8 caractères." in rules
    assert answer.json["detail"].startswith("Certains champs ne sont pas valides")
    assert answer.json["code"] in ("password.too_short", "validation.failed")


def test_an_unknown_link_is_explained_in_french(svc):
    answer = svc.client.get("/internal/activations/not-a-token", headers={**svc.headers, **FR})
    assert answer.status_code == 404
    assert answer.json["code"] == "link.unknown"
    assert answer.json["detail"].startswith("Nous ne connaissons pas ce lien d'activation.")


def test_a_new_password_that_breaks_the_rules_is_refused_in_french(svc, account):
    user = svc.active_user(account["id"])
    svc.post("/internal/password-resets", {"email": user["email"]})
    token = svc.token_of(user["id"], "reset")
    answer = post(svc, f"/internal/password-resets/{token}", {"password": "court"}, FR)
    assert answer.status_code == 422
    assert answer.json["detail"].startswith("Le mot de passe ne respecte pas les règles : ")
    assert "Le mot de passe doit compter au moins" in answer.json["detail"]
    assert answer.json["errors"]["password"][0].startswith("Le mot de passe ")
    assert answer.json["code"] in ("password.too_short", "password.rules_broken")


def test_the_activation_wizard_words_the_password_rules_in_french(svc, account):
    _, token = svc.user(account["id"])
    answer = svc.client.get(f"/internal/activations/{token}", headers={**svc.headers, **FR})
    assert answer.status_code == 200
    rules = {rule["code"]: rule for rule in answer.json["password_rules"]}
    assert rules["too_short"]["text"] == (
        f"Le mot de passe doit compter au moins {rules['too_short']['value']} caractères."
    )
    english = svc.get(f"/internal/activations/{token}").json["password_rules"]
    assert english[0]["text"].startswith("The password must")

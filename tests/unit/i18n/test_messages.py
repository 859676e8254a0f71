"""The kit of bus.i18n and the problem shape: a marked message reads as English, is translated
at the edge into the request's language, and every problem carries a stable `code`."""

from __future__ import annotations

from flask import Flask

from bus import i18n
from bus.http import Problem, install_problem_handlers
from bus.i18n import _l, joined


def french(msgid: str) -> str:
    return {
        "The {label} is required.": "Le champ « {label} » est obligatoire.",
        "last name": "nom",
        "first name": "prénom",
    }.get(msgid, msgid)


def test_a_marked_message_reads_as_its_english_text_and_keeps_its_code():
    message = _l("The {label} is required.", code="validation.required", label=_l("last name"))
    assert message == "The last name is required."
    assert message.code == "validation.required"
    assert i18n.localise(message, french) == "Le champ « nom » est obligatoire."


def test_messages_joined_are_each_translated():
    both = joined([_l("last name"), _l("first name")], ", ")
    assert both == "last name, first name"
    assert i18n.localise(both, french) == "nom, prénom"


def test_a_problem_takes_the_code_of_its_detail_or_of_its_fields_or_of_its_status():
    assert (
        Problem(409, "Conflict", _l("Taken.", code="user.email_taken")).code == "user.email_taken"
    )
    phone = _l("Not a phone number.", code="validation.phone_invalid")
    assert Problem(422, "Unprocessable", "Fix it.", errors={"mobile_phone": [phone]}).code == (
        "validation.phone_invalid"
    )
    two = {"a": [phone], "b": [_l("Too long.", code="validation.too_long")]}
    assert Problem(422, "Unprocessable", "Fix it.", errors=two).code == "validation.failed"
    assert Problem(404, "Not Found", "Nothing here.").code == "not_found"
    assert Problem(409, "Conflict", "x", code="given").to_dict()["code"] == "given"


def app_with_a_refusal() -> Flask:
    app = Flask(__name__)
    install_problem_handlers(app)  # the bus catalog (this app's package has none)

    @app.get("/refuse")
    def refuse():
        raise Problem(
            422,
            "Unprocessable Content",
            _l("Some fields are not valid; see errors for what to change."),
            errors={"count": ["Not a valid integer."]},  # marshmallow's own, formatted text
        )

    return app


def test_the_answer_is_in_the_language_the_caller_accepts():
    client = app_with_a_refusal().test_client()
    french_answer = client.get("/refuse", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert french_answer.json["detail"].startswith("Certains champs ne sont pas valides")
    assert french_answer.json["errors"] == {"count": ["Ce n'est pas un nombre entier valide."]}
    assert french_answer.json["code"] == "validation.failed"
    english = client.get("/refuse", headers={"Accept-Language": "de, en;q=0.5"})
    assert english.json["detail"] == "Some fields are not valid; see errors for what to change."
    assert english.json["errors"] == {"count": ["Not a valid integer."]}
    assert client.get("/refuse").json["detail"].startswith("Some fields")


def test_the_service_token_refusal_comes_in_french():
    app = Flask(__name__)
    install_problem_handlers(app)
    from bus.http import require_service_token

    require_service_token(app, "x" * 32)
    answer = app.test_client().get("/anything", headers={"Accept-Language": "fr"})
    assert answer.status_code == 401
    assert answer.json["code"] == "auth.service_token"
    assert answer.json["detail"] == "Cette API interne demande le jeton de service."

"""The links sent by e-mail, opened: activation (/internal/activations/{token}) and password
reset (/internal/password-resets, /internal/password-resets/{token})."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from bus.i18n import localise
from services.identity.entrypoints import schemas
from services.identity.entrypoints.common import created, no_content, run
from services.identity.service_layer import activation, passwords

bp = Blueprint("links", __name__, url_prefix="/internal")


@bp.get("/activations/<token>")
def read_activation(token: str) -> ResponseReturnValue:
    """The wizard's fields, and the password rules worded in the caller's language."""
    answer = run(activation.read_activation, token)
    answer["password_rules"] = [
        {**rule, "text": localise(rule["text"])} for rule in answer["password_rules"]
    ]
    return jsonify(answer)


@bp.post("/activations/<token>")
def activate_user(token: str) -> ResponseReturnValue:
    return created(*run(activation.activate_user, token, schemas.load(schemas.ActivationIn)))


@bp.post("/password-resets")
def request_password_reset() -> ResponseReturnValue:
    body = schemas.load(schemas.ResetRequestIn)
    answer = run(
        passwords.request_password_reset,
        body["email"],
        ip=body["ip"],
        user_agent=body["user_agent"],
    )
    return jsonify(answer), 202


@bp.post("/password-resets/<token>")
def reset_password(token: str) -> ResponseReturnValue:
    run(passwords.reset_password, token, schemas.load(schemas.PasswordIn)["password"])
    return no_content()

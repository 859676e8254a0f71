"""/internal/sign-in: an e-mail and a password checked; 401 and 423 answered alike for every address."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from bus.http import Problem
from services.identity.domain import model
from services.identity.entrypoints import schemas
from services.identity.entrypoints.common import run
from services.identity.service_layer import sign_in

bp = Blueprint("sign_in", __name__, url_prefix="/internal")


@bp.post("/sign-in")
def sign_in_user() -> ResponseReturnValue:
    body = schemas.load(schemas.SignInIn)
    result = run(
        sign_in.sign_in,
        body["email"],
        body["password"],
        ip=body["ip"],
        user_agent=body["user_agent"],
    )
    if result.outcome == "ok":
        return jsonify(user=result.user, password_change_required=result.password_change_required)
    if result.outcome == "locked":
        raise Problem(423, "Locked", _locked_message())
    raise Problem(401, "Unauthorized", model.SIGN_IN_FAILED)


def _locked_message() -> str:
    try:
        model.ensure_can_sign_in(model.UserStatus.LOCKED)
    except model.SignInRefused as refusal:
        return refusal.message
    raise AssertionError("a locked status must refuse the sign-in")  # pragma: no cover

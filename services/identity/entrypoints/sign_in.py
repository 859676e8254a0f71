"""/internal/sign-in: an e-mail and a password checked; 401 and 423 answered alike for every address."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from services.identity.entrypoints import schemas
from services.identity.entrypoints.common import run
from services.identity.entrypoints.mfa import sign_in_answer
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
    return sign_in_answer(result)  # 200 signed in or a second factor due, 401, 423

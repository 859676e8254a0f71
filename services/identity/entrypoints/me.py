"""/internal/users/{user_id}: the signed-in user's profile (with their account) and password."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from services.identity.entrypoints import schemas
from services.identity.entrypoints.common import created, no_content, run
from services.identity.service_layer import passwords, users

bp = Blueprint("me", __name__, url_prefix="/internal/users/<user_id>")


@bp.get("")
def get_me(user_id: str) -> ResponseReturnValue:
    return jsonify(run(users.get_me, user_id))


@bp.patch("")
def update_me(user_id: str) -> ResponseReturnValue:
    return created(*run(users.update_me, user_id, schemas.load(schemas.ProfileIn)), 200)


@bp.post("/password")
def change_password(user_id: str) -> ResponseReturnValue:
    body = schemas.load(schemas.PasswordChangeIn)
    run(passwords.change_password, user_id, body["current_password"], body["new_password"])
    return no_content()

"""/internal/accounts/{account_id}/users and activation-emails: the administration of an
account's users (list with filters, summary, create, read, modify, delete, unlock, mass
activation e-mails)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import fields, validate

from services.identity.entrypoints import schemas
from services.identity.entrypoints.common import actor, created, no_content, page, run
from services.identity.service_layer import resends, sign_in, user_lists, users

bp = Blueprint("account_users", __name__, url_prefix="/internal/accounts/<account_id>")

# A mass re-send takes as many users as the gateway's body cap holds (PORTICO_MAX_BODY_BYTES,
# 1 MiB: some 25,000 ids); this bound only keeps an internal caller within reason.
MAX_SELECTED_USERS = 100_000


class ResendIn(schemas.Strict):
    user_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(
            min=1,
            max=MAX_SELECTED_USERS,
            error=f"Select between 1 and {MAX_SELECTED_USERS:,} users.",
        ),
    )


FILTERS = ("name", "email", "function", "status", "administrators_only")


@bp.get("/users")
def list_users(account_id: str) -> ResponseReturnValue:
    filters = {name: request.args.get(name) for name in FILTERS}
    return jsonify(run(user_lists.list_users, account_id, filters, page()))


@bp.get("/users/summary")
def users_summary(account_id: str) -> ResponseReturnValue:
    return jsonify(run(user_lists.users_summary, account_id, request.args.get("since")))


@bp.post("/users")
def create_user(account_id: str) -> ResponseReturnValue:
    body = schemas.load(schemas.UserCreateIn)
    return created(
        *run(
            users.create_user, account_id, body, actor=actor(), source="admin", email_required=False
        )
    )


@bp.get("/users/<user_id>")
def get_user(account_id: str, user_id: str) -> ResponseReturnValue:
    return jsonify(run(users.get_user, account_id, user_id))


@bp.patch("/users/<user_id>")
def update_user(account_id: str, user_id: str) -> ResponseReturnValue:
    body = schemas.load(schemas.AdminUserPatchIn)
    return created(*run(users.update_account_user, account_id, user_id, body, actor=actor()), 200)


@bp.delete("/users/<user_id>")
def delete_user(account_id: str, user_id: str) -> ResponseReturnValue:
    return no_content(run(users.delete_user, account_id, user_id, actor=actor()))


@bp.post("/users/<user_id>/unlock")
def unlock_user(account_id: str, user_id: str) -> ResponseReturnValue:
    run(sign_in.unlock_user, account_id, user_id, actor=actor())
    return no_content()


@bp.post("/activation-emails")
def resend_activations(account_id: str) -> ResponseReturnValue:
    body = schemas.load(ResendIn)
    return jsonify(run(resends.request_resends, account_id, body["user_ids"], actor=actor())), 202

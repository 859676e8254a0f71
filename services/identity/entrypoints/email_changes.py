"""E-mail changes: asked by the signed-in user (/internal/users/{id}/email-change), confirmed by
the link sent to the new address (/internal/email-changes/{token})."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from services.identity.entrypoints import schemas
from services.identity.entrypoints.common import no_content, run
from services.identity.service_layer import email_change

bp = Blueprint("email_changes", __name__, url_prefix="/internal")

SENT = "A confirmation link was sent to the new address; the address changes when it is clicked."


@bp.post("/users/<user_id>/email-change")
def request_email_change(user_id: str) -> ResponseReturnValue:
    body = schemas.load(schemas.EmailChangeIn)
    event = run(email_change.request_email_change, user_id, body["new_email"])
    return jsonify(detail=SENT, event_id=event.id), 202


@bp.post("/email-changes/<token>")
def confirm_email_change(token: str) -> ResponseReturnValue:
    run(email_change.confirm_email_change, token)
    return no_content()

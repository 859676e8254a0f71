"""The identity service's internal HTTP API (called by the gateway with the service token)."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request

from bus.http import Problem, current_part, install_problem_handlers, ops_blueprint, require_service_token
from bus.part import Part
from services.identity.service_layer import handlers

accounts_bp = Blueprint("accounts", __name__)


def _json() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "Bad Request", "The body must be a JSON object.")
    return body


@accounts_bp.post("/internal/accounts")
def create_account():  # type: ignore[no-untyped-def]
    body = _json()
    with current_part().uow() as uow:
        account = handlers.create_account(
            uow, body["number"], body["name"], body.get("parent_number"), body.get("relation")
        )
        uow.commit()
        event_id = uow.published[0].id
    return jsonify({**account, "event_id": event_id}), 201


def create_app(part: Part) -> Flask:
    app = Flask(__name__)
    app.extensions["portico.part"] = part
    install_problem_handlers(app)
    require_service_token(app, part.settings.service_token)
    app.register_blueprint(ops_blueprint(part.readiness))
    app.register_blueprint(accounts_bp)
    return app

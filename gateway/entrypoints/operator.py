"""Operator endpoints (the vendor's staff and scripts), behind PORTICO_OPERATOR_TOKEN."""

from __future__ import annotations

import hmac

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from bus.contracts import vocabulary as v
from bus.http import Problem

blp = Blueprint("operator", __name__, url_prefix="/api/v1/operator", description="Operator API")


def require_operator() -> None:
    token = current_app.extensions["portico.part"].settings.operator_token
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise Problem(401, "Unauthorized", "This endpoint needs the operator token (Authorization: Bearer ...).")


class AccountIn(Schema):
    number = fields.String(required=True, validate=validate.Regexp(r"^[0-9A-Za-z-]{1,32}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    parent_number = fields.String(load_default=None, allow_none=True)
    relation = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(v.RELATIONS))


class Propagation(Schema):
    status = fields.String()
    event_id = fields.String(allow_none=True)


class AccountOut(Schema):
    id = fields.String()
    number = fields.String()
    name = fields.String()
    parent_id = fields.String(allow_none=True)
    relation = fields.String(allow_none=True)
    propagation = fields.Nested(Propagation)


@blp.route("/accounts")
class Accounts(MethodView):
    @blp.arguments(AccountIn)
    @blp.response(201, AccountOut)
    def post(self, body):  # type: ignore[no-untyped-def]
        require_operator()
        identity = current_app.extensions["portico.clients"]["identity"]
        account = identity.post("/internal/accounts", json=body)
        event_id = account.pop("event_id", None)
        return {**account, "propagation": {"status": "pending", "event_id": event_id}}

"""Administration: an account's SCIM tokens, /api/v1/accounts/{account_id}/scim-tokens (issue,
list, revoke). Only an administrator of the account may; the raw token is answered once. Each
issue and revocation is in the account's audit trail (identity: scim_token_issued / _revoked,
the administrator as actor, the token's name as target)."""

from __future__ import annotations

import logging
from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from bus.http import Problem
from bus.http_client import ServiceUnavailable
from bus.http_client import segment as q
from gateway.entrypoints.context import caller, gw
from gateway.entrypoints.forward import service
from gateway.entrypoints.guards import require_reach
from gateway.scim.tokens import issue_token, list_tokens, revoke_token, withdraw_token

log = logging.getLogger(__name__)

blp = Blueprint(
    "scim_tokens",
    __name__,
    url_prefix="/api/v1/accounts/<account_id>",
    description="Administration: the account's SCIM tokens (provisioning from a directory)",
)
blp.before_request(require_reach)


def require_administrator() -> None:
    """A supervisor of the account may not issue its tokens: only its administrators."""
    if g.get("role") != "administrator":
        raise Problem(
            403,
            "Forbidden",
            "Only an administrator of this account can manage its SCIM tokens.",
        )


blp.before_request(require_administrator)


def audit(account_id: str, action: str, token: dict[str, Any]) -> None:
    """The issue or revocation in the account's audit trail (identity keeps it)."""
    service("identity").post(
        f"/internal/accounts/{q(account_id)}/scim/token-changes",
        json={"action": action, "token": {"id": token["id"], "name": token["name"]}},
    )


class ScimTokenIn(Schema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100, error="The name has 1 to 100 characters."),
        metadata={"example": "Entra ID"},
    )
    send_activation = fields.Boolean(
        load_default=True,
        metadata={
            "description": "Whether users this token creates get the activation e-mail "
            "(default true).",
            "example": True,
        },
    )


class ScimTokenSchema(Schema):
    id = fields.String(metadata={"example": "6f1c2a4e-0b9d-4c52-9a57-2f3d8e1b7c60"})
    name = fields.String(metadata={"example": "Entra ID"})
    send_activation = fields.Boolean(metadata={"example": True})
    created_by = fields.String(
        allow_none=True, metadata={"example": "5d3c2b1a-7e6f-4a9b-8c7d-6e5f4a3b2c1d"}
    )
    created_at = fields.String(metadata={"format": "date-time", "example": "2025-01-06T09:00:00Z"})
    last_used_at = fields.String(
        allow_none=True, metadata={"format": "date-time", "example": "2025-01-07T08:30:00Z"}
    )
    revoked_at = fields.String(allow_none=True, metadata={"format": "date-time", "example": None})


class ScimTokenIssued(ScimTokenSchema):
    token = fields.String(
        metadata={
            "description": "The bearer token for /scim/v2, shown this once only.",
            "example": "scim_R2xH0c1u4gU6m9J1bqv1Xg3mJm4o9H0vQ8d3n2kZ5s",
        }
    )


class ScimTokenList(Schema):
    items = fields.List(fields.Nested(ScimTokenSchema))


@blp.route("/scim-tokens")
class ScimTokens(MethodView):
    @blp.response(200, ScimTokenList)
    def get(self, account_id):
        """The account's SCIM tokens, newest first (no secret; revoked ones say when)."""
        return {"items": list_tokens(gw().part, account_id)}

    @blp.arguments(ScimTokenIn)
    @blp.response(201, ScimTokenIssued)
    def post(self, body, account_id):
        """Issue a SCIM token for the account's directory; the token is shown once. A token whose
        issue cannot be audited is taken back (503 from identity), never shown."""
        issued = issue_token(
            gw().part,
            account_id,
            body["name"].strip() or body["name"],
            send_activation=body["send_activation"],
            created_by=caller().user_id,
            now=gw().now(),
        )
        try:
            audit(account_id, "issued", issued)
        except BaseException:
            withdraw_token(gw().part, issued["id"])
            raise
        return issued


@blp.route("/scim-tokens/<token_id>")
class ScimToken(MethodView):
    @blp.response(204)
    def delete(self, account_id, token_id):
        """Revoke a SCIM token: the directory using it is refused from the next request on.
        The revocation holds even when identity cannot audit it at once (logged then)."""
        revoked = revoke_token(gw().part, account_id, token_id, gw().now())
        if revoked is None:
            raise Problem(404, "Not Found", "This account has no SCIM token with this id.")
        token, now_revoked = revoked
        if not now_revoked:  # revoked before: audited then
            return
        try:
            audit(account_id, "revoked", token)
        except (Problem, ServiceUnavailable):
            log.error("SCIM token %s revoked but not audited", token_id, exc_info=True)

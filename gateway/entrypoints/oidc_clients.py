"""The operator's OpenID Connect clients and signing keys: /api/v1/operator/oidc-clients
(POST, GET, GET one, DELETE) and /api/v1/operator/oidc-keys/rotate, behind the operator token."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates

from bus.http import Problem
from bus.i18n import _l, remember
from gateway.domain.oidc import redirect_uri_problem
from gateway.entrypoints.context import gw
from gateway.entrypoints.oidc_server import key_secret, provider, provider_policy
from gateway.entrypoints.operator import require_operator
from gateway.service_layer import oidc

blp = Blueprint(
    "oidc_clients",
    __name__,
    url_prefix="/api/v1/operator",
    description="Operator API: the portal's applications signing in with OpenID Connect",
)
blp.before_request(require_operator)

REDIRECT = "https://invoices.example.com/oidc/callback"
AFTER_LOGOUT = "https://invoices.example.com/signed-out"
CLIENT_ID = "portico-3f9a1c2b7d4e5f60"


# What redirect_uri_problem accepts, said in the OpenAPI document too: https with a host, or plain
# http for the local machine only; no fragment, no space or control character.
URI_PATTERN = (
    r"^(https://[A-Za-z0-9.-]+|http://(localhost|127\.0\.0\.1|\[::1\]))"
    r"(:[0-9]{1,5})?([/?][^#\x00-\x20\x7f-\x9f]*)?$"
)


def _uris(example: str, required: bool) -> fields.List:
    extra = {"required": True} if required else {"load_default": list}
    return fields.List(
        fields.String(
            validate=[
                validate.Length(min=1, max=2000),
                validate.Regexp(
                    URI_PATTERN,
                    error=remember(
                        _l(
                            "This URI must be an absolute https URL (plain http for 127.0.0.1"
                            " and localhost only), without a fragment.",
                            code="validation.redirect_uri",
                        )
                    ),
                ),
            ]
        ),
        validate=validate.Length(min=1 if required else 0, max=20),
        metadata={"example": [example]},
        **extra,
    )


def _check_uris(values: list[str]) -> None:
    problems = {
        str(index): [f"This URI {why}."]
        for index, uri in enumerate(values or [])
        if (why := redirect_uri_problem(uri))
    }
    if problems:
        raise ValidationError(problems)


class OidcClientIn(Schema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "Invoice viewer"},
    )
    redirect_uris = _uris(REDIRECT, True)
    post_logout_redirect_uris = _uris(AFTER_LOGOUT, False)
    service_code = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9_.:-]{1,200}$",
            error=remember(
                _l(
                    "A service code has 1 to 200 letters, digits, or . _ : -",
                    code="validation.service_code",
                )
            ),
        ),
        metadata={
            "example": "invoice_viewing",
            "description": "only users holding this service, effective, may sign in",
        },
    )

    @validates("redirect_uris")
    def _redirects(self, value: list[str], **_: object) -> None:
        _check_uris(value)

    @validates("post_logout_redirect_uris")
    def _after_logout(self, value: list[str], **_: object) -> None:
        _check_uris(value)


class OidcClientOut(Schema):
    client_id = fields.String(metadata={"example": CLIENT_ID})
    name = fields.String(metadata={"example": "Invoice viewer"})
    redirect_uris = fields.List(fields.String(), metadata={"example": [REDIRECT]})
    post_logout_redirect_uris = fields.List(fields.String(), metadata={"example": [AFTER_LOGOUT]})
    service_code = fields.String(allow_none=True, metadata={"example": "invoice_viewing"})
    created_at = fields.DateTime(metadata={"example": "2025-01-06T09:00:00Z"})


class OidcClientCreated(OidcClientOut):
    client_secret = fields.String(
        metadata={
            "example": "Vq3Jr0b7kS2xLw9YcN5mT8aE1hF4uZ6dP0iG3oR7sKw",
            "description": "shown once: only its digest is kept",
        }
    )


class OidcClientList(Schema):
    items = fields.List(fields.Nested(OidcClientOut))
    total = fields.Integer(metadata={"example": 1})


class KeyRotated(Schema):
    kid = fields.String(
        metadata={
            "example": "EFpQ2WsY6kt6wTty0CVCFX1vAv7svcmlTJ89Tm3eBFk",
            "description": "the key that signs from now on",
        }
    )
    keys = fields.List(
        fields.String(),
        metadata={
            "example": ["EFpQ2WsY6kt6wTty0CVCFX1vAv7svcmlTJ89Tm3eBFk"],
            "description": "every kid JWKS publishes now",
        },
    )


@blp.route("/oidc-clients")
class OidcClients(MethodView):
    @blp.arguments(OidcClientIn)
    @blp.response(201, OidcClientCreated)
    def post(self, body):
        """Register an application; its client secret is answered once."""
        record, secret = oidc.register_client(
            gw().part,
            name=body["name"],
            redirect_uris=body["redirect_uris"],
            post_logout_redirect_uris=body["post_logout_redirect_uris"] or [],
            service_code=body["service_code"],
        )
        return {**record.shown(), "client_secret": secret}

    @blp.response(200, OidcClientList)
    def get(self):
        """The registered applications (no secret)."""
        items = [record.shown() for record in oidc.list_clients(gw().part)]
        return {"items": items, "total": len(items)}


@blp.route("/oidc-clients/<client_id>")
class OidcClient(MethodView):
    @blp.response(200, OidcClientOut)
    def get(self, client_id):
        """One registered application (404 when none has this id)."""
        record = oidc.find_client(gw().part, client_id)
        if record is None:
            raise not_found()
        return record.shown()

    @blp.response(204)
    def delete(self, client_id):
        """Remove an application: its codes and tokens stop working at once."""
        if not oidc.delete_client(gw().part, client_id):
            raise not_found()


@blp.route("/oidc-keys/rotate")
class OidcKeys(MethodView):
    @blp.response(200, KeyRotated)
    def post(self):
        """Make a new signing key; the previous one stays in JWKS until its ID tokens have expired."""
        settings = gw().part.settings
        kid = oidc.rotate_signing_key(gw().part, provider_policy(settings), key_secret(settings))
        provider().forget_key()
        return {"kid": kid, "keys": [key["kid"] for key in oidc.published_keys(gw().part)]}


def not_found() -> Problem:
    return Problem(
        404,
        "Not Found",
        _l(
            "There is no OpenID Connect client with this id;"
            " GET /api/v1/operator/oidc-clients lists them.",
            code="oidc_client.not_found",
        ),
    )

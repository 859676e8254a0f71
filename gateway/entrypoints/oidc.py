"""The OpenID Connect provider's machine endpoints: discovery, JWKS, token, userinfo and
revocation (the browser's authorize and logout are pages: gateway/web/pages/oidc.py).

Errors are those RFC 6749, 6750 and 7009 name (`invalid_request`, `invalid_grant`,
`invalid_client`, `invalid_token`, ...), as JSON, never problem+json: relying parties' libraries
read them by those names.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidGrantError
from flask import Blueprint, Response, jsonify, request

from gateway.domain.oidc import CLAIMS
from gateway.entrypoints.oidc_server import provider
from gateway.service_layer import oidc

bp = Blueprint("oidc", __name__)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    """OpenID Connect Discovery 1.0: what this provider supports, and where."""
    issuer = provider().issuer
    answer = jsonify(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth2/authorize",
            "token_endpoint": f"{issuer}/oauth2/token",
            "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
            "jwks_uri": f"{issuer}/oauth2/jwks",
            "revocation_endpoint": f"{issuer}/oauth2/revoke",
            "end_session_endpoint": f"{issuer}/oauth2/logout",
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                *CLAIMS,
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "amr",
            ],
            "prompt_values_supported": ["none", "login"],
        }
    )
    answer.headers["Cache-Control"] = "public, max-age=300"
    return answer


@bp.get("/oauth2/jwks")
def jwks() -> Response:
    """The public keys: the one that signs and the retired ones whose ID tokens may still live."""
    provider().signing_key()  # the first key is made on first use, so JWKS is never empty
    answer = jsonify({"keys": oidc.published_keys(provider().part)})
    answer.headers["Cache-Control"] = "public, max-age=60"
    return answer


@bp.post("/oauth2/token")
def token() -> Response:
    return provider().server.create_token_response()


@bp.post("/oauth2/revoke")
def revoke() -> Response:
    return provider().server.create_endpoint_response("revocation")


@bp.route("/oauth2/userinfo", methods=["GET", "POST"])
def userinfo() -> Any:
    """The claims of the access token's user (RFC 6750: the token in the Authorization header)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return bearer_error(
            400 if request.headers.get("Authorization") else 401,
            "invalid_request",
            "Send the access token as Authorization: Bearer <token>.",
        )
    found = oidc.find_access(provider().part, value.strip())
    if found is None:
        return bearer_error(
            401, "invalid_token", "The access token is unknown, expired or revoked."
        )
    subject = oidc.Subject(found.user_id, found.account_id, found.auth_time)
    try:
        claims = provider().claims(subject, found.scope)
    except InvalidGrantError:  # the user is gone: the token is worth nothing
        return bearer_error(401, "invalid_token", "The user of this token no longer exists.")
    answer = jsonify(claims)
    answer.headers.update(NO_STORE)
    return answer


def bearer_error(status: int, error: str, description: str) -> Response:
    answer = jsonify({"error": error, "error_description": description})
    answer.status_code = status
    answer.headers["WWW-Authenticate"] = (
        f'Bearer error="{error}", error_description="{description}"'
    )
    answer.headers.update(NO_STORE)
    return answer

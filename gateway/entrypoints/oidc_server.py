"""authlib's OAuth 2.0 / OpenID Connect server on the gateway's storage (service_layer/oidc.py):
the authorization code grant with PKCE (S256 only, required), ID tokens signed with the
provider's current key, refresh tokens rotated with reuse detection, and revocation."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, current_app, g

from bus.config import Settings
from bus.http import Problem
from bus.part import Part
from gateway.config import GatewayConfig
from gateway.domain.oidc import (
    SIGNING_ALG,
    ProviderPolicy,
    allowed_scope,
    new_secret,
    registered,
    same_digest,
)
from gateway.service_layer import oidc

EXTENSION = "portico.oidc"
KEY_RECHECK_SECONDS = 5.0


def provider_policy(settings: Settings) -> ProviderPolicy:
    """The lifetimes, from PORTICO_OIDC_* (gateway/config.py)."""
    return GatewayConfig.from_settings(settings).oidc


def key_secret(settings: Settings) -> str:
    """What the private keys are encrypted with: PORTICO_SECRET_KEY (checked at start-up by
    bus/secrets.py; a key made under another value cannot be read: rotate after changing it)."""
    return settings.secret_key


class Client(ClientMixin):
    """A registered client as authlib asks about it: confidential, code flow only, exact URIs."""

    def __init__(self, record: oidc.ClientRecord) -> None:
        self.record = record

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # redirect_uri is required in every request (OpenID Connect Core 3.1.2.1)

    def get_allowed_scope(self, scope: str) -> str:
        return allowed_scope(scope)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return registered(redirect_uri, self.record.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return same_digest(client_secret, self.record.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass(frozen=True)
class Code:
    """An authorization code's grant as authlib asks about it."""

    record: oidc.CodeRecord

    def get_redirect_uri(self) -> str:
        return self.record.redirect_uri

    def get_scope(self) -> str:
        return self.record.scope

    def get_nonce(self) -> str | None:
        return self.record.nonce

    def get_auth_time(self) -> int:
        return int(self.record.auth_time.timestamp())

    def get_acr(self) -> None:
        return None  # no acr values are promised: amr says how the user signed in

    def get_amr(self) -> list[str]:
        """RFC 8176: `pwd`; after a second step `otp` (a code), `hwk` or `swk` (a passkey) and
        `mfa`; a passkey alone, its kind and `mfa`."""
        return list(self.record.amr)


@dataclass(frozen=True)
class Token:
    """A stored token row as authlib's refresh and revocation endpoints ask about it."""

    record: oidc.TokenRecord
    kind: str = "refresh_token"

    def check_client(self, client: Client) -> bool:
        return self.record.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.record.scope

    def get_user(self) -> oidc.Subject:
        return oidc.Subject(self.record.user_id, self.record.account_id, self.record.auth_time)


class S256Only(CodeChallenge):
    """PKCE required on every authorization request, with S256 (a missing method means `plain`,
    RFC 7636 4.3, and `plain` is refused: RFC 9700 2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "Missing 'code_challenge': this provider requires PKCE with S256.",
                redirect_uri=redirect_uri,
            )
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError(
                "'code_challenge_method' must be S256 ('plain' is not accepted).",
                redirect_uri=redirect_uri,
            )
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)

    def get_authorization_code_challenge(self, authorization_code: Code) -> str:
        return authorization_code.record.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: Code) -> str:
        return authorization_code.record.code_challenge_method


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code: str, request: Any) -> None:
        provider().save_code(code, request)

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        record = oidc.find_code(provider().part, code, client.get_client_id())
        return Code(record) if record else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        pass  # marked used by save_token, in the transaction that keeps its tokens

    def authenticate_user(self, authorization_code: Code) -> oidc.Subject:
        """The code's user, if identity still has them active (else invalid_grant, nothing kept)."""
        record = authorization_code.record
        active_profile(record.user_id)
        return oidc.Subject(record.user_id, record.account_id, record.auth_time, record.amr)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh answers a new refresh token

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        record = oidc.find_refresh(
            provider().part, refresh_token, self.request.client.get_client_id()
        )
        return Token(record) if record else None

    def authenticate_user(self, refresh_token: Token) -> oidc.Subject | None:
        subject = refresh_token.get_user()
        try:
            active_profile(subject.user_id)
        except InvalidGrantError:
            oidc.revoke_family(provider().part, refresh_token.record.family_id)
            raise
        return subject

    def revoke_old_credential(self, refresh_token: Token) -> None:
        pass  # rotated in the same transaction that keeps the new token (Provider.save_token)


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        found = oidc.find_any_token(provider().part, token_string, token_type_hint)
        return Token(found[1], found[0]) if found else None

    def revoke_token(self, token: Token, request: Any) -> None:
        oidc.revoke_token(provider().part, token.kind, token.record)


class IdToken(OpenIDCode):
    """ID tokens: the provider's current key, the contract's claims, the part's clock."""

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return oidc.nonce_used(provider().part, request.payload.client_id, nonce)

    def resolve_client_private_key(self, client: Client) -> Any:
        return provider().signing_key()[1]

    def get_client_algorithm(self, client: Client) -> str:
        return SIGNING_ALG

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": SIGNING_ALG, "kid": provider().signing_key()[0], "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        now = int(provider().part.clock.now().timestamp())
        return {
            "iss": provider().issuer,
            "aud": [client.get_client_id()],
            "iat": now,
            "exp": now + int(provider().policy.id_token.total_seconds()),
        }

    def generate_user_info(self, user: oidc.Subject, scope: str) -> UserInfo:
        return UserInfo(provider().claims(user, scope))


class Provider:
    """What the provider's endpoints share on one app: the part, the lifetimes, the server."""

    def __init__(self, part: Part, clients: dict[str, Any]) -> None:
        self.part = part
        self.clients = clients
        settings = part.settings
        self.policy = provider_policy(settings)
        self.secret = key_secret(settings)
        self.issuer = settings.public_url.rstrip("/")
        self._key: tuple[float, tuple[str, Any]] | None = None
        self.server = AuthorizationServer()
        self.server._query_client = self.query_client
        self.server._save_token = self.save_token
        seconds = int(self.policy.access_token.total_seconds())
        self.server.load_config(
            {
                "OAUTH2_ACCESS_TOKEN_GENERATOR": lambda *_, **__: new_secret(),
                "OAUTH2_REFRESH_TOKEN_GENERATOR": lambda *_, **__: new_secret(),
                "OAUTH2_TOKEN_EXPIRES_IN": {
                    "authorization_code": seconds,
                    "refresh_token": seconds,
                },
                "OAUTH2_SCOPES_SUPPORTED": ["openid", "profile", "email", "offline_access"],
            }
        )
        self.server.register_grant(
            AuthorizationCodeGrant, [S256Only(required=True), IdToken(require_nonce=False)]
        )
        self.server.register_grant(RefreshTokenGrant)
        self.server.register_endpoint(Revocation)

    # -- storage authlib calls ---------------------------------------------------------------------

    def query_client(self, client_id: str) -> Client | None:
        if not client_id or len(client_id) > 64:
            return None
        record = oidc.find_client(self.part, client_id)
        return Client(record) if record else None

    def save_code(self, code: str, request: Any) -> None:
        data, subject = request.payload.data, request.user
        oidc.save_code(
            self.part,
            self.policy,
            code,
            client_id=request.client.get_client_id(),
            subject=subject,
            redirect_uri=request.payload.redirect_uri,
            scope=allowed_scope(request.payload.scope),
            nonce=data.get("nonce"),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
        )

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        code = getattr(request, "authorization_code", None)
        replaced = getattr(request, "refresh_token", None)
        try:
            oidc.save_tokens(
                self.part,
                self.policy,
                token,
                client_id=request.client.get_client_id(),
                subject=request.user,
                code_hash=code.record.code_hash if code else None,
                replaces=replaced.record if replaced else None,
            )
        except oidc.CodeReused:
            raise InvalidGrantError(
                "The code was already used; the tokens it gave are revoked."
            ) from None
        except oidc.RefreshReused:
            raise InvalidGrantError(
                "The refresh token was already used; every token of its sign-in is revoked."
            ) from None

    # -- keys and claims ---------------------------------------------------------------------------

    def signing_key(self) -> tuple[str, Any]:
        """The key that signs, read again at most every KEY_RECHECK_SECONDS (a rotation made by
        another process signs here within that time; the previous key stays in JWKS meanwhile)."""
        kept = self._key
        if kept is not None and time.monotonic() - kept[0] < KEY_RECHECK_SECONDS:
            return kept[1]
        found = oidc.signing_key(self.part, self.policy, self.secret)
        self._key = (time.monotonic(), found)
        return found

    def forget_key(self) -> None:
        self._key = None

    def profile(self, user_id: str) -> dict[str, Any] | None:
        """identity's answer for the user (None when identity knows no such user), asked once
        per request."""
        kept = g.get("oidc_profiles")
        if kept is None:
            kept = g.oidc_profiles = {}
        if user_id not in kept:
            try:
                kept[user_id] = self.clients["identity"].get(f"/internal/users/{user_id}")
            except Problem as exc:
                if exc.status != 404:
                    raise
                kept[user_id] = None
        return kept[user_id]

    def claims(self, subject: oidc.Subject, scope: str) -> dict[str, Any]:
        profile = self.profile(subject.user_id)
        if profile is None:
            raise InvalidGrantError("The user no longer exists.")
        return oidc.scope_claims(
            oidc.claims_of(self.part, profile, self.part.clock.now().date()), scope
        )


def active_profile(user_id: str) -> dict[str, Any]:
    """identity's profile of a user who may still sign in; invalid_grant otherwise."""
    profile = provider().profile(user_id)
    if profile is None or profile.get("status") != "active":
        raise InvalidGrantError("The user can no longer sign in; the grant is revoked.")
    return profile


def install_provider(app: Flask, part: Part, clients: dict[str, Any]) -> None:
    app.extensions[EXTENSION] = Provider(part, clients)


def provider() -> Provider:
    return current_app.extensions[EXTENSION]

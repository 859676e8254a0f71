"""Second factors (docs/api.md, "Second factors"): the sign-in's second step and passkey sign-in
(/api/v1/session/...), the caller's factors (/api/v1/me/mfa...), an account's policy and an
administrator's reset (/api/v1/accounts/{account_id}/...).

Identity keeps the factors and decides; the gateway forwards, and opens the session only once
identity says the sign-in is complete. A session that must enrol a factor (the account's policy)
is let through to /api/v1/me/mfa alone (guards.py) and opens fully once a factor is enrolled.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from bus.http_client import segment
from bus.i18n import _l, remember
from gateway.entrypoints.context import caller, gw
from gateway.entrypoints.errors import TooManyRequests
from gateway.entrypoints.forward import propagation, service
from gateway.entrypoints.guards import require_reach
from gateway.entrypoints.schemas import PropagationSchema
from gateway.entrypoints.session import SessionOut, client_ip, signed_in
from gateway.service_layer import ratelimit
from gateway.service_layer.sessions import second_factor_enrolled

session_blp = Blueprint(
    "session_mfa",
    __name__,
    url_prefix="/api/v1/session",
    description="Signing in: the second factor, and passkeys",
)
my_blp = Blueprint(
    "my_mfa", __name__, url_prefix="/api/v1/me/mfa", description="The caller's second factors"
)
account_blp = Blueprint(
    "account_security",
    __name__,
    url_prefix="/api/v1/accounts/<account_id>",
    description="An account's second-factor policy",
)
account_blp.before_request(require_reach)

MFA_TOKEN = "mQ3v8Kc1sR7yT0pLx2WnZ5bHd9GfJ4aE6uVoYiNkBsw"
CODES = [
    "k3v9q-7m2xa",
    "p8wze-4nt6r",
    "b2hjc-9sx5m",
    "t7rkd-3qv8n",
    "x5mpa-6wj2e",
    "g9zcn-2ht7v",
    "r4eqs-8kb3w",
    "n6uxf-5dp9z",
    "w3yhm-7ca4q",
    "e8tvb-2rg6k",
]
CREDENTIAL = {
    "description": "the PublicKeyCredential as the browser returns it (its toJSON())",
    "example": {
        "id": "q1w2e3r4",
        "rawId": "q1w2e3r4",
        "type": "public-key",
        "response": {
            "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0",
            "authenticatorData": "SZYN5YgO",
            "signature": "MEUCIQ",
        },
        "clientExtensionResults": {},
    },
}


class SecondFactorIn(Schema):
    OPENAPI_EXTRA = {  # noqa: RUF012 - read by openapi_errors.ErrorDocumentation
        "oneOf": [{"required": [name]} for name in ("code", "recovery_code", "passkey")]
    }

    mfa_token = fields.String(
        required=True, validate=validate.Length(min=1, max=200), metadata={"example": MFA_TOKEN}
    )
    code = fields.String(
        validate=validate.Length(min=1, max=20),
        metadata={"description": "a TOTP code", "example": "492039"},
    )
    recovery_code = fields.String(
        validate=validate.Length(min=1, max=40), metadata={"example": CODES[0]}
    )
    passkey = fields.Dict(metadata=CREDENTIAL)

    @validates_schema
    def one_factor(self, data: dict[str, Any], **kwargs: Any) -> None:
        if sum(name in data for name in ("code", "recovery_code", "passkey")) != 1:
            raise ValidationError(
                _l(
                    "Give exactly one of code, recovery_code or passkey.",
                    code="mfa.one_factor",
                ),
                "code",
            )


class PasskeyOptionsIn(Schema):
    mfa_token = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "the sign-in's second step: options for the user's passkeys; without it, "
            "options for a sign-in with a passkey alone",
            "example": MFA_TOKEN,
        },
    )


class PasskeySignInIn(Schema):
    credential = fields.Dict(required=True, metadata=CREDENTIAL)


class WebAuthnOptions(Schema):
    """PublicKeyCredentialCreationOptions or ...RequestOptions, as JSON (WebAuthn level 2)."""

    class Meta:
        unknown = "include"

    challenge = fields.String(metadata={"example": "T1xCsnxM2DNL2KdK5CLa6fMhD7OBqho6syzInk_n-Uo"})
    rpId = fields.String(metadata={"example": "portal.example.com"})  # noqa: N815 - WebAuthn's names
    rp = fields.Dict(metadata={"example": {"id": "portal.example.com", "name": "Portico"}})
    user = fields.Dict(
        metadata={
            "example": {
                "id": "NWQzYzJiMWE",
                "name": "mark.hughes@example.com",
                "displayName": "Mark Hughes",
            }
        }
    )
    allowCredentials = fields.List(
        fields.Dict(),
        metadata={  # noqa: N815
            "example": [{"id": "q1w2e3r4", "type": "public-key", "transports": ["internal"]}]
        },
    )
    excludeCredentials = fields.List(fields.Dict(), metadata={"example": []})  # noqa: N815
    pubKeyCredParams = fields.List(
        fields.Dict(),
        metadata={  # noqa: N815
            "example": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}]
        },
    )
    timeout = fields.Integer(metadata={"example": 300000})
    userVerification = fields.String(metadata={"example": "preferred"})  # noqa: N815
    authenticatorSelection = fields.Dict(
        metadata={  # noqa: N815
            "example": {"residentKey": "preferred", "userVerification": "preferred"}
        }
    )
    attestation = fields.String(metadata={"example": "none"})


class PasskeyOut(Schema):
    id = fields.String()
    name = fields.String()
    created_at = fields.String(metadata={"format": "date-time"})
    last_used_at = fields.String(allow_none=True, metadata={"format": "date-time", "example": None})


class FactorsOut(Schema):
    totp = fields.Dict(metadata={"description": "{enabled}", "example": {"enabled": True}})
    passkeys = fields.List(fields.Nested(PasskeyOut))
    recovery_codes_left = fields.Integer(metadata={"example": 9})
    required = fields.Boolean(
        metadata={
            "description": "the account's policy requires a factor of the caller",
            "example": False,
        }
    )


class TotpStarted(Schema):
    secret = fields.String(
        metadata={
            "description": "base32, shown once",
            "example": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        }
    )
    otpauth_uri = fields.String(
        metadata={
            "description": "otpauth://totp/... for a QR code",
            "example": "otpauth://totp/Portico:mark.hughes%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
            "&issuer=Portico",
        }
    )


class CodeIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=20))


class PasswordIn(Schema):
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class RecoveryCodesOut(Schema):
    recovery_codes = fields.List(
        fields.String(), metadata={"description": "10 codes, shown once", "example": CODES}
    )
    propagation = fields.Nested(PropagationSchema)


class PasskeyIn(Schema):
    name = fields.String(load_default="Passkey", validate=validate.Length(min=1, max=100))
    credential = fields.Dict(required=True, metadata=CREDENTIAL)


class PasskeyCreated(PasskeyOut):
    recovery_codes = fields.List(
        fields.String(),
        metadata={"description": "with a first factor: 10 codes, shown once", "example": CODES},
    )
    propagation = fields.Nested(PropagationSchema)


class PolicyIn(Schema):
    mfa_required_for = fields.String(
        required=True,
        validate=validate.OneOf(
            ["nobody", "administrators", "everyone"],
            error=remember(
                _l(
                    "Write one of nobody, administrators or everyone.",
                    code="validation.not_a_choice",
                )
            ),
        ),
    )


class PolicyOut(Schema):
    account_id = fields.String()
    mfa_required_for = fields.String(metadata={"enum": ["nobody", "administrators", "everyone"]})
    propagation = fields.Nested(PropagationSchema)


def limit_steps() -> None:
    """The second step and passkey sign-ins count with the sign-in attempts of the caller's IP."""
    config, now = gw().config, gw().now()
    wait = ratelimit.hit_all(gw().part, [(f"sign-in:ip:{client_ip()}", config.sign_in_per_ip)], now)
    if wait is not None:
        raise TooManyRequests(
            _l(
                "Too many sign-in attempts in a short time; try again in {wait} seconds.",
                code="rate_limited.sign_in",
                wait=wait,
            ),
            wait,
        )


def seen() -> dict[str, str]:
    return {"ip": client_ip(), "user_agent": request.headers.get("User-Agent", "")[:300]}


# --- signing in ------------------------------------------------------------------------------------


@session_blp.route("/mfa")
class SecondFactor(MethodView):
    @session_blp.doc(security=[])
    @session_blp.arguments(SecondFactorIn)
    @session_blp.response(201, SessionOut)
    def post(self, body):
        """The sign-in's second step: 401 a wrong factor (counted toward the lock), 410 the
        mfa_token used or expired (sign in again), 423 locked."""
        limit_steps()
        return signed_in(service("identity").post("/internal/sign-in/mfa", json={**body, **seen()}))


@session_blp.route("/passkey/options")
class PasskeySignInOptions(MethodView):
    @session_blp.doc(security=[])
    @session_blp.arguments(PasskeyOptionsIn)
    @session_blp.response(200, WebAuthnOptions)
    def post(self, body):
        """Options for navigator.credentials.get(): a second step (with mfa_token) or a sign-in
        with a passkey alone."""
        return service("identity").post("/internal/sign-in/passkey/options", json=body)


@session_blp.route("/passkey")
class PasskeySignIn(MethodView):
    @session_blp.doc(security=[])
    @session_blp.arguments(PasskeySignInIn)
    @session_blp.response(201, SessionOut)
    def post(self, body):
        """Sign in with a passkey alone (no password; the authenticator verifies the person)."""
        limit_steps()
        return signed_in(
            service("identity").post("/internal/sign-in/passkey", json={**body, **seen()})
        )


# --- the caller's factors ------------------------------------------------------------------------


def _mine(path: str = "") -> str:
    return f"/internal/users/{segment(caller().user_id)}/mfa{path}"


def _enrolled(answer: dict[str, Any]) -> dict[str, Any]:
    """A factor was enrolled: a session held back for enrolment opens fully."""
    if answer.pop("enrolled", False) and caller().session.mfa_enrolment_required:
        second_factor_enrolled(gw().part, caller().session.id)
    answer["propagation"] = propagation(answer)
    return answer


@my_blp.route("")
class MyFactors(MethodView):
    @my_blp.response(200, FactorsOut)
    def get(self):
        """The caller's factors."""
        return service("identity").get(_mine())


@my_blp.route("/totp")
class MyTotp(MethodView):
    @my_blp.response(201, TotpStarted)
    def post(self):
        """Start adding an authenticator application (RFC 6238, SHA-1, 6 digits, 30 s); 409 one is set up."""
        return service("identity").post(_mine("/totp")), 201

    @my_blp.arguments(PasswordIn)
    @my_blp.response(204)
    def delete(self, body):
        """Remove it (409 while the account's policy requires a factor and it is the last one)."""
        service("identity").delete(_mine("/totp"), json=body)


@my_blp.route("/totp/confirm")
class MyTotpConfirmation(MethodView):
    @my_blp.arguments(CodeIn)
    @my_blp.response(200, RecoveryCodesOut)
    def post(self, body):
        """Confirm with a first code: TOTP is on, and 10 recovery codes are given (shown once)."""
        return _enrolled(service("identity").post(_mine("/totp/confirm"), json=body))


@my_blp.route("/recovery-codes")
class MyRecoveryCodes(MethodView):
    @my_blp.response(201, RecoveryCodesOut)
    def post(self):
        """10 new recovery codes (the earlier ones stop working)."""
        answer = service("identity").post(_mine("/recovery-codes"))
        answer["propagation"] = propagation(answer)
        return answer, 201


@my_blp.route("/passkeys/options")
class MyPasskeyOptions(MethodView):
    @my_blp.response(200, WebAuthnOptions)
    def post(self):
        """Options for navigator.credentials.create()."""
        return service("identity").post(_mine("/passkeys/options"))


@my_blp.route("/passkeys")
class MyPasskeys(MethodView):
    @my_blp.arguments(PasskeyIn)
    @my_blp.response(201, PasskeyCreated)
    def post(self, body):
        """Register a passkey (422 a credential that cannot be read or verified; nothing is written)."""
        return _enrolled(service("identity").post(_mine("/passkeys"), json=body)), 201


@my_blp.route("/passkeys/<passkey_id>")
class MyPasskey(MethodView):
    @my_blp.response(204)
    def delete(self, passkey_id):
        """Remove one (409 while the account's policy requires a factor and it is the last one)."""
        service("identity").delete(_mine(f"/passkeys/{segment(passkey_id)}"))


# --- an account's policy, an administrator's reset ----------------------------------------------


@account_blp.route("/security")
class AccountSecurity(MethodView):
    @account_blp.response(200, PolicyOut)
    def get(self, account_id):
        """The account's second-factor policy."""
        return service("identity").get(f"/internal/accounts/{segment(account_id)}/security")

    @account_blp.arguments(PolicyIn)
    @account_blp.response(200, PolicyOut)
    def patch(self, body, account_id):
        """Who must have a second factor: covered users without one enrol at their next sign-in."""
        answer = service("identity").patch(
            f"/internal/accounts/{segment(account_id)}/security", json=body
        )
        answer["propagation"] = propagation(answer)
        return answer


@account_blp.route("/users/<user_id>/mfa")
class UserFactors(MethodView):
    @account_blp.response(204)
    def delete(self, account_id, user_id):
        """Reset a user's second factors (a lost phone): audited, and the user is e-mailed."""
        service("identity").delete(
            f"/internal/accounts/{segment(account_id)}/users/{segment(user_id)}/mfa"
        )

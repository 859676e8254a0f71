"""Second factors' routes: the sign-in's second step and passkey sign-in (/internal/sign-in/...),
the user's factors (/internal/users/{user_id}/mfa...), the account's policy and an
administrator's reset (/internal/accounts/{account_id}/...)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError, validate, validates_schema
from marshmallow import fields as f

from bus.http import Problem
from bus.i18n import _l, remember
from services.identity.domain import model
from services.identity.domain.mfa import MfaPolicy
from services.identity.entrypoints import schemas
from services.identity.entrypoints.common import actor, created, no_content, run
from services.identity.service_layer import mfa, passkeys, sign_in
from services.identity.service_layer.errors import Invalid
from services.identity.service_layer.sign_in import SignInResult

bp = Blueprint("mfa", __name__, url_prefix="/internal")

MAX_CREDENTIAL = 64 * 1024  # a WebAuthn answer is a few kilobytes


def _credential(**options: Any) -> f.Dict:
    return f.Dict(
        error_messages={
            "invalid": remember(
                _l(
                    "The credential must be a JSON object, as the browser gave it.",
                    code="passkey.unreadable",
                )
            ),
            "required": remember(_l("The credential is required.", code="validation.required")),
        },
        **options,
    )


class SecondFactorIn(schemas.Strict):
    mfa_token = f.String(required=True, validate=validate.Length(min=1, max=200))
    code = f.String(load_default=None, validate=validate.Length(max=20))
    recovery_code = f.String(load_default=None, validate=validate.Length(max=40))
    passkey = _credential(load_default=None)
    ip = f.String(load_default=None, allow_none=True)
    user_agent = f.String(load_default=None, allow_none=True)

    @validates_schema
    def one_factor(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [
            name for name in ("code", "recovery_code", "passkey") if data.get(name) is not None
        ]
        if len(given) != 1:
            raise ValidationError(
                _l("Give exactly one of code, recovery_code or passkey.", code="mfa.one_factor"),
                "code",
            )


class PasskeySignInIn(schemas.Strict):
    credential = _credential(required=True)
    ip = f.String(load_default=None, allow_none=True)
    user_agent = f.String(load_default=None, allow_none=True)


class SignInWithCodeIn(schemas.SignInIn):
    code = f.String(required=True, validate=validate.Length(min=1, max=20))


class OptionsIn(schemas.Strict):
    mfa_token = f.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class CodeIn(schemas.Strict):
    code = f.String(required=True, validate=validate.Length(min=1, max=20))


class PasswordIn(schemas.Strict):
    password = f.String(required=True, validate=validate.Length(min=1, max=schemas.MAX_SECRET))


class PasskeyIn(schemas.Strict):
    name = f.String(load_default="Passkey", validate=validate.Length(max=100))
    credential = _credential(required=True)


class PolicyIn(schemas.Strict):
    mfa_required_for = f.String(
        required=True,
        validate=validate.OneOf(
            [p.value for p in MfaPolicy],
            error=remember(
                _l(
                    "Write one of nobody, administrators or everyone.",
                    code="validation.not_a_choice",
                )
            ),
        ),
    )


def sign_in_answer(result: SignInResult) -> ResponseReturnValue:
    """The answer of a sign-in step: 200 (signed in, or a second factor due), 401, 423."""
    if result.outcome == "second_factor":
        return jsonify(
            mfa_required=True,
            mfa_token=result.mfa_token,
            methods=list(result.methods),
            enrolment_required=False,
        )
    if result.outcome == "ok":
        return jsonify(
            user=result.user,
            password_change_required=result.password_change_required,
            enrolment_required=result.enrolment_required,
            amr=list(result.amr),
        )
    if result.outcome == "locked":
        raise Problem(423, "Locked", locked_message())
    raise Problem(401, "Unauthorized", model.SIGN_IN_FAILED)


def locked_message() -> str:
    try:
        model.ensure_can_sign_in(model.UserStatus.LOCKED)
    except model.SignInRefused as refusal:
        return refusal.message
    raise AssertionError("a locked status must refuse the sign-in")  # pragma: no cover


def _bounded_body() -> None:
    if (request.content_length or 0) > MAX_CREDENTIAL:
        raise Invalid(
            {"body": [_l("The body is too large for a sign-in step.", code="request.too_large")]}
        )


# --- the sign-in's second step, passkey sign-in ---------------------------------------------------


@bp.post("/sign-in/mfa")
def verify_second_factor() -> ResponseReturnValue:
    _bounded_body()
    body = schemas.load(SecondFactorIn)
    return sign_in_answer(
        run(
            mfa.verify_second_factor,
            body["mfa_token"],
            code=body["code"],
            recovery_code=body["recovery_code"],
            passkey=body["passkey"],
            ip=body["ip"],
            user_agent=body["user_agent"],
        )
    )


@bp.post("/sign-in/totp")
def sign_in_with_totp() -> ResponseReturnValue:
    """The password and a TOTP code in one request (a client that has both at once): one
    transaction, one hop; answered as /sign-in is (a user without an authenticator application
    gets the usual second step)."""
    _bounded_body()
    body = schemas.load(SignInWithCodeIn)
    return sign_in_answer(
        run(
            sign_in.sign_in,
            body["email"],
            body["password"],
            code=body["code"],
            ip=body["ip"],
            user_agent=body["user_agent"],
        )
    )


@bp.post("/sign-in/passkey/options")
def passkey_sign_in_options() -> ResponseReturnValue:
    body = schemas.load(OptionsIn)
    return jsonify(run(passkeys.authentication_options, body["mfa_token"]))


@bp.post("/sign-in/passkey")
def sign_in_with_passkey() -> ResponseReturnValue:
    _bounded_body()
    body = schemas.load(PasskeySignInIn)
    return sign_in_answer(
        run(
            passkeys.sign_in_with_passkey,
            body["credential"],
            ip=body["ip"],
            user_agent=body["user_agent"],
        )
    )


# --- the user's factors ---------------------------------------------------------------------------


@bp.get("/users/<user_id>/mfa")
def show_factors(user_id: str) -> ResponseReturnValue:
    return jsonify(run(mfa.show_factors, user_id))


@bp.post("/users/<user_id>/mfa/totp")
def start_totp(user_id: str) -> ResponseReturnValue:
    return jsonify(run(mfa.start_totp, user_id)), 201


@bp.post("/users/<user_id>/mfa/totp/confirm")
def confirm_totp(user_id: str) -> ResponseReturnValue:
    return created(*run(mfa.confirm_totp, user_id, schemas.load(CodeIn)["code"]), 200)


@bp.delete("/users/<user_id>/mfa/totp")
def remove_totp(user_id: str) -> ResponseReturnValue:
    return no_content(run(mfa.remove_totp, user_id, schemas.load(PasswordIn)["password"]))


@bp.post("/users/<user_id>/mfa/recovery-codes")
def renew_recovery_codes(user_id: str) -> ResponseReturnValue:
    return created(*run(mfa.renew_recovery_codes, user_id), 201)


@bp.post("/users/<user_id>/mfa/passkeys/options")
def passkey_registration_options(user_id: str) -> ResponseReturnValue:
    return jsonify(run(passkeys.registration_options, user_id))


@bp.post("/users/<user_id>/mfa/passkeys")
def register_passkey(user_id: str) -> ResponseReturnValue:
    _bounded_body()
    body = schemas.load(PasskeyIn)
    return created(*run(passkeys.register_passkey, user_id, body["name"], body["credential"]), 201)


@bp.delete("/users/<user_id>/mfa/passkeys/<passkey_id>")
def remove_passkey(user_id: str, passkey_id: str) -> ResponseReturnValue:
    return no_content(run(passkeys.remove_passkey, user_id, passkey_id))


# --- the account's policy, an administrator's reset -------------------------------------------------


@bp.get("/accounts/<account_id>/security")
def show_policy(account_id: str) -> ResponseReturnValue:
    return jsonify(run(mfa.show_policy, account_id))


@bp.patch("/accounts/<account_id>/security")
def set_policy(account_id: str) -> ResponseReturnValue:
    policy = MfaPolicy(schemas.load(PolicyIn)["mfa_required_for"])
    return created(*run(mfa.set_policy, account_id, policy, actor=actor()), 200)


@bp.delete("/accounts/<account_id>/users/<user_id>/mfa")
def reset_factors(account_id: str, user_id: str) -> ResponseReturnValue:
    return no_content(run(mfa.reset_factors, account_id, user_id, actor=actor()))

"""Passkeys (WebAuthn level 2, py_webauthn): registration, and authentication as a second factor
or as a sign-in without password.

Each ceremony's challenge is single-use and lives 5 minutes; only its SHA-256 is kept, found
again from the clientDataJSON the browser signs. The relying party id and origin come from
PORTICO_PUBLIC_URL. A payload that cannot be read is a 422 and writes nothing; a signature that
does not verify is a failed sign-in (counted toward the lock).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

import webauthn
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from bus.clock import iso
from bus.envelope import Envelope
from bus.i18n import _l
from services.identity.adapters import mfa_repository as mfa_repo
from services.identity.adapters import sign_ins
from services.identity.domain import mfa
from services.identity.domain.mfa import Passkey
from services.identity.domain.model import UserStatus
from services.identity.domain.records import User
from services.identity.domain.tokens import hash_token
from services.identity.service_layer.common import Actor, audit
from services.identity.service_layer.errors import Conflict, Gone, Invalid, NotFound
from services.identity.service_layer.factors import (
    UnknownStep,
    changed,
    issue_recovery_codes,
    refuse_last_factor,
)
from services.identity.service_layer.sign_in import SignInResult, _fail, _login_key, _succeed
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.users import existing_user

RP_NAME = "Portico"
TIMEOUT_MS = 300_000
UNREADABLE = _l(
    "This passkey answer cannot be read: send the credential exactly as the browser's"
    " navigator.credentials call returned it (JSON, as PublicKeyCredential.toJSON() writes it).",
    code="passkey.unreadable",
)
CHALLENGE_GONE = _l(
    "This passkey request has expired or was already used; start again.", code="passkey.gone"
)
NOT_VERIFIED = _l(
    "This passkey could not be verified; try again, or use another factor.",
    code="passkey.not_verified",
)
UNKNOWN_PASSKEY = _l(
    "This passkey is not registered in the portal; sign in with your e-mail and password.",
    code="passkey.unknown",
)


def passkey_view(key: Passkey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
    }


def _options(options: Any) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return answer


def _keep_challenge(
    uow: IdentityUnitOfWork, challenge: bytes, purpose: str, user_id: str | None
) -> None:
    now = uow.now()
    mfa_repo.add_challenge(
        uow.session,
        hash_token(bytes_to_base64url(challenge)),
        purpose,
        user_id,
        now,
        now + mfa.CHALLENGE_LIFETIME,
    )


def _take_challenge(
    uow: IdentityUnitOfWork, client_data_json: bytes, purpose: str, user_id: str | None = None
) -> bytes:
    """The challenge the browser signed, if it is a live one of `purpose` (and of `user_id`);
    spent here, so it is never accepted twice."""
    try:
        challenge = parse_client_data_json(client_data_json).challenge
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise Invalid({"credential": [UNREADABLE]}, UNREADABLE) from None
    token_hash = hash_token(bytes_to_base64url(challenge))
    found = mfa_repo.get_challenge(uow.session, token_hash)
    if (
        found is None
        or not found.usable(purpose, uow.now())
        or (user_id and found.user_id != user_id)
    ):
        raise Gone(CHALLENGE_GONE)
    if not mfa_repo.spend_challenge(uow.session, token_hash, uow.now()):
        raise Gone(CHALLENGE_GONE)
    return challenge


def _descriptors(keys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    found = []
    for key in keys:
        transports = [
            AuthenticatorTransport(t)
            for t in (key.transports or "").split(",")
            if t in {m.value for m in AuthenticatorTransport}
        ]
        found.append(
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(key.credential_id), transports=transports or None
            )
        )
    return found


# --- registration -------------------------------------------------------------------------------


def registration_options(uow: IdentityUnitOfWork, user_id: str) -> dict[str, Any]:
    """The options of navigator.credentials.create() for the signed-in user (a discoverable
    credential, so that it can sign in without password too)."""
    user = existing_user(uow, user_id)
    config = uow.config
    options = webauthn.generate_registration_options(
        rp_id=config.webauthn_rp_id,
        rp_name=RP_NAME,
        user_name=user.email or user.id,
        user_id=user.id.encode("utf-8"),
        user_display_name=f"{user.first_name} {user.last_name}".strip(),
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(mfa_repo.passkeys_of(uow.session, user.id)),
    )
    _keep_challenge(uow, options.challenge, "passkey_register", user.id)
    return _options(options)


def _registration(credential: Any) -> RegistrationCredential:
    try:
        return parse_registration_credential_json(credential)
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError):
        raise Invalid({"credential": [UNREADABLE]}, UNREADABLE) from None


def register_passkey(
    uow: IdentityUnitOfWork, user_id: str, name: str, credential: Any
) -> tuple[dict[str, Any], Envelope]:
    """Verify the authenticator's answer and keep the passkey; a user's first factor comes with
    10 recovery codes (shown once, in this answer)."""
    user = existing_user(uow, user_id)
    parsed = _registration(credential)
    challenge = _take_challenge(uow, parsed.response.client_data_json, "passkey_register", user.id)
    try:
        verified = webauthn.verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=uow.config.webauthn_rp_id,
            expected_origin=uow.config.webauthn_origin,
        )
    except WebAuthnException as error:
        message = f"{NOT_VERIFIED} ({error})"
        raise Invalid({"credential": [message]}, message) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if mfa_repo.credential_taken(uow.session, credential_id):
        raise Conflict(_l("This passkey is already registered.", code="passkey.already_registered"))
    first = not mfa_repo.factors_of(uow.session, user.id).any
    transports = getattr(parsed.response, "transports", None) or []
    key = Passkey(
        id=str(uuid.uuid4()),
        user_id=user.id,
        credential_id=credential_id,
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        name=name.strip()[:100] or "Passkey",
        transports=",".join(str(getattr(t, "value", t)) for t in transports)[:200] or None,
        created_at=uow.now(),
        last_used_at=None,
    )
    mfa_repo.add_passkey(uow.session, key)
    answer = {**passkey_view(key), "enrolled": True}
    if first:
        answer["recovery_codes"] = issue_recovery_codes(uow, user.id)
    return answer, changed(uow, user, "passkey_added", Actor(user.id, "self"), name=key.name)


def remove_passkey(uow: IdentityUnitOfWork, user_id: str, passkey_id: str) -> Envelope:
    user = existing_user(uow, user_id, for_update=True)
    if not any(key.id == passkey_id for key in mfa_repo.passkeys_of(uow.session, user.id)):
        raise NotFound(_l("You have no passkey with this id.", code="passkey.not_found"))
    refuse_last_factor(uow, user, removing="passkey")
    removed = mfa_repo.delete_passkey(uow.session, user.id, passkey_id)
    assert removed is not None  # found above, in this transaction
    return changed(uow, user, "passkey_removed", Actor(user.id, "self"), name=removed.name)


# --- authentication -----------------------------------------------------------------------------


def authentication_options(uow: IdentityUnitOfWork, mfa_token: str | None = None) -> dict[str, Any]:
    """The options of navigator.credentials.get(): for the second step of a sign-in (given its
    mfa_token: the user's passkeys), or for a sign-in without password (any discoverable one)."""
    if mfa_token is None:
        options = webauthn.generate_authentication_options(
            rp_id=uow.config.webauthn_rp_id,
            timeout=TIMEOUT_MS,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        _keep_challenge(uow, options.challenge, "passkey_sign_in", None)
        return _options(options)
    step = mfa_repo.get_challenge(uow.session, hash_token(mfa_token))
    if step is None or step.purpose != "sign_in":
        raise UnknownStep(mfa.SECOND_FACTOR_UNKNOWN)
    if not step.usable("sign_in", uow.now()) or step.user_id is None:
        raise Gone(mfa.SECOND_FACTOR_GONE)
    options = webauthn.generate_authentication_options(
        rp_id=uow.config.webauthn_rp_id,
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(mfa_repo.passkeys_of(uow.session, step.user_id)),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    _keep_challenge(uow, options.challenge, "passkey_mfa", step.user_id)
    return _options(options)


def _assertion(credential: Any) -> AuthenticationCredential:
    try:
        return parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError):
        raise Invalid({"credential": [UNREADABLE]}, UNREADABLE) from None


def _verified(
    uow: IdentityUnitOfWork,
    parsed: AuthenticationCredential,
    challenge: bytes,
    key: Passkey,
    *,
    user_verification: bool,
) -> VerifiedAuthentication | None:
    """webauthn's verification of the assertion (None: it does not verify); the key's counter
    and last use are written."""
    try:
        result = webauthn.verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=uow.config.webauthn_rp_id,
            expected_origin=uow.config.webauthn_origin,
            credential_public_key=base64url_to_bytes(key.public_key),
            credential_current_sign_count=key.sign_count,
            require_user_verification=user_verification,
        )
    except WebAuthnException:
        return None
    mfa_repo.use_passkey(uow.session, key.id, result.new_sign_count, uow.now())
    return result


def verify_passkey_factor(
    uow: IdentityUnitOfWork, user: User, credential: Any
) -> VerifiedAuthentication | None:
    """The second step with a passkey of the user's (None: not theirs, or not verified)."""
    parsed = _assertion(credential)
    challenge = _take_challenge(uow, parsed.response.client_data_json, "passkey_mfa", user.id)
    key = mfa_repo.passkey_by_credential(uow.session, bytes_to_base64url(parsed.raw_id))
    if key is None or key.user_id != user.id:
        return None
    return _verified(uow, parsed, challenge, key, user_verification=False)


def sign_in_with_passkey(
    uow: IdentityUnitOfWork,
    credential: Any,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> SignInResult:
    """A sign-in without password: a discoverable passkey verified with user verification (the
    authenticator's PIN or biometrics: two factors in one). Counted like a password sign-in."""
    now = uow.now()
    parsed = _assertion(credential)
    challenge = _take_challenge(uow, parsed.response.client_data_json, "passkey_sign_in")
    key = mfa_repo.passkey_by_credential(uow.session, bytes_to_base64url(parsed.raw_id))
    if key is None:
        audit(
            uow,
            "sign_in",
            actor=Actor(None, "self"),
            result="failed",
            ip=ip,
            user_agent=user_agent,
            detail={"factor": "passkey", "reason": "unknown passkey"},
        )
        return SignInResult("failed")
    user = existing_user(uow, key.user_id)
    login = _login_key(user.email or "")
    if login is None:
        return SignInResult("failed")
    state = sign_ins.lock_sign_in(uow.session, login, True, now)
    assert state.user is not None  # the user of the passkey, found by its login key
    seen: dict[str, Any] = dict(
        actor=Actor(user.id, "self"),
        account_id=user.account_id,
        user_id=user.id,
        target=user.email,
        ip=ip,
        user_agent=user_agent,
        detail={"factor": "passkey", "password": False},
    )
    status = UserStatus(state.user.effective_status(now))
    if state.throttle.is_locked(now) or status is UserStatus.LOCKED:
        audit(uow, "sign_in", result="refused_locked", **seen)
        return SignInResult("locked")
    verified = (
        _verified(uow, parsed, challenge, key, user_verification=True)
        if status is UserStatus.ACTIVE
        else None
    )
    if verified is not None:
        return replace(
            _succeed(uow, login, state, None, seen),
            amr=mfa.passkey_alone_amr(synced=verified.credential_backed_up),
        )
    return _fail(uow, login, state.throttle, state.user, status, seen)

"""Second factors: the sign-in's second step, TOTP enrolment and removal, recovery codes, the
account's policy and an administrator's reset.

The second step takes the mfa_token that `sign_in.sign_in` gave for a right password (5 minutes,
single-use, kept as its SHA-256). A wrong code counts toward the same throttle and lock as a
wrong password (`sign_in._fail`). Every change of a user's factors is audited and published as
identity.mfa.changed (the user is e-mailed).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bus.envelope import Envelope
from bus.i18n import _l
from services.identity.adapters import mfa_repository as mfa_repo
from services.identity.adapters import repository as repo
from services.identity.adapters import sign_ins
from services.identity.domain import mfa
from services.identity.domain.mfa import MfaPolicy
from services.identity.domain.model import UserStatus
from services.identity.domain.records import User
from services.identity.domain.tokens import hash_token
from services.identity.service_layer import passkeys
from services.identity.service_layer.common import Actor, audit
from services.identity.service_layer.errors import Conflict, Gone, Invalid, NotFound
from services.identity.service_layer.factors import (
    UnknownStep,
    changed,
    issue_recovery_codes,
    refuse_last_factor,
    totp_accepted,
)
from services.identity.service_layer.sign_in import SignInResult, _fail, _login_key, _succeed
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.users import existing_user, is_administrator, user_in_account

WRONG_PASSWORD = _l(
    "This is not your current password; type it again.", code="password.wrong_current"
)
NO_TOTP_PENDING = _l(
    "No authenticator application is being added; start again with POST /api/v1/me/mfa/totp.",
    code="mfa.nothing_to_confirm",
)
TOTP_ALREADY = _l(
    "An authenticator application is already set up; remove it first to set up another.",
    code="mfa.totp_already",
)


# --- the sign-in's second step ------------------------------------------------------------------


def verify_second_factor(
    uow: IdentityUnitOfWork,
    mfa_token: str,
    *,
    code: str | None = None,
    recovery_code: str | None = None,
    passkey: dict[str, Any] | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> SignInResult:
    """Complete a sign-in with one factor; the caller commits whatever the outcome.

    401 for an mfa_token unknown, 410 (Gone) for one used or expired; otherwise the same outcomes as
    `sign_in.sign_in`: ok, failed (counted toward the lock) or locked.
    """
    now = uow.now()
    token_hash = hash_token(mfa_token)
    challenge = mfa_repo.get_challenge(uow.session, token_hash)
    if challenge is None or challenge.purpose != "sign_in":
        raise UnknownStep(mfa.SECOND_FACTOR_UNKNOWN)
    if not challenge.usable("sign_in", now) or challenge.user_id is None:
        raise Gone(mfa.SECOND_FACTOR_GONE)
    user = existing_user(uow, challenge.user_id)
    key = _login_key(user.email or "")
    if key is None:  # the user's address went since the password step
        raise Gone(mfa.SECOND_FACTOR_GONE)
    state = sign_ins.lock_sign_in(uow.session, key, True, now)
    if state.user is None or state.user.id != user.id:
        raise Gone(mfa.SECOND_FACTOR_GONE)
    factor = (
        "totp" if code is not None else "recovery_code" if recovery_code is not None else "passkey"
    )
    seen: dict[str, Any] = dict(
        actor=Actor(user.id, "self"),
        account_id=user.account_id,
        user_id=user.id,
        target=user.email,
        ip=ip,
        user_agent=user_agent,
        detail={"step": "second_factor", "factor": factor},
    )
    status = UserStatus(state.user.effective_status(now))
    if state.throttle.is_locked(now) or status is UserStatus.LOCKED:
        audit(uow, "sign_in", result="refused_locked", **seen)
        return SignInResult("locked")
    amr = (
        _factor_amr(uow, state.user, code, recovery_code, passkey)
        if status is UserStatus.ACTIVE
        else None
    )
    if amr is not None:
        if not mfa_repo.spend_challenge(uow.session, token_hash, now):
            raise Gone(mfa.SECOND_FACTOR_GONE)
        return replace(_succeed(uow, key, state, None, seen), amr=amr)
    return _fail(uow, key, state.throttle, state.user, status, seen)


def _factor_amr(
    uow: IdentityUnitOfWork,
    user: User,
    code: str | None,
    recovery_code: str | None,
    passkey: dict[str, Any] | None,
) -> tuple[str, ...] | None:
    """How the sign-in was made (RFC 8176 amr) when the factor is right; None when it is not."""
    now = uow.now()
    if code is not None:
        return mfa.second_step_amr("totp") if totp_accepted(uow, user, code) else None
    if recovery_code is not None:
        factors = mfa_repo.factors_of(uow.session, user.id)
        if not factors.any or not mfa_repo.use_recovery_code(
            uow.session, user.id, uow.config.mfa_key.hash_recovery_code(recovery_code), now
        ):
            return None
        changed(
            uow,
            user,
            "recovery_code_used",
            Actor(user.id, "self"),
            recovery_codes_left=factors.recovery_codes_left - 1,
        )
        return mfa.second_step_amr("recovery_code")
    if passkey is not None:
        verified = passkeys.verify_passkey_factor(uow, user, passkey)
        if verified is None:
            return None
        return mfa.second_step_amr("passkey", passkey_synced=verified.credential_backed_up)
    return None


# --- the caller's factors -----------------------------------------------------------------------


def show_factors(uow: IdentityUnitOfWork, user_id: str) -> dict[str, Any]:
    """GET /me/mfa: `{totp: {enabled}, passkeys: [...], recovery_codes_left, required}`."""
    user = existing_user(uow, user_id)
    factors = mfa_repo.factors_of(uow.session, user.id, user.account_id)
    return {
        "totp": {"enabled": factors.totp},
        "passkeys": [
            passkeys.passkey_view(key) for key in mfa_repo.passkeys_of(uow.session, user.id)
        ],
        "recovery_codes_left": factors.recovery_codes_left,
        "required": factors.policy.covers(is_administrator=is_administrator(uow, user)),
    }


def start_totp(uow: IdentityUnitOfWork, user_id: str) -> dict[str, Any]:
    """A new secret, shown once (with its otpauth:// URI); confirmed by a first code."""
    user = existing_user(uow, user_id)
    current = mfa_repo.get_totp(uow.session, user.id, for_update=True)
    if current is not None and current.confirmed_at is not None:
        raise Conflict(TOTP_ALREADY)
    secret = mfa.new_totp_secret()
    mfa_repo.start_totp(uow.session, user.id, uow.config.mfa_key.encrypt(secret), uow.now())
    return {"secret": secret, "otpauth_uri": mfa.otpauth_uri(secret, user.email or user.id)}


def confirm_totp(
    uow: IdentityUnitOfWork, user_id: str, code: str
) -> tuple[dict[str, Any], Envelope]:
    """The first code proves the application holds the secret: TOTP is on, and 10 recovery codes
    are made (shown once, in this answer only)."""
    user = existing_user(uow, user_id)
    now = uow.now()
    pending = mfa_repo.get_totp(uow.session, user.id, for_update=True)
    if pending is None or pending.confirmed_at is not None:
        raise Conflict(NO_TOTP_PENDING if pending is None else TOTP_ALREADY)
    step = mfa.matching_step(
        uow.config.mfa_key.decrypt(pending.secret_encrypted),
        code,
        now,
        last_used_step=pending.last_used_step,
    )
    if step is None or not mfa_repo.use_totp_step(uow.session, user.id, step, confirm_at=now):
        raise Invalid({"code": [mfa.WRONG_CODE]}, mfa.WRONG_CODE)
    codes = issue_recovery_codes(uow, user.id)
    event = changed(uow, user, "totp_enabled", Actor(user.id, "self"))
    return {"recovery_codes": codes, "enrolled": True}, event


def remove_totp(uow: IdentityUnitOfWork, user_id: str, password: str) -> Envelope:
    """The user removes their authenticator application, giving their password."""
    user = existing_user(uow, user_id, for_update=True)
    if not user.password_hash or not uow.hasher.verify(user.password_hash, password):
        audit(
            uow,
            "mfa_totp_removed",
            actor=Actor(user.id, "self"),
            account_id=user.account_id,
            user_id=user.id,
            target=user.email,
            result="wrong_password",
        )
        uow.commit()  # the refusal stays in the audit trail
        raise Invalid({"password": [WRONG_PASSWORD]}, WRONG_PASSWORD)
    totp = mfa_repo.get_totp(uow.session, user.id, for_update=True)
    if totp is None:
        raise NotFound(_l("No authenticator application is set up.", code="mfa.no_totp"))
    if totp.confirmed_at is not None:
        refuse_last_factor(uow, user, removing="totp")
    mfa_repo.delete_totp(uow.session, user.id)
    return changed(uow, user, "totp_removed", Actor(user.id, "self"))


def renew_recovery_codes(uow: IdentityUnitOfWork, user_id: str) -> tuple[dict[str, Any], Envelope]:
    """10 new recovery codes (the earlier ones stop working); only for a user with a factor."""
    user = existing_user(uow, user_id)
    if not mfa_repo.factors_of(uow.session, user.id).any:
        raise Conflict(
            _l(
                "Recovery codes come with a second factor: set up an authenticator application"
                " or a passkey first.",
                code="mfa.no_factor",
            )
        )
    codes = issue_recovery_codes(uow, user.id)
    return {"recovery_codes": codes}, changed(
        uow, user, "recovery_codes_renewed", Actor(user.id, "self")
    )


# --- the account's policy, an administrator's reset ---------------------------------------------


def show_policy(uow: IdentityUnitOfWork, account_id: str) -> dict[str, Any]:
    if repo.get_account(uow.session, account_id) is None:
        raise NotFound(_l("No account has this id.", code="account.not_found"))
    return {
        "account_id": account_id,
        "mfa_required_for": mfa_repo.policy_of(uow.session, account_id).value,
    }


def set_policy(
    uow: IdentityUnitOfWork, account_id: str, policy: MfaPolicy, *, actor: Actor
) -> tuple[dict[str, Any], Envelope | None]:
    """Who in the account must have a second factor; covered users without one enrol at their
    next sign-in. Setting the policy it already has changes nothing (no event)."""
    before = show_policy(uow, account_id)["mfa_required_for"]
    if before == policy.value:
        return {"account_id": account_id, "mfa_required_for": policy.value}, None
    mfa_repo.set_policy(uow.session, account_id, policy, uow.now(), actor.id)
    audit(
        uow,
        "mfa_policy_changed",
        actor=actor,
        account_id=account_id,
        target=account_id,
        result="succeeded",
        detail={"from": before, "to": policy.value},
    )
    event = uow.publish(
        "identity.account.security_changed",
        {"account_id": account_id, "mfa_required_for": policy.value, "by": actor.id},
    )
    return {"account_id": account_id, "mfa_required_for": policy.value}, event


def reset_factors(
    uow: IdentityUnitOfWork, account_id: str, user_id: str, *, actor: Actor
) -> Envelope:
    """An administrator removes every factor of a user (a lost phone): the user signs in with
    the password alone, and enrols again if the policy covers them."""
    user = user_in_account(uow, account_id, user_id, for_update=True)
    mfa_repo.delete_factors(uow.session, user.id)
    return changed(uow, user, "factors_reset", actor)


def forget_old_challenges(uow: IdentityUnitOfWork) -> int:
    """Periodic: one-time steps an hour past their expiry go."""
    return mfa_repo.forget_challenges(uow.session, uow.now() - timedelta(hours=1))

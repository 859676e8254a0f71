"""Signing in: the password check, the per-e-mail throttle and lock, rehashing, and unlocking.

Failures are counted per login key of the typed e-mail (bus.login, domain.lockout.throttle_key)
for every address, known or not and whatever the user's level, and the user is looked up by the
same key: every spelling of an address is one login. After `lock_threshold` consecutive failures
that login is refused for `lock_minutes`, and the answers for unknown and known addresses cannot
be told apart. A user whose level's policy locks (moderate, strong) is moreover *locked*: status
`locked`, identity.user.locked published (the person is e-mailed, sessions end). A weak-level
user's policy never locks the account, so for them the throttle alone applies, exactly as for an
address nobody has.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bus.clock import iso
from bus.envelope import Envelope
from services.identity.adapters import mfa_repository as mfa_repo
from services.identity.adapters import repository as repo
from services.identity.adapters import sign_ins
from services.identity.domain import lockout, mfa, model
from services.identity.domain.model import UserStatus
from services.identity.domain.passwords import policy_for
from services.identity.domain.records import SignInState, User
from services.identity.domain.tokens import new_token
from services.identity.domain.validation import InvalidField, login_key_of
from services.identity.service_layer.common import SYSTEM, Actor, audit, audit_entry
from services.identity.service_layer.errors import Conflict
from services.identity.service_layer.factors import totp_accepted
from services.identity.service_layer.passwords import (
    clear_throttle,
    password_expired,
    unlock_without_actor,
)
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.users import user_in_account
from services.identity.service_layer.views import user_view

THROTTLE_FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class SignInResult:
    outcome: str  # ok | failed | locked | second_factor (the password was right; a factor is due)
    user: dict[str, Any] | None = None
    password_change_required: bool = False
    mfa_token: str | None = None  # second_factor: the one-time proof that the password was right
    methods: tuple[str, ...] = ()  # second_factor: the user's factors
    enrolment_required: bool = False  # ok: the account's policy wants a factor the user lacks
    amr: tuple[str, ...] = mfa.AMR_PASSWORD  # ok: how the user proved who they are (RFC 8176)


def _login_key(email: str) -> str | None:
    try:
        return login_key_of(email)
    except InvalidField:
        return None


def sign_in(
    uow: IdentityUnitOfWork,
    email: str,
    password: str,
    *,
    code: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> SignInResult:
    """Check an e-mail and password; the caller commits whatever the outcome (audit, counters).

    Every outcome costs the same database work and one Argon2 verification (a dummy one when
    there is no hash): on PostgreSQL one statement reads (and locks; with the user's second
    factors), one writes.

    With `code` (a TOTP code sent with the password), a user with an authenticator application
    is signed in at once when it is right, and a wrong one fails as a wrong password does (the
    same answer, counted toward the lock); a user without one gets the usual second step.
    """
    now = uow.now()
    login = _login_key(email)
    key = login if login is not None else lockout.throttle_key(email)
    state = sign_ins.lock_sign_in(uow.session, key, login is not None, now)
    throttle, user = state.throttle, state.user
    seen: dict[str, Any] = dict(
        actor=Actor(user.id if user else None, "self"),
        account_id=user.account_id if user else None,
        user_id=user.id if user else None,
        target=email.strip()[:320],
        ip=ip,
        user_agent=user_agent,
    )
    status = UserStatus(user.effective_status(now)) if user else None
    if throttle.is_locked(now) or status is UserStatus.LOCKED:
        sign_ins.record_refused_sign_in(
            uow.session, audit_entry(uow, "sign_in", result="refused_locked", **seen)
        )
        return SignInResult("locked")
    if user is not None and user.password_hash:
        verified = uow.hasher.verify(user.password_hash, password)
    else:
        verified = uow.hasher.dummy_verify(password)  # the time a real check takes; always False
    if verified and status is UserStatus.ACTIVE:
        assert user is not None  # verified against its hash
        factors = state.factors or mfa_repo.factors_of(uow.session, user.id, user.account_id)
        if factors.any and code is not None and factors.totp:
            if not totp_accepted(uow, user, code):
                return _fail(uow, key, throttle, user, status, seen)
            result = _succeed(uow, key, state, password, seen)
            return replace(result, amr=mfa.second_step_amr("totp"))
        if factors.any:
            return _await_second_factor(uow, user, password, factors, seen)
        result = _succeed(uow, key, state, password, seen)
        if factors.policy.covers(is_administrator=state.is_administrator):
            return replace(result, enrolment_required=True)
        return result
    return _fail(uow, key, throttle, user, status, seen)


def _await_second_factor(
    uow: IdentityUnitOfWork, user: User, password: str, factors: mfa.Factors, seen: dict[str, Any]
) -> SignInResult:
    """The password was right and the user has a factor: the sign-in waits for it. The throttle
    is left as it is (a right password must not wipe out wrong codes), and an mfa_token, kept
    as its SHA-256 only, proves the password step to `verify_second_factor` for 5 minutes."""
    now = uow.now()
    changed = _rehashed(uow, user, password)
    if changed:
        repo.update_user(uow.session, user, changed)
    plain, token_hash = new_token()
    mfa_repo.add_challenge(
        uow.session, token_hash, "sign_in", user.id, now, now + mfa.MFA_TOKEN_LIFETIME
    )
    audit(uow, "sign_in", result="second_factor_required", **seen)
    return SignInResult("second_factor", mfa_token=plain, methods=tuple(factors.methods()))


def _rehashed(uow: IdentityUnitOfWork, user: User, password: str) -> dict[str, Any]:
    """The new hash when the hasher's parameters were raised since it was made (else nothing)."""
    assert user.password_hash is not None  # verified against it
    if not uow.hasher.needs_rehash(user.password_hash):
        return {}
    new_hash = uow.hasher.hash(password)
    repo.rehash_in_history(uow.session, user.id, user.password_hash, new_hash)
    return {"password_hash": new_hash}


def _succeed(
    uow: IdentityUnitOfWork,
    key: str,
    state: SignInState,
    password: str | None,
    seen: dict[str, Any],
) -> SignInResult:
    """The sign-in succeeds (after the password, or after the second factor: `password` None)."""
    now = uow.now()
    user = state.user
    assert user is not None  # verified
    # besides the sign-in dates, rarely
    changed: dict[str, Any] = _rehashed(uow, user, password) if password is not None else {}
    if user.status == UserStatus.LOCKED:  # its lock ran out
        changed.update(status=UserStatus.ACTIVE.value, locked_until=None)
        uow.publish(
            "identity.user.unlocked",
            {"user_id": user.id, "account_id": user.account_id, "by": None},
        )
    if changed:
        repo.update_user(uow.session, user, changed)
    sign_ins.record_sign_in(
        uow.session,
        key,
        user.id,
        now,
        user.last_sign_in_at,
        audit_entry(uow, "sign_in", result="succeeded", **seen),
    )
    # The user as stored now, without reading it again.
    user = replace(user, **changed, last_sign_in_at=now, previous_sign_in_at=user.last_sign_in_at)
    return SignInResult(
        "ok",
        user_view(user, is_administrator=state.is_administrator, now=now),
        password_expired(uow, user),
    )


def _fail(
    uow: IdentityUnitOfWork,
    key: str,
    throttle: lockout.LoginThrottle,
    user: User | None,
    status: UserStatus | None,
    seen: dict[str, Any],
) -> SignInResult:
    now = uow.now()
    config = uow.config
    throttle, locked = throttle.record_failure(
        now, threshold=config.lock_threshold, lock_minutes=config.lock_minutes
    )
    sign_ins.record_failed_sign_in(
        uow.session,
        key,
        throttle,
        now,
        audit_entry(uow, "sign_in", result="failed_now_locked" if locked else "failed", **seen),
    )
    if not locked:
        return SignInResult("failed")
    if (
        user is not None
        and status is UserStatus.ACTIVE  # effective: a lock that ran out is over
        and throttle.locked_until is not None
        and policy_for(user.password_level, config.password_profile).lock_threshold is not None
    ):
        lock_user(uow, user, throttle.locked_until)
    return SignInResult("locked")


def lock_user(uow: IdentityUnitOfWork, user: User, until: datetime) -> Envelope:
    repo.update_user(
        uow.session, user, {"status": model.lock(UserStatus(user.status)), "locked_until": until}
    )
    audit(
        uow,
        "user_locked",
        actor=SYSTEM,
        account_id=user.account_id,
        user_id=user.id,
        target=user.email,
        result="failed_sign_ins",
    )
    return uow.publish(
        "identity.user.locked",
        {
            "user_id": user.id,
            "account_id": user.account_id,
            "until": iso(until),
            "reason": "failed_sign_ins",
        },
    )


def unlock_user(
    uow: IdentityUnitOfWork, account_id: str, user_id: str, *, actor: Actor
) -> Envelope | None:
    """An administrator ends a lock (and the sign-in throttle of the user's e-mail)."""
    user = user_in_account(uow, account_id, user_id, for_update=True)
    try:
        model.unlock(UserStatus(user.status))
    except model.TransitionRefused as refusal:
        raise Conflict(refusal.message) from None
    clear_throttle(uow, user.email)
    event = None
    if user.status == UserStatus.LOCKED:
        repo.update_user(
            uow.session,
            user,
            {"status": UserStatus.ACTIVE, "locked_until": None, "updated_at": uow.now()},
        )
        event = uow.publish(
            "identity.user.unlocked",
            {"user_id": user.id, "account_id": user.account_id, "by": actor.id},
        )
    audit(
        uow, "user_unlocked", actor=actor, account_id=account_id, user_id=user.id, target=user.email
    )
    return event


def release_expired_locks(uow: IdentityUnitOfWork) -> int:
    """Periodic: users whose lock ran out become active again; old throttle rows are forgotten."""
    now = uow.now()
    expired = repo.expired_locks(uow.session, now)
    for user in expired:
        unlock_without_actor(uow, user, SYSTEM, "lock_expired")
    repo.forget_throttles(uow.session, now - THROTTLE_FORGET_AFTER, now)
    return len(expired)

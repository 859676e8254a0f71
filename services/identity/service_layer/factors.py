"""What every change of a user's second factors shares: the recovery codes that come with the
first factor, the refusal to remove the last one the policy requires, and the audit entry and
identity.mfa.changed event of each change."""

from __future__ import annotations

from typing import Any

from bus.envelope import Envelope
from bus.i18n import _l
from services.identity.adapters import mfa_repository as mfa_repo
from services.identity.domain import mfa
from services.identity.domain.records import User
from services.identity.service_layer.common import Actor, audit
from services.identity.service_layer.errors import Conflict, IdentityError
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.users import is_administrator


class UnknownStep(IdentityError):
    """An mfa_token that names no sign-in step (never issued, or forgotten): 401."""

    status = 401
    title = "Unauthorized"


LAST_FACTOR = _l(
    "Your account's policy requires a second factor, and this is your last one: add"
    " another (an authenticator application or a passkey) before removing it.",
    code="mfa.last_factor",
)


def issue_recovery_codes(uow: IdentityUnitOfWork, user_id: str) -> list[str]:
    codes = mfa.new_recovery_codes()
    key = uow.config.mfa_key
    mfa_repo.replace_recovery_codes(
        uow.session, user_id, [key.hash_recovery_code(c) for c in codes]
    )
    return codes


def refuse_last_factor(uow: IdentityUnitOfWork, user: User, *, removing: str) -> None:
    """409 when the account's policy covers the user and `removing` is their last factor."""
    factors = mfa_repo.factors_of(uow.session, user.id, user.account_id)
    left = (factors.passkeys if removing == "totp" else factors.passkeys - 1) + (
        factors.totp and removing != "totp"
    )
    if left <= 0 and factors.policy.covers(is_administrator=is_administrator(uow, user)):
        raise Conflict(LAST_FACTOR)


def changed(
    uow: IdentityUnitOfWork, user: User, change: str, actor: Actor, **extra: Any
) -> Envelope:
    """Audit a change of the user's factors and publish it (the user is e-mailed)."""
    audit(
        uow,
        f"mfa_{change}",
        actor=actor,
        account_id=user.account_id,
        user_id=user.id,
        target=user.email,
        result="succeeded",
        detail={k: v for k, v in extra.items() if v is not None} or None,
    )
    return uow.publish(
        "identity.mfa.changed",
        {
            "user_id": user.id,
            "account_id": user.account_id,
            "change": change,
            "by": actor.id,
            **extra,
        },
    )


def totp_accepted(uow: IdentityUnitOfWork, user: User, code: str) -> bool:
    """Whether `code` is the user's TOTP of a step not used yet (±1 step); the step is then
    spent. A code of a step already used is refused, audited and e-mailed to the user."""
    totp = mfa_repo.get_totp(uow.session, user.id, for_update=True)
    if totp is None or totp.confirmed_at is None:
        return False
    now = uow.now()
    secret = uow.config.mfa_key.decrypt(totp.secret_encrypted)
    step = mfa.matching_step(secret, code, now, last_used_step=totp.last_used_step)
    if step is None and mfa.is_replayed(secret, code, now, last_used_step=totp.last_used_step):
        changed(uow, user, "totp_code_reused", Actor(user.id, "self"))  # refused; the user is told
    return step is not None and mfa_repo.use_totp_step(uow.session, user.id, step)

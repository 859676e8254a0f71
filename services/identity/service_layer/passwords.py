"""Passwords: the level's policy with history, storing a hash, changing, forgetting, resetting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bus.envelope import Envelope
from bus.i18n import _l, code_of, joined
from services.identity.adapters import repository as repo
from services.identity.domain import lockout
from services.identity.domain.model import UserStatus
from services.identity.domain.passwords import check_against, policy_for
from services.identity.domain.records import User
from services.identity.domain.validation import InvalidField, login_key_of
from services.identity.service_layer.common import Actor, audit
from services.identity.service_layer.errors import Conflict, Invalid
from services.identity.service_layer.links import issue_link, open_token, revoke_links, spend_token
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.users import existing_user

WRONG_CURRENT = _l(
    "The current password is not right; type it again, or sign out and use “Forgotten password”.",
    code="password.wrong_current",
)


def reset_answer(uow: IdentityUnitOfWork) -> dict[str, str]:
    """The one answer to every reset request, known address or not."""
    minutes = uow.config.reset_minutes
    lifetime = (
        f"{minutes // 60} hour{'s' if minutes >= 120 else ''}"
        if minutes % 60 == 0
        else f"{minutes} minutes"
    )
    return {
        "detail": "If this address is known, a message with a link to choose a new password was"
        f" sent to it. The link works once, for {lifetime}. Check your spam folder"
        " before asking again."
    }


def previous_hashes(uow: IdentityUnitOfWork, user_id: str) -> list[str]:
    """The user's password hashes, most recent (the current one) first."""
    return repo.password_hashes(uow.session, user_id, uow.config.history_kept)


def password_violations(
    uow: IdentityUnitOfWork,
    user: User,
    password: str,
    *,
    level: int | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> list[str]:
    """What `password` breaks in the user's level's policy (names and history included)."""
    policy = policy_for(level or user.password_level, uow.config.password_profile)
    violations = check_against(
        policy,
        password,
        first_name=first_name if first_name is not None else user.first_name,
        last_name=last_name if last_name is not None else user.last_name,
        previous_hashes=previous_hashes(uow, user.id) if policy.history else (),
        hasher=uow.hasher,
    )
    return [violation.message for violation in violations]


def refuse_password(messages: list[str], field: str = "password") -> Invalid:
    return Invalid(
        {field: messages},
        _l(
            "The password does not follow the rules: {rules}",
            code=code_of(messages[0]) if len(messages) == 1 else "password.rules_broken",
            rules=joined(messages),
        ),
    )


def store_password(uow: IdentityUnitOfWork, user_id: str, password: str) -> None:
    """Hash and keep `password` as the user's, and in their history (the last ones only)."""
    repo.set_password(
        uow.session, user_id, uow.hasher.hash(password), uow.now(), kept=uow.config.history_kept
    )


def password_expired(uow: IdentityUnitOfWork, user: User) -> bool:
    """True when the level's policy says the password must be changed now."""
    policy = policy_for(user.password_level, uow.config.password_profile)
    changed = user.password_changed_at
    return changed is not None and policy.expires(changed, uow.now())


def clear_throttle(uow: IdentityUnitOfWork, email: str | None) -> None:
    """Forget the failed sign-ins of this address's login, whichever spelling they were typed in."""
    if email:
        repo.clear_throttle(uow.session, lockout.throttle_key(email))


def change_password(uow: IdentityUnitOfWork, user_id: str, current: str, new: str) -> Envelope:
    """The signed-in user changes their password; their other sessions end (gateway)."""
    user = existing_user(uow, user_id, for_update=True)
    if not user.password_hash or not uow.hasher.verify(user.password_hash, current):
        audit(
            uow,
            "password_change",
            actor=Actor(user_id, "self"),
            account_id=user.account_id,
            user_id=user_id,
            result="wrong_current_password",
        )
        uow.commit()  # the refusal stays in the audit trail
        raise Invalid({"current_password": [WRONG_CURRENT]}, WRONG_CURRENT)
    messages = password_violations(uow, user, new)
    if messages:
        raise refuse_password(messages, "new_password")
    store_password(uow, user_id, new)
    audit(
        uow,
        "password_change",
        actor=Actor(user_id, "self"),
        account_id=user.account_id,
        user_id=user_id,
        result="succeeded",
    )
    return uow.publish(
        "identity.password.changed",
        {"user_id": user_id, "account_id": user.account_id, "via": "change"},
    )


def request_password_reset(
    uow: IdentityUnitOfWork, email: str, *, ip: str | None = None, user_agent: str | None = None
) -> dict[str, str]:
    """Send a reset link if the address is known (send_reset_link); the answer is the same
    whatever happened (reset_answer)."""
    send_reset_link(uow, email, ip=ip, user_agent=user_agent)
    return reset_answer(uow)


def send_reset_link(
    uow: IdentityUnitOfWork, email: str, *, ip: str | None = None, user_agent: str | None = None
) -> None:
    """Send a reset link if the address is known (at most one per login per few minutes: every
    spelling of the address finds the one user and their last e-mail's time).

    A user still waiting for activation is sent a new activation link instead: that is how they
    set their first password.
    """
    try:
        key = login_key_of(email)
    except InvalidField:
        key = None
    user = repo.get_user_by_login_key(uow.session, key, for_update=True) if key else None
    seen: dict[str, Any] = dict(
        actor=Actor(user.id if user else None, "self"), ip=ip, user_agent=user_agent
    )
    if user is None or user.status in (UserStatus.NO_EMAIL, UserStatus.DEACTIVATED):
        audit(  # a deactivated user is told nothing more than an unknown address
            uow,
            "password_reset_request",
            result="unknown_email",
            target=email.strip()[:320],
            **seen,
        )
        return
    now = uow.now()
    last = user.reset_mail_at
    where: dict[str, Any] = dict(account_id=user.account_id, user_id=user.id, target=user.email)
    if last is not None and now - last < timedelta(minutes=uow.config.reset_mail_interval_minutes):
        audit(uow, "password_reset_request", result="not_sent_too_soon", **where, **seen)
        return
    repo.update_user(uow.session, user, {"reset_mail_at": now})
    if user.status == UserStatus.PENDING_ACTIVATION:
        issue_link(uow, user, "activation", resent=True)
        audit(uow, "password_reset_request", result="activation_sent", **where, **seen)
        return
    issue_link(uow, user, "reset")
    audit(uow, "password_reset_request", result="sent", **where, **seen)


def reset_password(uow: IdentityUnitOfWork, token: str, password: str) -> Envelope:
    """Set a new password with a reset link; this also ends a lock."""
    row = open_token(uow, token, "reset")
    user = existing_user(uow, row.user_id, for_update=True)
    if user.status not in (UserStatus.ACTIVE, UserStatus.LOCKED):
        raise Conflict(
            _l(
                "This account is not activated yet: use the activation link you were sent.",
                code="user.not_active",
            )
        )
    messages = password_violations(uow, user, password)
    if messages:
        raise refuse_password(messages)
    spend_token(uow, row)
    revoke_links(uow, user.id, "reset")
    store_password(uow, user.id, password)
    clear_throttle(uow, user.email)
    actor = Actor(user.id, "self")
    if user.status == UserStatus.LOCKED:
        unlock_without_actor(uow, user, actor, "password_reset")
    audit(
        uow,
        "password_reset",
        actor=actor,
        account_id=user.account_id,
        user_id=user.id,
        target=user.email,
        result="succeeded",
    )
    return uow.publish(
        "identity.password.changed",
        {"user_id": user.id, "account_id": user.account_id, "via": "reset"},
    )


def unlock_without_actor(uow: IdentityUnitOfWork, user: User, actor: Actor, result: str) -> None:
    """A locked user becomes active again by a rule (the lock ran out, a password reset): the
    event names no administrator; the audit says why."""
    repo.update_user(uow.session, user, {"status": UserStatus.ACTIVE, "locked_until": None})
    uow.publish(
        "identity.user.unlocked",
        {"user_id": user.id, "account_id": user.account_id, "by": None},
    )
    audit(
        uow,
        "user_unlocked",
        actor=actor,
        account_id=user.account_id,
        user_id=user.id,
        target=user.email,
        result=result,
    )

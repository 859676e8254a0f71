"""Users: create (by an administrator or the operator), read, modify, delete, resend activation."""

from __future__ import annotations

import uuid
from typing import Any

from bus.clock import iso
from bus.envelope import Envelope
from bus.i18n import _l
from services.identity.adapters import repository as repo
from services.identity.domain import model
from services.identity.domain.model import UserStatus
from services.identity.domain.records import User
from services.identity.domain.validation import login_key_of
from services.identity.service_layer.common import (
    NO_SUCH_ACCOUNT,
    NO_SUCH_USER,
    Actor,
    audit,
)
from services.identity.service_layer.errors import USER_EXISTS, Conflict, Invalid, NotFound
from services.identity.service_layer.fields import clean_user_fields
from services.identity.service_layer.links import issue_link
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.views import account_view, user_event, user_view

NOT_IN_ACCOUNT = _l("No user with this id in this account.", code="user.not_found")


def create_user(
    uow: IdentityUnitOfWork,
    account_id: str,
    data: dict[str, Any],
    *,
    actor: Actor,
    source: str,
    grant_administration: bool = False,
    email_required: bool = True,
) -> tuple[dict[str, Any], Envelope]:
    """Create a user waiting for activation and send the activation link.

    Without an e-mail (allowed to administrators) the user is a contact in status `no_email`.
    """
    if repo.get_account(uow.session, account_id) is None:
        raise NotFound(NO_SUCH_ACCOUNT)
    required = ("title", "last_name", "first_name", "language", "password_level")
    values = clean_user_fields(data, required=(*required, "email") if email_required else required)
    email = values.get("email")
    key = login_key_of(email) if email else None
    if key and repo.get_user_by_login_key(uow.session, key):
        raise Conflict(USER_EXISTS)
    now = uow.now()
    user_id = str(uuid.uuid4())
    new = User(
        **{
            "title": None,
            "function": None,
            "office_phone": None,
            "mobile_phone": None,
            "email": None,
            **values,
        },
        login_key=key,
        id=user_id,
        account_id=account_id,
        status=UserStatus.PENDING_ACTIVATION if email else UserStatus.NO_EMAIL,
        source=source,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    try:
        repo.add_user(uow.session, new)
    except repo.LoginTaken:  # the same address, created at the same moment by someone else
        raise Conflict(USER_EXISTS) from None
    user = existing_user(uow, user_id)
    created = uow.publish(
        "identity.user.created",
        user_event(
            user,
            now,
            source=source,
            created_by=actor.id,
            grant_administration=grant_administration,
            import_job_id=None,
            import_line=None,
            created_at=iso(now),
        ),
    )
    if email:
        issue_link(uow, user, "activation")
    audit(
        uow,
        "user_created",
        actor=actor,
        account_id=account_id,
        user_id=user_id,
        target=user.label,
        detail={"grant_administration": True} if grant_administration else None,
    )
    return user_view(user, is_administrator=False, now=now), created


def user_in_account(
    uow: IdentityUnitOfWork, account_id: str, user_id: str, *, for_update: bool = False
) -> User:
    """The user, when it belongs to `account_id`; NotFound otherwise (tenant consistency)."""
    user = repo.get_user(uow.session, user_id, for_update=for_update)
    if user is None or user.account_id != account_id:
        raise NotFound(NOT_IN_ACCOUNT)
    return user


def existing_user(uow: IdentityUnitOfWork, user_id: str, *, for_update: bool = False) -> User:
    user = repo.get_user(uow.session, user_id, for_update=for_update)
    if user is None:
        raise NotFound(NO_SUCH_USER)
    return user


def is_administrator(uow: IdentityUnitOfWork, user: User) -> bool:
    return user.account_id in repo.administered_accounts(uow.session, user.id)


def show_user(uow: IdentityUnitOfWork, user: User) -> dict[str, Any]:
    return user_view(user, is_administrator=is_administrator(uow, user), now=uow.now())


def get_user(uow: IdentityUnitOfWork, account_id: str, user_id: str) -> dict[str, Any]:
    return show_user(uow, user_in_account(uow, account_id, user_id))


def get_me(uow: IdentityUnitOfWork, user_id: str) -> dict[str, Any]:
    """The user and their account (the profile page)."""
    user = existing_user(uow, user_id)
    account = repo.get_account(uow.session, user.account_id)
    if account is None:  # users.account_id references accounts: never, short of a broken database
        raise NotFound(NO_SUCH_ACCOUNT)
    return {**show_user(uow, user), "account": account_view(account)}


def update_account_user(
    uow: IdentityUnitOfWork, account_id: str, user_id: str, data: dict[str, Any], *, actor: Actor
) -> tuple[dict[str, Any], Envelope | None]:
    """An administrator changes a user of the account (update_user)."""
    return update_user(
        uow, user_in_account(uow, account_id, user_id, for_update=True), data, actor=actor
    )


def update_me(
    uow: IdentityUnitOfWork, user_id: str, data: dict[str, Any]
) -> tuple[dict[str, Any], Envelope | None]:
    """The signed-in user changes their own profile (update_user)."""
    return update_user(
        uow, existing_user(uow, user_id, for_update=True), data, actor=Actor(user_id, "self")
    )


def update_user(
    uow: IdentityUnitOfWork, user: User, data: dict[str, Any], *, actor: Actor
) -> tuple[dict[str, Any], Envelope | None]:
    """Change the given fields; publish identity.user.updated naming those that changed.

    An e-mail may be given here only to a contact without one (it then waits for activation);
    any other address changes through an e-mail change.
    """
    values = clean_user_fields(data, partial=True, language=user.language)
    attach = False
    if "email" in values:
        if user.status != UserStatus.NO_EMAIL:
            message = _l(
                "The e-mail address changes through an e-mail change: a confirmation link goes"
                " to the new address.",
                code="user.email_change_needed",
            )
            raise Invalid({"email": [message]}, message)
        key = login_key_of(values["email"])
        if repo.get_user_by_login_key(uow.session, key):
            raise Conflict(USER_EXISTS)
        attach = True
    changed = sorted(name for name, value in values.items() if getattr(user, name) != value)
    if not changed:
        return show_user(uow, user), None
    now = uow.now()
    update = {**values, "updated_at": now}
    if attach:
        update["status"] = model.attach_email(UserStatus(user.status)).value
        update["login_key"] = key
        changed.append("status")
    try:
        repo.update_user(uow.session, user, update)
    except repo.LoginTaken:  # the same login, attached at the same moment by someone else
        raise Conflict(USER_EXISTS) from None
    user = existing_user(uow, user.id)
    event = uow.publish("identity.user.updated", user_event(user, now, changed=changed))
    if attach:
        issue_link(uow, user, "activation")
    audit(
        uow,
        "user_updated",
        actor=actor,
        account_id=user.account_id,
        user_id=user.id,
        target=user.email,
        detail={"changed": changed},
    )
    return show_user(uow, user), event


def delete_user(
    uow: IdentityUnitOfWork, account_id: str, user_id: str, *, actor: Actor
) -> Envelope:
    """Delete a user, unless that leaves an account without administrator."""
    user = user_in_account(uow, account_id, user_id, for_update=True)
    for administered in sorted(repo.administered_accounts(uow.session, user_id)):
        if not repo.administrator_ids(uow.session, administered, for_update=True) - {user_id}:
            account = repo.get_account(uow.session, administered)
            raise Conflict(
                _l(
                    "{label} must keep at least one administrator: this user is the last one."
                    " Grant the administration service to another user first, then delete"
                    " this one.",
                    code="user.last_administrator",
                    label=account.label if account else _l("This account"),
                )
            )
    repo.delete_user(uow.session, user_id)
    event = uow.publish(
        "identity.user.deleted",
        {
            "user_id": user.id,
            "account_id": user.account_id,
            "email": user.email,
            "last_name": user.last_name,
            "first_name": user.first_name,
            "deleted_by": actor.id,
        },
    )
    audit(
        uow, "user_deleted", actor=actor, account_id=account_id, user_id=user_id, target=user.label
    )
    return event

"""E-mail change: a confirmation link goes to the new address; the address changes when it is
clicked, and the old address is then told (notifications, on identity.email.changed)."""

from __future__ import annotations

from bus.envelope import Envelope
from bus.i18n import _l
from services.identity.adapters import repository as repo
from services.identity.domain.model import UserStatus
from services.identity.domain.validation import login_key_of
from services.identity.service_layer.common import Actor, audit
from services.identity.service_layer.errors import Conflict, Invalid
from services.identity.service_layer.fields import clean_user_fields
from services.identity.service_layer.links import issue_link, open_token, spend_token
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.users import existing_user

ADDRESS_TAKEN = _l(
    "This e-mail address is already used in the portal; choose another one.",
    code="user.email_taken",
)


def request_email_change(uow: IdentityUnitOfWork, user_id: str, new_email: object) -> Envelope:
    """Send a confirmation link to the new address; nothing changes until it is clicked."""
    user = existing_user(uow, user_id, for_update=True)
    if user.status == UserStatus.NO_EMAIL:
        raise Conflict(
            _l(
                "This account has no e-mail address yet; ask your administrator to add one.",
                code="user.no_email",
            )
        )
    try:
        new = clean_user_fields({"email": new_email}, partial=True)["email"]
    except Invalid as invalid:
        raise Invalid({"new_email": (invalid.errors or {}).get("email", [])}) from None
    key = login_key_of(new)
    if key == user.login_key:  # the same login, however it is spelt
        message = _l("This is already your e-mail address.", code="email_change.same_address")
        raise Invalid({"new_email": [message]}, message)
    if repo.get_user_by_login_key(uow.session, key):
        raise Conflict(ADDRESS_TAKEN)
    event = issue_link(uow, user, "email_change", new_email=new)
    audit(
        uow,
        "email_change_request",
        actor=Actor(user.id, "self"),
        account_id=user.account_id,
        user_id=user.id,
        target=new,
    )
    return event


def confirm_email_change(uow: IdentityUnitOfWork, token: str) -> Envelope:
    """The link was clicked: the new address becomes the login."""
    row = open_token(uow, token, "email_change")
    user = existing_user(uow, row.user_id, for_update=True)
    new = row.new_email
    assert new is not None, "an e-mail change's token keeps the new address"
    key = login_key_of(new)
    holder = repo.get_user_by_login_key(uow.session, key)
    if holder is not None and holder.id != user.id:
        raise Conflict(ADDRESS_TAKEN)
    spend_token(uow, row)
    old = user.email
    try:
        repo.update_user(
            uow.session, user, {"email": new, "login_key": key, "updated_at": uow.now()}
        )
    except repo.LoginTaken:  # the same login, taken at the same moment by someone else
        raise Conflict(ADDRESS_TAKEN) from None
    audit(
        uow,
        "email_changed",
        actor=Actor(user.id, "self"),
        account_id=user.account_id,
        user_id=user.id,
        target=new,
        detail={"old_email": old},
    )
    return uow.publish(
        "identity.email.changed",
        {
            "user_id": user.id,
            "account_id": user.account_id,
            "old_email": old,
            "new_email": new,
        },
    )

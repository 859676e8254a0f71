"""Activation: the wizard reads its pre-filled data, then completes its three steps at once."""

from __future__ import annotations

from typing import Any

from bus.clock import iso
from bus.envelope import Envelope
from bus.i18n import _l
from services.identity.adapters import repository as repo
from services.identity.domain import model
from services.identity.domain.model import UserStatus
from services.identity.domain.passwords import password_rules
from services.identity.domain.records import StoredToken, User
from services.identity.service_layer.common import Actor, audit
from services.identity.service_layer.errors import Conflict, Invalid
from services.identity.service_layer.fields import PROFILE_FIELDS, check_user_fields
from services.identity.service_layer.links import open_token, spend_token
from services.identity.service_layer.passwords import (
    clear_throttle,
    password_violations,
    store_password,
)
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.users import existing_user, show_user
from services.identity.service_layer.views import user_event

WIZARD_REQUIRED = ("title", "last_name", "first_name", "language")


def _pending_user(uow: IdentityUnitOfWork, token: str) -> tuple[StoredToken, User]:
    row = open_token(uow, token, "activation")
    user = existing_user(uow, row.user_id, for_update=True)
    try:
        model.activate(UserStatus(user.status))
    except model.ActivationRefused as refusal:
        raise Conflict(refusal.message) from None
    return row, user


def read_activation(uow: IdentityUnitOfWork, token: str) -> dict[str, Any]:
    """What the wizard shows: the user's fields and the password rules of their level."""
    _, user = _pending_user(uow, token)
    fields = {name: getattr(user, name) for name in ("email", *PROFILE_FIELDS, "password_level")}
    return {
        **fields,
        "password_rules": password_rules(user.password_level, uow.config.password_profile),
    }


def activate_user(
    uow: IdentityUnitOfWork, token: str, data: dict[str, Any]
) -> tuple[dict[str, Any], Envelope]:
    """Check the three steps, set the profile and the password, and make the user active."""
    row, user = _pending_user(uow, token)
    profile = {name: data[name] for name in PROFILE_FIELDS if name in data}
    values, errors = check_user_fields(profile, required=WIZARD_REQUIRED)
    password = data.get("password")
    if not isinstance(password, str) or not password:
        errors["password"] = [_l("The password is required.", code="validation.required")]
    elif "first_name" not in errors and "last_name" not in errors:
        messages = password_violations(
            uow, user, password, first_name=values["first_name"], last_name=values["last_name"]
        )
        if messages:
            errors["password"] = messages
    if errors:
        raise Invalid(errors)
    assert isinstance(password, str)  # checked above
    now = uow.now()
    spend_token(uow, row)
    status = model.activate(UserStatus(user.status))
    repo.update_user(
        uow.session, user, {**values, "status": status, "activated_at": now, "updated_at": now}
    )
    store_password(uow, user.id, password)
    clear_throttle(uow, user.email)  # failures typed before activation must not keep them out
    user = existing_user(uow, user.id)
    event = uow.publish("identity.user.activated", user_event(user, now, activated_at=iso(now)))
    audit(
        uow,
        "user_activated",
        actor=Actor(user.id, "self"),
        account_id=user.account_id,
        user_id=user.id,
        target=user.email,
        result="succeeded",
    )
    return show_user(uow, user), event

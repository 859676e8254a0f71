"""The identity service's table of consumed messages: one handler per type, verb_noun.

The handlers of the HTTP API live beside this module: accounts, users, user_lists, activation,
sign_in, passwords, email_change, links; imports, resends and administrators hold those listed
here.
"""

from __future__ import annotations

from bus.consumer import Handler
from services.identity.service_layer.administrators import (
    forget_administrator,
    record_administrator,
)
from services.identity.service_layer.imports import create_users
from services.identity.service_layer.resends import resend_activation_batch

EVENT_HANDLERS: dict[str, Handler] = {
    "identity.create_users": create_users,  # type: ignore[dict-item]
    # a mass activation re-send, answered at once, carried out here in batches
    "identity.resend_activations": resend_activation_batch,  # type: ignore[dict-item]
    "subscriptions.subscription.accepted": record_administrator,  # type: ignore[dict-item]
    "subscriptions.subscription.cancelled": forget_administrator,  # type: ignore[dict-item]
    "subscriptions.subscription.expired": forget_administrator,  # type: ignore[dict-item]
    "subscriptions.subscription.refused": forget_administrator,  # type: ignore[dict-item]
}

"""Handlers of consumed events: which function runs for which message type (one table).

The API's command and query handlers live beside this module: `lifecycle` (request, accept,
refuse, grant, cancel, remove), `settings`, `catalogs` (the operator's catalog), `expiry`,
`queries`.
"""

from __future__ import annotations

from services.subscriptions.service_layer.catalogs import link_account, record_account
from services.subscriptions.service_layer.users import (
    forget_user,
    record_user,
    welcome_user,
    welcome_users,
)

EVENT_HANDLERS = {
    "identity.account.created": record_account,
    "identity.account.linked": link_account,
    "identity.user.created": welcome_user,
    "identity.users.created": welcome_users,  # a bulk command's users: one transaction
    "identity.user.updated": record_user,
    "identity.user.activated": record_user,
    "identity.user.deleted": forget_user,
}

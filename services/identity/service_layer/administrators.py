"""Who administers which account, learnt from subscriptions' events.

An administrator of account A holds an accepted subscription to A's "User Management -
Administration"; subscriptions marks such events with `administers_account_id`. Identity keeps
one row per such subscription, to answer `is_administrator` and to keep the last-administrator
rule when a user is deleted. Supervision (the parent's "Administration Supervision of" a child)
does not count: the child must keep administrators of its own.
"""

from __future__ import annotations

from bus.envelope import Envelope
from services.identity.adapters import repository as repo
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork

SUPERVISION_TEMPLATE = "user_admin_supervision"


def _administers(event: Envelope) -> str | None:
    data = event.data
    if data.get("service_code", "").split(":", 1)[0] == SUPERVISION_TEMPLATE:
        return None
    return data.get("administers_account_id") or None


def record_administrator(uow: IdentityUnitOfWork, event: Envelope) -> None:
    """subscriptions.subscription.accepted: the user now administers the account."""
    account_id = _administers(event)
    if account_id is None or repo.get_user(uow.session, event.data["user_id"]) is None:
        return
    repo.add_administrator(
        uow.session, event.data["subscription_id"], account_id, event.data["user_id"], uow.now()
    )


def forget_administrator(uow: IdentityUnitOfWork, event: Envelope) -> None:
    """.cancelled / .expired / .refused: that subscription no longer makes an administrator."""
    repo.remove_administrator(uow.session, event.data["subscription_id"])

"""The last-administrator rule: every account keeps at least one administrator, even at expiry.

An administrator of account A holds an accepted subscription to `user_admin:A`. Such a
subscription stays in force (status `accepted`) until something ends it; the expiry job never
ends the last one of an account, it reports it and tries again on its next run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Generic, NamedTuple, Protocol, TypeVar

from bus.i18n import _l

from .definitions import AccountLike, administered_account, scope_of
from .errors import LastAdministrator, NeverAutomatic
from .model import ACCEPTED, Subscription

ACTIONS = ("cancel", "refuse", "expire", "delete")

Sub = TypeVar("Sub", bound=Subscription)  # a plan hands back the records it was given


class Titled(Protocol):
    """A catalog service as the automatic-grant rule reads it."""

    @property
    def id(self) -> str: ...

    @property
    def code(self) -> str: ...

    @property
    def title(self) -> str: ...


def may_be_automatic(code: str) -> bool:
    """Administration and supervision services make administrators: never granted automatically."""
    return scope_of(code) is None


def ensure_never_automatic(services: Iterable[Titled]) -> None:
    """Raise NeverAutomatic when any of these services is an administration or supervision one.

    Holding one of them administers an account; granting it is always an explicit, audited act
    by an administrator (or the operator), never a side effect of creating a user.
    """
    refused = [service for service in services if not may_be_automatic(service.code)]
    if not refused:
        return
    titles = ", ".join(f"“{service.title}”" for service in refused)
    raise NeverAutomatic(
        _l(
            "{titles} cannot be granted automatically: holding it makes the user an"
            " administrator. Leave auto_subscribe off for administration and supervision"
            " services, and grant them to each user who needs them instead.",
            titles=titles,
        ),
        service_ids=[service.id for service in refused],
    )


class ExpiryPlan(NamedTuple, Generic[Sub]):
    """What the expiry job should do today: expire these, keep those (last administrators)."""

    to_expire: list[Sub]
    skipped_last_admin: list[Sub]


def account_label(account: AccountLike | str | None) -> str:
    """`90293531 RETAIL IT LIMITED` for an account, the text itself for a string."""
    if account is None:
        return _l("This account")
    if isinstance(account, str):
        return account
    return f"{account.number} {account.name}"


def ensure_not_last_admin(
    holders: Iterable[str],
    user_id: str,
    action: str,
    *,
    account: AccountLike | str | None = None,
) -> None:
    """Raise LastAdministrator when `action` on `user_id` would leave no administrator.

    `holders` are the users who hold the account's administration service now; `action` is
    what would end that for `user_id`: cancel (remove the subscription), refuse, expire or
    delete (the user). A user who is not among the holders is never the last one.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")
    remaining = set(holders)
    if user_id not in remaining:
        return
    remaining.discard(user_id)
    if remaining:
        return
    raise LastAdministrator(
        _l(
            "{account} must keep at least one administrator; grant the administration service"
            " to another user first.",
            account=account_label(account),
        ),
        action=action,
        user_id=user_id,
    )


def administrators_by_account(subscriptions: Iterable[Subscription]) -> dict[str, set[str]]:
    """account id → users holding its administration service (accepted, not yet ended)."""
    holders: dict[str, set[str]] = {}
    for subscription in subscriptions:
        account_id = administered_account(subscription.service_code)
        if account_id is None or subscription.status != ACCEPTED or subscription.user_id is None:
            continue
        holders.setdefault(account_id, set()).add(subscription.user_id)
    return holders


def plan_expiries(
    subscriptions: Iterable[Sub],
    today: date,
    admin_holders_by_account: Mapping[str, Iterable[str]],
) -> ExpiryPlan[Sub]:
    """Split the subscriptions due to expire today into those to expire and those to keep.

    An administration subscription is kept when expiring it would leave its account without
    an administrator. When several of an account's administrators are due at once, those with
    the earliest expiry go first and the one meant to stay longest is kept. The plan changes
    nothing: the caller expires `to_expire` (`subscription.expire(today)`) and reports the rest.
    """
    due = sorted(
        (subscription for subscription in subscriptions if subscription.is_due_to_expire(today)),
        key=lambda subscription: (subscription.expires_on, subscription.requested_at),
    )
    remaining = {account: set(users) for account, users in admin_holders_by_account.items()}
    for subscription in due:  # a due administrator still holds the service until it expires
        account_id = administered_account(subscription.service_code)
        if account_id is not None and subscription.user_id is not None:
            remaining.setdefault(account_id, set()).add(subscription.user_id)

    plan: ExpiryPlan[Sub] = ExpiryPlan(to_expire=[], skipped_last_admin=[])
    for subscription in due:
        account_id = administered_account(subscription.service_code)
        if account_id is None or subscription.user_id is None:
            plan.to_expire.append(subscription)
            continue
        holders = remaining[account_id]
        if holders - {subscription.user_id}:
            holders.discard(subscription.user_id)
            plan.to_expire.append(subscription)
        else:
            plan.skipped_last_admin.append(subscription)
    return plan

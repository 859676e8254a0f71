"""The shapes answered by the API and carried by events (docs/api.md's Account and User)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from bus.clock import iso
from bus.pagination import Page
from services.identity.domain.model import UserStatus
from services.identity.domain.records import Account, AuditEntry, Listed, User

T = TypeVar("T")

EVENT_USER_FIELDS = (
    "email",
    "title",
    "last_name",
    "first_name",
    "language",
    "function",
    "password_level",
)


def account_view(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "number": account.number,
        "name": account.name,
        "parent_id": account.parent_id,
        "relation": account.relation,
    }


# A user's own fields, as every view of a user (the portal's, a directory's) gives them.
PERSON_FIELDS = (
    "id",
    "account_id",
    "email",
    "title",
    "last_name",
    "first_name",
    "language",
    "function",
    "office_phone",
    "mobile_phone",
    "password_level",
)


def person_fields(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in PERSON_FIELDS}


def user_view(user: User, *, is_administrator: bool, now: datetime) -> dict[str, Any]:
    status = user.effective_status(now)
    return {
        **person_fields(user),
        "status": status,
        "is_administrator": is_administrator,
        "source": user.source,
        "created_by": user.created_by,
        "created_at": iso(user.created_at),
        "activated_at": iso(user.activated_at),
        "last_sign_in_at": iso(user.last_sign_in_at),
        "previous_sign_in_at": iso(user.previous_sign_in_at),
        "locked_until": iso(user.locked_until) if status == UserStatus.LOCKED else None,
    }


def user_event(user: User, now: datetime, **extra: Any) -> dict[str, Any]:
    """The UserFields of identity's user events (bus/contracts/identity.py)."""
    data = {"user_id": user.id, "account_id": user.account_id, "status": user.effective_status(now)}
    data.update({name: getattr(user, name) for name in EVENT_USER_FIELDS})
    data.update(extra)
    return data


def audit_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "account_id": entry.account_id,
        "user_id": entry.user_id,
        "actor": entry.actor,
        "source": entry.source,
        "action": entry.action,
        "result": entry.result,
        "target": entry.target,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "detail": entry.detail,
    }


def page_view(page: Page, listed: Listed[T], shape: Callable[[T], Any]) -> dict[str, Any]:
    """{items, page, per_page, total}: the shape of every list the API answers."""
    return {
        "items": [shape(item) for item in listed.items],
        "page": page.page,
        "per_page": page.per_page,
        "total": listed.total,
    }

"""The shapes answered by the API and carried by events (docs/api.md's Account and User)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from services.identity.adapters.orm import users
from services.identity.adapters.repository import aware, iso
from services.identity.domain.model import UserStatus

EVENT_USER_FIELDS = ("email", "title", "last_name", "first_name", "language", "function",
                     "password_level")


def effective_status(row: Any, now: datetime) -> str:
    """The stored status, except that a lock whose time has passed reads `active`."""
    until = aware(row.locked_until)
    if row.status == UserStatus.LOCKED and until is not None and until <= now:
        return UserStatus.ACTIVE.value
    return str(row.status)


def status_filter(status: str, now: datetime | sa.BindParameter[datetime]) -> sa.ColumnElement[bool]:
    """The SQL condition of `effective_status(row) == status` (`now` may be a parameter)."""
    lock_over = sa.and_(users.c.status == UserStatus.LOCKED, users.c.locked_until.is_not(None),
                        users.c.locked_until <= now)
    if status == UserStatus.ACTIVE:
        return sa.or_(users.c.status == UserStatus.ACTIVE, lock_over)
    if status == UserStatus.LOCKED:
        return sa.and_(users.c.status == UserStatus.LOCKED, sa.not_(lock_over))
    return users.c.status == status


def account_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "number": row.number, "name": row.name, "parent_id": row.parent_id,
            "relation": row.relation}


def user_view(row: Any, *, is_administrator: bool, now: datetime) -> dict[str, Any]:
    status = effective_status(row, now)
    return {
        "id": row.id,
        "account_id": row.account_id,
        "email": row.email,
        "title": row.title,
        "last_name": row.last_name,
        "first_name": row.first_name,
        "language": row.language,
        "function": row.function,
        "office_phone": row.office_phone,
        "mobile_phone": row.mobile_phone,
        "password_level": row.password_level,
        "status": status,
        "is_administrator": is_administrator,
        "source": row.source,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "activated_at": iso(row.activated_at),
        "last_sign_in_at": iso(row.last_sign_in_at),
        "previous_sign_in_at": iso(row.previous_sign_in_at),
        "locked_until": iso(row.locked_until) if status == UserStatus.LOCKED else None,
    }


def user_event(row: Any, now: datetime, **extra: Any) -> dict[str, Any]:
    """The UserFields of identity's user events (bus/contracts/identity.py)."""
    data = {"user_id": row.id, "account_id": row.account_id, "status": effective_status(row, now)}
    data.update({name: getattr(row, name) for name in EVENT_USER_FIELDS})
    data.update(extra)
    return data


def audit_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": iso(row.at),
        "account_id": row.account_id,
        "user_id": row.user_id,
        "actor": row.actor,
        "source": row.source,
        "action": row.action,
        "result": row.result,
        "target": row.target,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "detail": row.detail,
    }

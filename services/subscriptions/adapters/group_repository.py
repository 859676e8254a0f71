"""A directory's groups read and written set-wise: members of catalog services, many ends at once.

A member is a user (not deleted) who holds the service today: accepted, not past expiry. Every
read is one query whatever the number of groups or members; ends are one UPDATE.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bus.db import changed_rows
from services.subscriptions.domain.model import ACCEPTED, CANCELLED

from .orm import subscriptions, users
from .repository import _holding


class Member(NamedTuple):
    """A group's member as a directory lists it."""

    service_id: str
    user_id: str
    display: str


def _members_query(today: date) -> sa.Select[Any]:
    return (
        sa.select(
            subscriptions.c.service_id,
            subscriptions.c.user_id,
            users.c.first_name,
            users.c.last_name,
        )
        .join(users, users.c.id == subscriptions.c.user_id)
        .where(_holding(today), users.c.deleted_at.is_(None))
    )


def _member(row: Any) -> Member:
    return Member(row.service_id, row.user_id, f"{row.first_name} {row.last_name}".strip())


def members_of(session: Session, service_ids: Iterable[str], today: date) -> list[Member]:
    """The members of these groups, by group then user id (one query)."""
    ids = set(service_ids)
    if not ids:
        return []
    rows = session.execute(
        _members_query(today)
        .where(subscriptions.c.service_id.in_(ids))
        .order_by(subscriptions.c.service_id, subscriptions.c.user_id)
    ).all()
    return [_member(row) for row in rows]


def members_page(
    session: Session, service_id: str, today: date, offset: int, limit: int
) -> tuple[list[Member], int]:
    """One page of a group's members (by user id: stable while members come and go) and how
    many it has."""
    where = (subscriptions.c.service_id == service_id, _holding(today))
    total = session.execute(
        sa.select(sa.func.count())
        .select_from(subscriptions.join(users, users.c.id == subscriptions.c.user_id))
        .where(*where, users.c.deleted_at.is_(None))
    ).scalar_one()
    rows = session.execute(
        _members_query(today)
        .where(subscriptions.c.service_id == service_id)
        .order_by(subscriptions.c.user_id)
        .offset(offset)
        .limit(limit)
    ).all()
    return [_member(row) for row in rows], total


def account_users(session: Session, account_id: str, user_ids: Iterable[str]) -> set[str]:
    """Which of these ids are users (not deleted) of the account."""
    ids = set(user_ids)
    if not ids:
        return set()
    return set(
        session.execute(
            sa.select(users.c.id).where(
                users.c.id.in_(ids),
                users.c.account_id == account_id,
                users.c.deleted_at.is_(None),
            )
        ).scalars()
    )


def cancel_many(
    session: Session, subscription_ids: Iterable[str], now: datetime, ended_by: str | None
) -> int:
    """End these accepted subscriptions (`cancelled`) in one UPDATE; how many were still
    accepted (the others changed meanwhile and are left alone)."""
    ids = set(subscription_ids)
    if not ids:
        return 0
    result = session.execute(
        subscriptions.update()
        .where(subscriptions.c.id.in_(ids), subscriptions.c.status == ACCEPTED)
        .values(status=CANCELLED, ended_at=now, ended_by=ended_by)
    )
    return changed_rows(result)

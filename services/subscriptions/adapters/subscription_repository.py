"""Subscriptions rows as domain `StoredSubscription`s: loads, locks and conditional saves."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bus.clock import as_utc
from bus.db import changed_rows
from services.subscriptions.domain.definitions import admin_service_code
from services.subscriptions.domain.model import ACCEPTED, PENDING
from services.subscriptions.domain.records import StoredSubscription, User

from .orm import catalog, subscriptions, users
from .repository import user_from

CURRENT = (PENDING, ACCEPTED)
USER_PREFIX = "holder_"


def _select() -> sa.Select[Any]:
    return sa.select(subscriptions, catalog.c.code).join(
        catalog, catalog.c.id == subscriptions.c.service_id
    )


def _user_columns() -> list[Any]:
    return [column.label(f"{USER_PREFIX}{column.name}") for column in users.c]


def _stored(row: Any) -> StoredSubscription:
    return StoredSubscription(
        id=row.id,
        user_id=row.user_id,
        service_code=row.code,
        requested_at=as_utc(row.requested_at) or row.requested_at,
        status=row.status,
        decided_at=as_utc(row.decided_at),
        decided_by=row.decided_by,
        expires_on=row.expires_on,
        reason=row.reason,
        ended_at=as_utc(row.ended_at),
        ended_by=row.ended_by,
        account_id=row.account_id,
        service_id=row.service_id,
        granted_directly=row.granted_directly,
    )


def _locked(query: sa.Select[Any], lock: bool, skip_locked: bool = False) -> sa.Select[Any]:
    if lock:
        return query.with_for_update(of=subscriptions, skip_locked=skip_locked)
    return query


def get(session: Session, subscription_id: str, *, lock: bool = False) -> StoredSubscription | None:
    row = session.execute(
        _locked(_select().where(subscriptions.c.id == subscription_id), lock)
    ).first()
    return _stored(row) if row else None


def of_user(
    session: Session, user_id: str, *, statuses: Iterable[str] | None = None, lock: bool = False
) -> list[StoredSubscription]:
    query = _select().where(subscriptions.c.user_id == user_id)
    if statuses is not None:
        query = query.where(subscriptions.c.status.in_(tuple(statuses)))
    return [_stored(row) for row in session.execute(_locked(query, lock)).all()]


def held_by_users(session: Session, user_ids: Iterable[str]) -> set[tuple[str, str]]:
    """(user id, service id) of every pending or accepted subscription of these users."""
    ids = set(user_ids)
    if not ids:
        return set()
    query = sa.select(subscriptions.c.user_id, subscriptions.c.service_id).where(
        subscriptions.c.user_id.in_(ids), subscriptions.c.status.in_(CURRENT)
    )
    return {(row.user_id, row.service_id) for row in session.execute(query)}


def current_for_services(
    session: Session, service_ids: Iterable[str], *, lock: bool = True
) -> list[StoredSubscription]:
    """Pending or accepted subscriptions to any of these catalog entries."""
    ids = set(service_ids)
    if not ids:
        return []
    query = _select().where(
        subscriptions.c.service_id.in_(ids), subscriptions.c.status.in_(CURRENT)
    )
    return [_stored(row) for row in session.execute(_locked(query, lock)).all()]


def pending_with_users(session: Session, account_id: str) -> list[tuple[StoredSubscription, User]]:
    """The account's requests waiting for validation, with their requesters, oldest first."""
    rows = session.execute(
        _select()
        .add_columns(*_user_columns())
        .join(users, users.c.id == subscriptions.c.user_id)
        .where(subscriptions.c.account_id == account_id, subscriptions.c.status == PENDING)
        .order_by(subscriptions.c.requested_at, subscriptions.c.id)
    ).all()
    return [(_stored(row), _prefixed_user(row)) for row in rows]


def _prefixed_user(row: Any) -> User:
    return user_from(row._mapping, USER_PREFIX)


def subscribers_page(
    session: Session, service_id: str, statuses: Iterable[str], page: int, per_page: int
) -> tuple[list[tuple[StoredSubscription, User]], int]:
    """One page of a service's subscribers (by last then first name) and how many there are."""
    where = (subscriptions.c.service_id == service_id, subscriptions.c.status.in_(tuple(statuses)))
    total = session.execute(
        sa.select(sa.func.count()).select_from(subscriptions).where(*where)
    ).scalar_one()
    rows = session.execute(
        _select()
        .add_columns(*_user_columns())
        .join(users, users.c.id == subscriptions.c.user_id)
        .where(*where)
        .order_by(
            sa.func.lower(users.c.last_name), sa.func.lower(users.c.first_name), subscriptions.c.id
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return [(_stored(row), _prefixed_user(row)) for row in rows], total


def admin_holders(session: Session, account_ids: Iterable[str]) -> dict[str, set[str]]:
    """account id → users holding its administration service (accepted), one query."""
    codes = {admin_service_code(account_id): account_id for account_id in set(account_ids)}
    if not codes:
        return {}
    rows = session.execute(
        sa.select(catalog.c.code, subscriptions.c.user_id)
        .join(catalog, catalog.c.id == subscriptions.c.service_id)
        .where(
            catalog.c.code.in_(codes),
            catalog.c.account_id.in_(set(codes.values())),
            subscriptions.c.status == ACCEPTED,
        )
    ).all()
    holders: dict[str, set[str]] = {account_id: set() for account_id in codes.values()}
    for code, user_id in rows:
        holders[codes[code]].add(user_id)
    return holders


def due(session: Session, today: date, *, lock: bool = True) -> list[StoredSubscription]:
    """Accepted subscriptions whose expiry date has passed, locked, skipping rows others hold."""
    query = (
        _select()
        .where(subscriptions.c.status == ACCEPTED, subscriptions.c.expires_on < today)
        .order_by(subscriptions.c.expires_on)
    )
    return [_stored(row) for row in session.execute(_locked(query, lock, skip_locked=True)).all()]


def insert(session: Session, subscription: StoredSubscription) -> None:
    session.execute(
        subscriptions.insert().values(
            id=subscription.id,
            account_id=subscription.account_id,
            user_id=subscription.user_id,
            service_id=subscription.service_id,
            granted_directly=subscription.granted_directly,
            **_changing(subscription),
        )
    )


def insert_many(session: Session, new: list[StoredSubscription]) -> None:
    """insert of many subscriptions in one multi-row statement."""
    if new:
        session.execute(
            subscriptions.insert(),
            [
                {
                    "id": s.id,
                    "account_id": s.account_id,
                    "user_id": s.user_id,
                    "service_id": s.service_id,
                    "granted_directly": s.granted_directly,
                    **_changing(s),
                }
                for s in new
            ],
        )


def save(session: Session, subscription: StoredSubscription, expected_status: str) -> bool:
    """Write the subscription's new state if its row is still `expected_status`.

    False when another transaction changed it first (then nothing is written): a second
    replica of the expiry job, or a decision racing another one.
    """
    result = session.execute(
        subscriptions.update()
        .where(subscriptions.c.id == subscription.id, subscriptions.c.status == expected_status)
        .values(**_changing(subscription))
    )
    return changed_rows(result) == 1


def _changing(subscription: StoredSubscription) -> dict[str, Any]:
    return {
        "status": subscription.status,
        "requested_at": subscription.requested_at,
        "decided_at": subscription.decided_at,
        "decided_by": subscription.decided_by,
        "expires_on": subscription.expires_on,
        "reason": subscription.reason,
        "ended_at": subscription.ended_at,
        "ended_by": subscription.ended_by,
    }

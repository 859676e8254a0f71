"""Rows in, domain records out: accounts, users and catalog entries of the service's database.

Every list is read with a fixed number of queries (never one per item); subscriber counts come
from one GROUP BY. Subscriptions themselves are in `adapters/subscription_repository.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bus.clock import as_utc
from bus.db import changed_rows
from services.subscriptions.domain.catalog import ServiceActivity, sort_services
from services.subscriptions.domain.definitions import scope_of
from services.subscriptions.domain.model import ACCEPTED, PENDING
from services.subscriptions.domain.records import Account, CatalogService, User, scoped_definition

from .orm import accounts, catalog, subscriptions, users

# -- accounts ----------------------------------------------------------------------------------


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        number=row.number,
        name=row.name,
        parent_id=row.parent_id,
        relation=row.relation,
        created_at=as_utc(row.created_at),
    )


def get_account(session: Session, account_id: str) -> Account | None:
    row = session.execute(sa.select(accounts).where(accounts.c.id == account_id)).first()
    return _account(row) if row else None


def get_account_by_number(session: Session, number: str) -> Account | None:
    row = session.execute(
        sa.select(accounts)
        .where(accounts.c.number == number)
        .order_by(accounts.c.created_at.is_(None))  # a known account before a stub
    ).first()
    return _account(row) if row else None


def accounts_by_id(session: Session, ids: Iterable[str]) -> dict[str, Account]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(sa.select(accounts).where(accounts.c.id.in_(wanted))).all()
    return {row.id: _account(row) for row in rows}


def save_account(session: Session, account_id: str, values: dict[str, Any]) -> None:
    """Insert or update an account's row with the given columns."""
    updated = session.execute(accounts.update().where(accounts.c.id == account_id).values(**values))
    if changed_rows(updated) == 0:
        session.execute(accounts.insert().values(id=account_id, **values))


def lock_account(session: Session, account_id: str, *, skip_locked: bool = False) -> bool:
    """Take the account's row lock (PostgreSQL; SQLite's writers are serialised already).

    Every change that may take an administrator away locks the account first, so two of them
    cannot both see "another administrator remains". With `skip_locked`, answer False instead
    of waiting when someone else holds it.
    """
    row = session.execute(
        sa.select(accounts.c.id)
        .where(accounts.c.id == account_id)
        .with_for_update(skip_locked=skip_locked)
    ).first()
    return row is not None


# -- users -------------------------------------------------------------------------------------


def user_from(values: Mapping[str, Any], prefix: str = "") -> User:
    """A User from a row's mapping whose user columns carry `prefix` (joins label them)."""

    def get(name: str) -> Any:
        return values[f"{prefix}{name}"]

    return User(
        id=get("id"),
        account_id=get("account_id"),
        email=get("email"),
        title=get("title"),
        last_name=get("last_name"),
        first_name=get("first_name"),
        language=get("language"),
        password_level=get("password_level"),
        status=get("status"),
    )


def _user(row: Any) -> User:
    return user_from(row._mapping)


def get_user(session: Session, user_id: str) -> User | None:
    """A user who exists (not deleted), or None."""
    row = session.execute(
        sa.select(users).where(users.c.id == user_id, users.c.deleted_at.is_(None))
    ).first()
    return _user(row) if row else None


def users_by_id(session: Session, ids: Iterable[str]) -> dict[str, User]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(sa.select(users).where(users.c.id.in_(wanted))).all()
    return {row.id: _user(row) for row in rows}


def save_user(session: Session, user_id: str, values: dict[str, Any], now: datetime) -> None:
    """Insert or update a user's row (a late `updated` may come before `created`)."""
    updated = session.execute(users.update().where(users.c.id == user_id).values(**values))
    if changed_rows(updated) == 0:
        session.execute(users.insert().values(id=user_id, created_at=now, **values))


def existing_users(session: Session, ids: Iterable[str]) -> dict[str, User]:
    """users_by_id of the users who exist (not deleted)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(users).where(users.c.id.in_(wanted), users.c.deleted_at.is_(None))
    ).all()
    return {row.id: _user(row) for row in rows}


def save_users(session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    """save_user of many users (each row: `id` and USER_FIELDS' values) in one multi-row
    INSERT … ON CONFLICT (id) DO UPDATE."""
    if not rows:
        return
    dialect: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(users)
    statement = statement.on_conflict_do_update(
        index_elements=["id"],
        set_={name: statement.excluded[name] for name in rows[0] if name != "id"},
    )
    session.execute(statement, [{**row, "created_at": now} for row in rows])


def mark_user_deleted(session: Session, user_id: str, now: datetime) -> bool:
    result = session.execute(
        users.update()
        .where(users.c.id == user_id, users.c.deleted_at.is_(None))
        .values(deleted_at=now)
    )
    return changed_rows(result) > 0


# -- catalog -----------------------------------------------------------------------------------


def _services(
    session: Session, rows: list[Any], counts: dict[str, int], *, in_order: bool = True
) -> list[CatalogService]:
    """Records of the shipped services among `rows` (in the catalog's order unless told not to)."""
    scopes = accounts_by_id(session, (scope_of(row.code) or "" for row in rows))
    found = []
    for row in rows:
        try:
            definition = scoped_definition(row.code, scopes.get(scope_of(row.code) or ""))
        except KeyError:  # a service no longer shipped: it leaves every catalog
            continue
        found.append(
            CatalogService(
                id=row.id,
                account_id=row.account_id,
                code=row.code,
                family=definition.family,
                title=definition.title,
                description=definition.description,
                min_password_level=definition.min_password_level,
                requires_validation=row.requires_validation,
                auto_subscribe=row.auto_subscribe,
                added_at=as_utc(row.added_at),
                removed_at=as_utc(row.removed_at),
                gates=definition.gates,
                notifies=definition.notifies,
                subscriber_count=counts.get(row.id, 0),
            )
        )
    return sort_services(found) if in_order else found


def _holding(today: date) -> sa.ColumnElement[bool]:
    """A subscription someone holds today: accepted, not past expiry (`Subscription.is_active`)."""
    return sa.and_(
        subscriptions.c.status == ACCEPTED,
        sa.or_(subscriptions.c.expires_on.is_(None), subscriptions.c.expires_on >= today),
    )


def subscriber_counts(
    session: Session, account_id: str, today: date, ids: Iterable[str] | None = None
) -> dict[str, int]:
    """service id → users holding it today: one GROUP BY (over the services `ids` when given)."""
    query = (
        sa.select(subscriptions.c.service_id, sa.func.count(sa.distinct(subscriptions.c.user_id)))
        .where(subscriptions.c.account_id == account_id, _holding(today))
        .group_by(subscriptions.c.service_id)
    )
    if ids is not None:
        wanted = set(ids)
        if not wanted:
            return {}
        query = query.where(subscriptions.c.service_id.in_(wanted))
    return {service_id: count for service_id, count in session.execute(query).all()}


def catalog_activity(
    session: Session, account_id: str, today: date
) -> tuple[list[CatalogService], dict[str, ServiceActivity]]:
    """The account's whole catalog (removed services too, in no order) and code → its activity.

    One query: each service is probed through the subscriptions' (service, status) index for a
    holder and its waiting requests, so the cost follows the catalog and the waiting requests,
    not the account's subscriptions. Services carry no subscriber count.
    """
    # Correlated on the row's account too, so that PostgreSQL probes the (service, status) index
    # whatever the account's size; LIMIT 1 rather than EXISTS, which it may hash over every row.
    of_service = sa.and_(
        subscriptions.c.service_id == catalog.c.id,
        subscriptions.c.account_id == catalog.c.account_id,
    )
    a_holder = (
        sa.select(subscriptions.c.id).where(of_service, _holding(today)).limit(1).scalar_subquery()
    )
    waiting = (
        sa.select(sa.func.count())
        .select_from(subscriptions)
        .where(of_service, subscriptions.c.status == PENDING)
        .scalar_subquery()
    )
    rows = list(
        session.execute(
            sa.select(catalog, a_holder.label("a_holder"), waiting.label("waiting")).where(
                catalog.c.account_id == account_id
            )
        ).all()
    )
    activity = {
        row.code: ServiceActivity(held=row.a_holder is not None, pending=row.waiting)
        for row in rows
    }
    return _services(session, rows, {}, in_order=False), activity


def catalog_services(
    session: Session,
    account_id: str,
    *,
    today: date | None = None,
    include_removed: bool = False,
    ids: Iterable[str] | None = None,
) -> list[CatalogService]:
    """The account's catalog in the catalog's order; with subscriber counts when `today` is given."""
    query = sa.select(catalog).where(catalog.c.account_id == account_id)
    if not include_removed:
        query = query.where(catalog.c.removed_at.is_(None))
    if ids is not None:
        ids = set(ids)
        query = query.where(catalog.c.id.in_(ids))
    rows = list(session.execute(query).all())
    # the subscribers of the services asked for only (one service: not the whole account's)
    counts = subscriber_counts(session, account_id, today, ids) if today is not None else {}
    return _services(session, rows, counts)


def catalog_service(
    session: Session, account_id: str, service_id: str, *, today: date | None = None
) -> CatalogService | None:
    """One service of the account's catalog (not removed), or None."""
    found = catalog_services(session, account_id, today=today, ids=[service_id])
    return found[0] if found else None


def services_by_id(session: Session, ids: Iterable[str]) -> dict[str, CatalogService]:
    """Catalog entries by id, removed ones included (answers about past subscriptions)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = list(session.execute(sa.select(catalog).where(catalog.c.id.in_(wanted))).all())
    return {service.id: service for service in _services(session, rows, {})}


def catalog_entries(session: Session, account_id: str) -> dict[str, Any]:
    """code → raw catalog row of the account, removed ones included."""
    rows = session.execute(sa.select(catalog).where(catalog.c.account_id == account_id)).all()
    return {row.code: row for row in rows}


def add_to_catalog(
    session: Session,
    account_id: str,
    code: str,
    *,
    requires_validation: bool,
    auto_subscribe: bool,
    now: datetime,
    existing: Any = None,
) -> str | None:
    """Put a service in the account's catalog; its id when added or restored, None if already in.

    A service that comes back keeps its id (and its settings); `added_at` moves to now, so it
    counts as new in the catalog again.
    """
    if existing is not None:
        if existing.removed_at is None:
            return None
        session.execute(
            catalog.update()
            .where(catalog.c.id == existing.id)
            .values(removed_at=None, added_at=now)
        )
        return str(existing.id)
    service_id = str(uuid.uuid4())
    session.execute(
        catalog.insert().values(
            id=service_id,
            account_id=account_id,
            code=code,
            requires_validation=requires_validation,
            auto_subscribe=auto_subscribe,
            added_at=now,
        )
    )
    return service_id


def remove_from_catalog(session: Session, service_ids: Iterable[str], now: datetime) -> None:
    ids = set(service_ids)
    if ids:
        session.execute(
            catalog.update()
            .where(catalog.c.id.in_(ids), catalog.c.removed_at.is_(None))
            .values(removed_at=now)
        )


def supervision_entries(session: Session, code: str) -> list[Any]:
    """Every catalog row (any account, not removed) offering this supervision code."""
    return list(
        session.execute(
            sa.select(catalog).where(catalog.c.code == code, catalog.c.removed_at.is_(None))
        ).all()
    )


def set_flags(session: Session, service_ids: Iterable[str], flags: dict[str, bool]) -> None:
    session.execute(catalog.update().where(catalog.c.id.in_(set(service_ids))).values(**flags))

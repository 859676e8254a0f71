"""An account's users read in bulk: the administrators' searches, the summary's counts, and the
profile page's panels in statements built once (the dashboard reads in three)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bus.pagination import Page
from services.identity.adapters.orm import administrators, audit_log, users
from services.identity.adapters.repository import (
    administrators_of,
    audit_from,
    fold,
    page_of,
    user_from,
)
from services.identity.domain.model import UserStatus
from services.identity.domain.records import AuditEntry, Listed, User, UserSearch, UsersSummary


def status_filter(
    status: str, now: datetime | sa.BindParameter[datetime]
) -> sa.ColumnElement[bool]:
    """The SQL condition of `User.effective_status(now) == status` (`now` may be a parameter)."""
    lock_over = sa.and_(
        users.c.status == UserStatus.LOCKED,
        users.c.locked_until.is_not(None),
        users.c.locked_until <= now,
    )
    if status == UserStatus.ACTIVE:
        return sa.or_(users.c.status == UserStatus.ACTIVE, lock_over)
    if status == UserStatus.LOCKED:
        return sa.and_(users.c.status == UserStatus.LOCKED, sa.not_(lock_over))
    return users.c.status == status


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _user(row: Any) -> User:
    return user_from(row._mapping)


def search_users(
    session: Session, account_id: str, search: UserSearch, now: datetime, page: Page
) -> Listed[User]:
    """The account's users by name; `name`, `email`, `function` match parts (accents and case
    ignored), `status` is the effective one at `now`, `administrators_only` keeps the administrators."""
    query = sa.select(users).where(users.c.account_id == account_id)
    for word in fold(search.name).split():
        query = query.where(users.c.name_key.like(_like(word), escape="\\"))
    if search.email:
        query = query.where(users.c.email.like(_like(search.email.strip().lower()), escape="\\"))
    if fold(search.function):
        query = query.where(users.c.function_key.like(_like(fold(search.function)), escape="\\"))
    if search.status:
        query = query.where(status_filter(search.status, now))
    if search.administrators_only:
        query = query.where(users.c.id.in_(administrators_of(account_id)))
    return page_of(session, query.order_by(users.c.name_key, users.c.id), page, _user)


def _count(condition: Any, name: str) -> sa.Label[int]:
    return sa.func.count().filter(condition).label(name)


def _administrator_count(account_id: Any) -> sa.Label[int]:
    """How many users administer the account (one may hold several subscriptions)."""
    return (
        sa.select(sa.func.count(sa.distinct(administrators.c.user_id)))
        .where(administrators.c.account_id == account_id)
        .scalar_subquery()
        .label("administrators")
    )


# --- statements built once, as the profile page reads them on every view. The summary counts
# the rows of `users` in one pass, at b_now; with a NULL b_since nobody is new.
_NOW = sa.bindparam("b_now", type_=users.c.locked_until.type)
_SINCE = sa.bindparam("b_since", type_=users.c.created_at.type)
_SUMMARY_COUNTS = (
    _count(status_filter("active", _NOW), "active"),
    _count(status_filter("pending_activation", _NOW), "pending_activation"),
    _count(status_filter("no_email", _NOW), "without_email"),
    _count(status_filter("locked", _NOW), "locked"),
    _count(users.c.created_at > _SINCE, "new_since_last_sign_in"),
)
_SUMMARY_FIELDS = (*(column.name for column in _SUMMARY_COUNTS), "administrators")
_SUMMARY = sa.select(*_SUMMARY_COUNTS, _administrator_count(sa.bindparam("b_account"))).where(
    users.c.account_id == sa.bindparam("b_account")
)

# The dashboard's user (`me`): its row stands for the account check, as users.account_id
# references accounts; with the summary, `users` are the members of its account.
_me = users.alias("me")
_USER = sa.select(_me.c.account_id).where(_me.c.id == sa.bindparam("b_user"))
_USER_AND_SUMMARY = (
    sa.select(_me.c.account_id, *_SUMMARY_COUNTS, _administrator_count(_me.c.account_id))
    .select_from(_me.join(users, users.c.account_id == _me.c.account_id))
    .where(_me.c.id == sa.bindparam("b_user"))
    .group_by(_me.c.account_id)
)


def _summary(row: Any) -> UsersSummary:
    return UsersSummary(**{name: getattr(row, name) for name in _SUMMARY_FIELDS})


def users_summary(
    session: Session, account_id: str, now: datetime, since: datetime | None
) -> UsersSummary:
    """The account's users counted by effective status at `now`, and those created after `since`."""
    params = {"b_account": account_id, "b_now": now, "b_since": since}
    return _summary(session.execute(_SUMMARY, params).one())


def account_of_user(session: Session, user_id: str) -> str | None:
    """The account of the user, or None when there is no such user."""
    row = session.execute(_USER, {"b_user": user_id}).first()
    return row.account_id if row else None


def account_and_summary_of_user(
    session: Session, user_id: str, now: datetime, since: datetime | None
) -> tuple[str, UsersSummary] | None:
    """The user's account with its users_summary, in one statement; None when there is no such user."""
    params = {"b_user": user_id, "b_now": now, "b_since": since}
    row = session.execute(_USER_AND_SUMMARY, params).first()
    return (row.account_id, _summary(row)) if row else None


def _with_total(query: sa.Select[Any], per_page: int) -> sa.Select[Any]:
    """The first page of `query` (already ordered), each row with the number of rows in all."""
    total = (
        sa.select(sa.func.count()).select_from(query.order_by(None).subquery()).scalar_subquery()
    )
    return query.add_columns(total.label("total")).limit(per_page)


@cache
def _last_audits(count: int) -> sa.Select[Any]:
    query = sa.select(audit_log).where(audit_log.c.user_id == sa.bindparam("b_user"))
    return _with_total(query.order_by(audit_log.c.id.desc()), count)


@cache
def _first_administrators(count: int) -> sa.Select[Any]:
    query = sa.select(users).where(users.c.id.in_(administrators_of(sa.bindparam("b_account"))))
    return _with_total(query.order_by(users.c.name_key, users.c.id), count)


def last_audits_of_user(session: Session, user_id: str, count: int) -> Listed[AuditEntry]:
    """The user's last `count` audit entries, newest first, and how many there are: one statement."""
    rows = session.execute(_last_audits(count), {"b_user": user_id}).all()
    return Listed([audit_from(row) for row in rows], rows[0].total if rows else 0)


def first_administrators(session: Session, account_id: str, count: int) -> Listed[User]:
    """The account's first `count` administrators by name, and how many there are: one statement."""
    rows = session.execute(_first_administrators(count), {"b_account": account_id}).all()
    return Listed([_user(row) for row in rows], rows[0].total if rows else 0)

"""The SCIM server's reads of an account's users: a filter (adapters/scim_filter.py) turned into
one where-clause, sorted, and one page of it with the number of matches, in SQL."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bus.login import NotAnAddress, login_key
from services.identity.adapters import scim_filter
from services.identity.adapters.orm import users
from services.identity.adapters.repository import user_from
from services.identity.domain.records import Listed, User

# What a directory asks before each creation: `userName eq "<address>"`. Read without the
# filter parser, by one statement built once (its SQL compiled once): the unique index of
# logins, as scim_filter's general path reads it (scim_filter._by_login), same answer.
_USER_NAME_EQ = re.compile(
    r'^\s*(?:urn:ietf:params:scim:schemas:core:2\.0:user:)?username\s+eq\s+"([^"\\]+)"\s*$',
    re.IGNORECASE,
)
_BY_LOGIN = sa.select(users).where(
    users.c.account_id == sa.bindparam("account_id"),
    users.c.login_key == sa.bindparam("login_key"),
)


def find_users(
    session: Session,
    account_id: str,
    *,
    filter_text: str | None,
    sort_by: str | None,
    descending: bool,
    offset: int,
    limit: int,
) -> Listed[User]:
    """The account's users matching `filter_text` (all without), ordered by `sort_by` (the
    creation order without), from `offset`, at most `limit`, and how many match in all.
    scim_filter.FilterRefused for a filter or sort attribute that cannot be applied."""
    wanted = _USER_NAME_EQ.match(filter_text or "")
    if wanted and not sort_by:
        return _by_user_name(session, account_id, wanted.group(1), offset, limit)
    query = sa.select(users).where(users.c.account_id == account_id)
    if filter_text:
        query = query.where(scim_filter.where(filter_text))
    order: Any = scim_filter.sort_column(sort_by) if sort_by else users.c.created_at
    order = order.desc() if descending else order.asc()
    if limit > 0:  # the page and the number of matches in one statement
        counted = query.add_columns(sa.func.count().over().label("scim_total"))
        rows = session.execute(
            counted.order_by(order, users.c.id).offset(offset).limit(limit)
        ).all()
        if rows:
            return Listed([_user(row) for row in rows], rows[0].scim_total)
    total = session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    return Listed([], total)


def _by_user_name(
    session: Session, account_id: str, address: str, offset: int, limit: int
) -> Listed[User]:
    """`userName eq "address"`: at most one user (logins are unique)."""
    try:
        key = login_key(address)
    except NotAnAddress:  # no user's address is text that is no address
        return Listed([], 0)
    rows = session.execute(_BY_LOGIN, {"account_id": account_id, "login_key": key}).all()
    return Listed([_user(row) for row in rows[offset : offset + max(limit, 0)]], len(rows))


def user_in_account(session: Session, account_id: str, user_id: str) -> User | None:
    """The user of this account with this id (another account's user is none)."""
    row = session.execute(
        sa.select(users).where(users.c.id == user_id, users.c.account_id == account_id)
    ).first()
    return _user(row) if row else None


def _user(row: Any) -> User:
    return user_from(row._mapping)

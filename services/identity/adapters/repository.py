"""Queries the service layer shares: users, accounts, administrators, and portable upserts."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.identity.adapters.orm import accounts, administrators, users


def aware(value: datetime | None) -> datetime | None:
    """A stored instant as a timezone-aware UTC datetime (SQLite returns naive ones)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """An instant as ISO 8601 UTC with a Z, the form of every answer and event."""
    value = aware(value)
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def fold(text: str | None) -> str:
    """Casefolded, without accents: the form searches compare (é = E)."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def name_key(last_name: str, first_name: str) -> str:
    return fold(f"{last_name} {first_name}")[:210]


def insert_ignore(session: Session, table: sa.Table, values: dict[str, Any]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, on PostgreSQL and SQLite alike."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(table).values(**values).on_conflict_do_nothing())


def get_account(session: Session, account_id: str) -> sa.Row | None:
    return session.execute(sa.select(accounts).where(accounts.c.id == account_id)).first()


def get_account_by_number(session: Session, number: str) -> sa.Row | None:
    return session.execute(sa.select(accounts).where(accounts.c.number == number)).first()


def get_user(session: Session, user_id: str, *, for_update: bool = False) -> sa.Row | None:
    query = sa.select(users).where(users.c.id == user_id)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).first()


def get_user_by_email(session: Session, email: str, *, for_update: bool = False) -> sa.Row | None:
    query = sa.select(users).where(users.c.email == email)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).first()


def taken_emails(session: Session, emails: Iterable[str]) -> set[str]:
    """Which of these normalised addresses some user already has (one query)."""
    wanted = sorted(set(emails))
    found: set[str] = set()
    for start in range(0, len(wanted), 900):  # below SQLite's bound-parameter limit
        chunk = wanted[start : start + 900]
        found.update(session.execute(sa.select(users.c.email).where(users.c.email.in_(chunk))).scalars())
    return found


def administrator_ids(session: Session, account_id: str) -> set[str]:
    """The users who administer `account_id` now."""
    query = sa.select(administrators.c.user_id).where(administrators.c.account_id == account_id)
    return set(session.execute(query).scalars())


def administered_accounts(session: Session, user_id: str) -> set[str]:
    query = sa.select(administrators.c.account_id).where(administrators.c.user_id == user_id)
    return set(session.execute(query).scalars())

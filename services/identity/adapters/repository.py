"""Queries the service layer shares: users, accounts, administrators, and portable upserts."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.identity.adapters.orm import accounts, administrators, login_throttle, users


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


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def execute_together(session: Session, *statements: sa.Executable) -> None:
    """Run INSERT/UPDATE/DELETE statements (none returning rows) in the caller's transaction:
    on PostgreSQL in one round trip (the first ones as data-modifying CTEs of the last, which
    all see the same snapshot, so they must touch different rows), elsewhere one after another."""
    *first, last = statements
    if first and is_postgres(session):
        for index, statement in enumerate(first):
            last = last.add_cte(statement.cte(f"w{index}"))  # type: ignore[attr-defined]
        session.execute(last)
        return
    for statement in statements:
        session.execute(statement)


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


_IS_ADMINISTRATOR = sa.exists().where(
    administrators.c.user_id == users.c.id, administrators.c.account_id == users.c.account_id
).label("is_administrator")
_USER_COLUMNS = tuple(column.name for column in users.c) + ("is_administrator",)


def lock_sign_in(session: Session, key: str, email: str | None, now: datetime
                 ) -> tuple[int, datetime | None, SimpleNamespace | None]:
    """The start of a sign-in: take the throttle row of `key` (made when missing) and lock it for
    the transaction, so attempts on one e-mail run one after the other; read the user of the
    normalised `email` (None: not a valid address), locked too, with `is_administrator`.

    Returns (failures, locked_until, user or None). One statement on PostgreSQL.
    """
    user_query = None
    if email is not None:
        user_query = (sa.select(users, _IS_ADMINISTRATOR).where(users.c.email == email)
                      .with_for_update(of=users))
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert

        throttle = (insert(login_throttle).values(email_key=key, failures=0, updated_at=now)
                    .on_conflict_do_update(index_elements=[login_throttle.c.email_key],
                                           set_={"failures": login_throttle.c.failures})  # locks it
                    .returning(login_throttle.c.failures.label("throttle_failures"),
                               login_throttle.c.locked_until.label("throttle_locked_until"))
                    .cte("throttle"))
        if user_query is None:
            row = session.execute(sa.select(throttle)).one()
            return row.throttle_failures, aware(row.throttle_locked_until), None
        user = user_query.subquery("u")
        row = session.execute(sa.select(throttle, user).select_from(throttle.outerjoin(user, sa.true()))).one()
        found = _user(row) if row.id is not None else None
        return row.throttle_failures, aware(row.throttle_locked_until), found
    insert_ignore(session, login_throttle, {"email_key": key, "failures": 0, "updated_at": now})
    throttle_row = session.execute(
        sa.select(login_throttle.c.failures, login_throttle.c.locked_until)
        .where(login_throttle.c.email_key == key).with_for_update()
    ).one()
    user_row = session.execute(user_query).first() if user_query is not None else None
    return throttle_row.failures, aware(throttle_row.locked_until), _user(user_row) if user_row else None


def _user(row: Any) -> SimpleNamespace:
    values = row._mapping
    return SimpleNamespace(**{name: values[name] for name in _USER_COLUMNS})

"""Queries the service layer shares: users, accounts, administrators, and portable upserts."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from services.identity.adapters.orm import (
    accounts,
    administrators,
    audit_log,
    login_throttle,
    users,
)


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


def get_user_by_login_key(session: Session, key: str, *, for_update: bool = False) -> sa.Row | None:
    """The user whose e-mail has this login key (bus.login.login_key), whatever its spelling."""
    query = sa.select(users).where(users.c.login_key == key)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).first()


def taken_login_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these login keys (bus.login.login_key) some user already has, in one query.

    On PostgreSQL the keys are one array parameter joined to users: a nested loop on the
    login key's unique index whatever the planner knows. `login_key IN (500 parameters)` is planned as
    a sequential scan while the table has no statistics — the case during a large first import —
    and the prepared (generic) plan then compares every user with every parameter: seconds per
    batch once the table holds tens of thousands of users.
    """
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    if session.connection().dialect.name == "postgresql":
        return set(session.execute(_TAKEN_ON_POSTGRES, {"keys": wanted}).scalars())
    found: set[str] = set()
    for start in range(0, len(wanted), 900):  # below SQLite's bound-parameter limit
        chunk = wanted[start : start + 900]
        found.update(session.execute(sa.select(users.c.login_key).where(users.c.login_key.in_(chunk))).scalars())
    return found


_TAKEN_ON_POSTGRES = sa.text(
    "SELECT users.login_key FROM unnest(CAST(:keys AS varchar[])) AS wanted(login_key) "
    "JOIN users ON users.login_key = wanted.login_key"
)


def administrator_ids(session: Session, account_id: str) -> set[str]:
    """The users who administer `account_id` now."""
    query = sa.select(administrators.c.user_id).where(administrators.c.account_id == account_id)
    return set(session.execute(query).scalars())


def administered_accounts(session: Session, user_id: str) -> set[str]:
    query = sa.select(administrators.c.account_id).where(administrators.c.user_id == user_id)
    return set(session.execute(query).scalars())


# --- signing in: statements built once and reused (no building, no result adaptation per
# request). Their bound parameters are named b_*, so that none is ever taken for a column name.

def _b(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(f"b_{name}")


_USER_COLUMNS = tuple(column.name for column in users.c) + ("is_administrator",)
_USER_READ = sa.select(users, sa.exists().where(
    administrators.c.user_id == users.c.id, administrators.c.account_id == users.c.account_id,
).label("is_administrator")).where(users.c.login_key == _b("key")).with_for_update(of=users)
_THROTTLE_READ = sa.select(
    login_throttle.c.failures.label("throttle_failures"),
    login_throttle.c.locked_until.label("throttle_locked_until"),
).where(login_throttle.c.email_key == _b("key")).with_for_update()
# PostgreSQL: made when missing, and locked either way (DO UPDATE locks the row and returns it).
_THROTTLE_TAKEN = (
    postgresql.insert(login_throttle).values(email_key=_b("key"), failures=0, updated_at=_b("now"))
    .on_conflict_do_update(index_elements=[login_throttle.c.email_key],
                           set_={"failures": login_throttle.c.failures})
    .returning(login_throttle.c.failures.label("throttle_failures"),
               login_throttle.c.locked_until.label("throttle_locked_until"))
    .cte("throttle")
)
_USER_FOUND = _USER_READ.subquery("u")
_PG_READ = sa.select(_THROTTLE_TAKEN, _USER_FOUND).select_from(_THROTTLE_TAKEN.outerjoin(_USER_FOUND, sa.true()))
_PG_READ_NO_USER = sa.select(_THROTTLE_TAKEN)

_AUDIT_COLUMNS = ("at", "account_id", "user_id", "actor", "source", "action", "result", "target", "ip",
                  "user_agent", "detail")
_AUDIT = audit_log.insert().values(**{name: _b(name) for name in _AUDIT_COLUMNS})
_THROTTLE_CLEARED = login_throttle.delete().where(login_throttle.c.email_key == _b("key"))
_THROTTLE_FAILED = login_throttle.update().where(login_throttle.c.email_key == _b("key")).values(
    failures=_b("failures"), locked_until=_b("locked_until"), updated_at=_b("now"))
_SIGNED_IN = users.update().where(users.c.id == _b("user")).values(
    last_sign_in_at=_b("now"), previous_sign_in_at=_b("previous"))
# The writes of an outcome, together: one round trip on PostgreSQL (data-modifying CTEs see one
# snapshot, so each statement touches rows the others do not).
_SUCCEEDED = (_THROTTLE_CLEARED, _SIGNED_IN, _AUDIT)
_FAILED = (_THROTTLE_FAILED, _AUDIT)
_PG_SUCCEEDED = _AUDIT.add_cte(_THROTTLE_CLEARED.cte("cleared"), _SIGNED_IN.cte("signed_in"))
_PG_FAILED = _AUDIT.add_cte(_THROTTLE_FAILED.cte("failed"))


def lock_sign_in(session: Session, key: str, is_address: bool, now: datetime
                 ) -> tuple[int, datetime | None, SimpleNamespace | None]:
    """The start of a sign-in: take the throttle row of `key` (made when missing) and lock it for
    the transaction, so attempts on one login run one after the other; when `key` is the login
    key of an address (`is_address`), read its user, locked too, with `is_administrator`.

    Returns (failures, locked_until, user or None). One statement on PostgreSQL.
    """
    params = {"b_key": key, "b_now": now}
    if is_postgres(session):
        row = session.execute(_PG_READ if is_address else _PG_READ_NO_USER, params).one()
        found = _user(row) if is_address and row.id is not None else None
        return row.throttle_failures, aware(row.throttle_locked_until), found
    insert_ignore(session, login_throttle, {"email_key": key, "failures": 0, "updated_at": now})
    throttle = session.execute(_THROTTLE_READ, params).one()
    user = session.execute(_USER_READ, params).first() if is_address else None
    return throttle.throttle_failures, aware(throttle.throttle_locked_until), _user(user) if user else None


def record_sign_in(session: Session, key: str, user_id: str, now: datetime, previous: datetime | None,
                   audit: dict[str, Any]) -> None:
    """A success: the throttle row goes, the user's sign-in dates move, the audit entry is written."""
    params = {"b_key": key, "b_user": user_id, "b_now": now, "b_previous": previous, **_audit_params(audit)}
    _write(session, _PG_SUCCEEDED, _SUCCEEDED, params)


def record_failed_sign_in(session: Session, key: str, failures: int, locked_until: datetime | None,
                          now: datetime, audit: dict[str, Any]) -> None:
    """A failure: the throttle row's count and lock, and the audit entry."""
    params = {"b_key": key, "b_failures": failures, "b_locked_until": locked_until, "b_now": now,
              **_audit_params(audit)}
    _write(session, _PG_FAILED, _FAILED, params)


def _audit_params(audit: dict[str, Any]) -> dict[str, Any]:
    return {f"b_{name}": audit.get(name) for name in _AUDIT_COLUMNS}


def _write(session: Session, together: sa.Executable, apart: tuple[sa.Executable, ...],
           params: dict[str, Any]) -> None:
    if is_postgres(session):
        session.execute(together, params)
    else:
        for statement in apart:
            session.execute(statement, params)


def _user(row: Any) -> SimpleNamespace:
    values = row._mapping
    return SimpleNamespace(**{name: values[name] for name in _USER_COLUMNS})

"""A sign-in's database work, in statements built once at import and reused on every attempt.

On PostgreSQL one statement takes the typed login's throttle row (made when missing, locked till
the commit, so attempts on one login wait for each other) with its user, `is_administrator` and
the user's second factors (what a right password leads to), and one statement writes the outcome (throttle row, sign-in dates, audit entry) with
data-modifying CTEs; elsewhere (SQLite) the same statements run one after another. Bound
parameters are named b_*, so that none is ever taken for a column name.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from bus.clock import as_utc
from services.identity.adapters.mfa_repository import factor_columns, factors_from
from services.identity.adapters.orm import administrators, audit_log, login_throttle, users
from services.identity.adapters.repository import insert_ignore, is_postgres, user_from
from services.identity.domain.lockout import LoginThrottle
from services.identity.domain.records import AuditEntry, SignInState


def _b(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(f"b_{name}")


_USER_READ = (
    sa.select(
        users,
        sa.exists()
        .where(
            administrators.c.user_id == users.c.id,
            administrators.c.account_id == users.c.account_id,
        )
        .label("is_administrator"),
    )
    .where(users.c.login_key == _b("key"))
    .with_for_update(of=users)
)
_THROTTLE_READ = (
    sa.select(
        login_throttle.c.failures.label("throttle_failures"),
        login_throttle.c.locked_until.label("throttle_locked_until"),
    )
    .where(login_throttle.c.email_key == _b("key"))
    .with_for_update()
)
# PostgreSQL: made when missing, and locked either way (DO UPDATE locks the row and returns it).
_THROTTLE_TAKEN = (
    postgresql.insert(login_throttle)
    .values(email_key=_b("key"), failures=0, updated_at=_b("now"))
    .on_conflict_do_update(
        index_elements=[login_throttle.c.email_key], set_={"failures": login_throttle.c.failures}
    )
    .returning(
        login_throttle.c.failures.label("throttle_failures"),
        login_throttle.c.locked_until.label("throttle_locked_until"),
    )
    .cte("throttle")
)
# PostgreSQL: the user with its factors, so that a right password needs no other read.
_USER_FOUND = _USER_READ.add_columns(*factor_columns(users.c.id, users.c.account_id)).subquery("u")
_PG_READ = sa.select(_THROTTLE_TAKEN, _USER_FOUND).select_from(
    _THROTTLE_TAKEN.outerjoin(_USER_FOUND, sa.true())
)
_PG_READ_NO_USER = sa.select(_THROTTLE_TAKEN)

_AUDIT_COLUMNS = (
    "at",
    "account_id",
    "user_id",
    "actor",
    "source",
    "action",
    "result",
    "target",
    "ip",
    "user_agent",
    "detail",
)
_AUDIT = audit_log.insert().values(**{name: _b(name) for name in _AUDIT_COLUMNS})
_THROTTLE_CLEARED = login_throttle.delete().where(login_throttle.c.email_key == _b("key"))
_THROTTLE_FAILED = (
    login_throttle.update()
    .where(login_throttle.c.email_key == _b("key"))
    .values(failures=_b("failures"), locked_until=_b("locked_until"), updated_at=_b("now"))
)
_SIGNED_IN = (
    users.update()
    .where(users.c.id == _b("user"))
    .values(last_sign_in_at=_b("now"), previous_sign_in_at=_b("previous"))
)
# The writes of an outcome, together: one round trip on PostgreSQL (data-modifying CTEs see one
# snapshot, so each statement touches rows the others do not).
_SUCCEEDED = (_THROTTLE_CLEARED, _SIGNED_IN, _AUDIT)
_FAILED = (_THROTTLE_FAILED, _AUDIT)
_PG_SUCCEEDED = _AUDIT.add_cte(_THROTTLE_CLEARED.cte("cleared"), _SIGNED_IN.cte("signed_in"))
_PG_FAILED = _AUDIT.add_cte(_THROTTLE_FAILED.cte("failed"))


# PostgreSQL: each statement's SQL, compiled once (statement → SQL, its literals' values).
_COMPILED: dict[sa.Executable, tuple[str, dict[str, Any]]] = {}


def _on_driver(session: Session, statement: sa.Executable, params: dict[str, Any]) -> Any:
    """Run one of this module's statements on PostgreSQL with its SQL compiled once, in the
    session's transaction: `exec_driver_sql` keeps SQLAlchemy's error handling (a lost
    connection is a DBAPIError, the pool renewed) but skips the per-call cache key of the
    statement, which is large (every column of users, the factors' subqueries) and walked on
    every `Session.execute`."""
    connection = session.connection()
    sql, constants = _COMPILED.get(statement) or _compile(statement, connection.dialect)
    return connection.exec_driver_sql(sql, {**constants, **params})


def _compile(statement: sa.Executable, dialect: Any) -> tuple[str, dict[str, Any]]:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    named = {name for name, bind in compiled.binds.items() if bind.required}
    constants = {
        name: value
        for name, value in compiled.construct_params(dict.fromkeys(named)).items()
        if name not in named
    }
    _COMPILED[statement] = (str(compiled), constants)
    return _COMPILED[statement]


def lock_sign_in(session: Session, key: str, is_address: bool, now: datetime) -> SignInState:
    """The start of a sign-in: take the throttle row of `key` (made when missing) and lock it for
    the transaction, so attempts on one login run one after the other; when `key` is the login
    key of an address (`is_address`), read its user, locked too, with `is_administrator`.

    One statement on PostgreSQL, which also reads the user's second factors (`factors`);
    elsewhere `factors` is None (mfa_repository.factors_of reads them).
    """
    params = {"b_key": key, "b_now": now}
    if is_postgres(session):
        row = _on_driver(session, _PG_READ if is_address else _PG_READ_NO_USER, params).one()
        if not is_address or row.id is None:
            return _state(row, None)
        return replace(_state(row, row), factors=factors_from(row))
    insert_ignore(session, login_throttle, {"email_key": key, "failures": 0, "updated_at": now})
    throttle = session.execute(_THROTTLE_READ, params).one()
    return _state(throttle, session.execute(_USER_READ, params).first() if is_address else None)


def _state(throttle: Any, user: Any) -> SignInState:
    counted = LoginThrottle(throttle.throttle_failures, as_utc(throttle.throttle_locked_until))
    if user is None:
        return SignInState(counted)
    return SignInState(counted, user_from(user._mapping), bool(user.is_administrator))


def record_sign_in(
    session: Session,
    key: str,
    user_id: str,
    now: datetime,
    previous: datetime | None,
    audit: AuditEntry,
) -> None:
    """A success: the throttle row goes, the user's sign-in dates move, the audit entry is written."""
    params = {
        "b_key": key,
        "b_user": user_id,
        "b_now": now,
        "b_previous": previous,
        **_audit_params(audit),
    }
    _write(session, _PG_SUCCEEDED, _SUCCEEDED, params)


def record_failed_sign_in(
    session: Session, key: str, throttle: LoginThrottle, now: datetime, audit: AuditEntry
) -> None:
    """A failure: the throttle row's count and lock, and the audit entry."""
    params = {
        "b_key": key,
        "b_failures": throttle.failures,
        "b_locked_until": throttle.locked_until,
        "b_now": now,
        **_audit_params(audit),
    }
    _write(session, _PG_FAILED, _FAILED, params)


def record_refused_sign_in(session: Session, audit: AuditEntry) -> None:
    """A refusal before any check (a locked login): the audit entry alone, as compiled once."""
    params = _audit_params(audit)
    if is_postgres(session):
        _on_driver(session, _AUDIT, params)
    else:
        session.execute(_AUDIT, params)


def _audit_params(audit: AuditEntry) -> dict[str, Any]:
    return {f"b_{name}": getattr(audit, name) for name in _AUDIT_COLUMNS}


def _write(
    session: Session,
    together: sa.Executable,
    apart: tuple[sa.Executable, ...],
    params: dict[str, Any],
) -> None:
    if is_postgres(session):
        _on_driver(session, together, params)
    else:
        for statement in apart:
            session.execute(statement, params)

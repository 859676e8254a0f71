"""Rows in, records out: identity's accounts, users, administrators, link tokens and audit trail.

Every function takes the unit of work's session and answers records of `domain/records.py`
(instants timezone-aware in UTC); the service layer holds no SQL. Lists are read with a fixed
number of statements. The request path's hot statements (a sign-in's two, the dashboard's three)
are built once and reused, in `sign_ins.py` and `user_lists.py` beside this module.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bus.clock import as_utc
from bus.db import bulk_insert
from bus.pagination import Page
from services.identity.adapters.orm import (
    accounts,
    administrators,
    audit_log,
    login_throttle,
    password_history,
    tokens,
    users,
)
from services.identity.domain.model import UserStatus
from services.identity.domain.records import (
    Account,
    AuditEntry,
    Listed,
    StoredToken,
    User,
)

R = TypeVar("R")


class LoginTaken(Exception):
    """Another user has this login: the database's unique index refused the write (two requests
    giving one address at the same moment; the service layer checks first, this is the race)."""


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
    dialect = postgresql if is_postgres(session) else sqlite
    session.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


def _values(record: Any) -> dict[str, Any]:
    """A record's fields as columns (flat: no deep copy, unlike dataclasses.asdict)."""
    return {name: getattr(record, name) for name in _FIELDS[type(record)]}


_FIELDS = {
    kind: tuple(f.name for f in fields(kind)) for kind in (Account, User, StoredToken, AuditEntry)
}
_USER_INSTANTS = (
    "created_at",
    "updated_at",
    "password_changed_at",
    "locked_until",
    "reset_mail_at",
    "activated_at",
    "last_sign_in_at",
    "previous_sign_in_at",
)


def page_of(
    session: Session, query: sa.Select[Any], page: Page, record: Callable[[Any], R]
) -> Listed[R]:
    """One page of `query` (already ordered) as records, and the number of rows in all."""
    answer = page.answer(session, query, record)
    return Listed(answer["items"], answer["total"])


# -- accounts ----------------------------------------------------------------------------------


def account_from(row: Any) -> Account:
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
    return account_from(row) if row else None


def get_account_by_number(session: Session, number: str) -> Account | None:
    row = session.execute(sa.select(accounts).where(accounts.c.number == number)).first()
    return account_from(row) if row else None


def add_account(session: Session, account: Account) -> None:
    session.execute(accounts.insert().values(**_values(account)))


# -- users -------------------------------------------------------------------------------------


def user_from(values: Mapping[str, Any]) -> User:
    """A User from a row's mapping (extra columns, such as a join's, are ignored)."""
    found = {name: values[name] for name in _FIELDS[User]}
    for name in _USER_INSTANTS:
        found[name] = as_utc(found[name])
    return User(**found)


def _user(row: Any) -> User:
    return user_from(row._mapping)


def search_keys(values: Mapping[str, Any], current: User | None = None) -> dict[str, Any]:
    """The folded copies stored beside names and function, for the administrators' searches."""
    keys: dict[str, Any] = {}
    if "last_name" in values or "first_name" in values:
        last = values.get("last_name", current.last_name if current else "")
        first = values.get("first_name", current.first_name if current else "")
        keys["name_key"] = name_key(last, first)
    if "function" in values:
        keys["function_key"] = fold(values["function"]) or None
    return keys


def _user_row(user: User) -> dict[str, Any]:
    values = _values(user)
    return {**values, **search_keys(values)}


def get_user(session: Session, user_id: str, *, for_update: bool = False) -> User | None:
    query = sa.select(users).where(users.c.id == user_id)
    if for_update:
        query = query.with_for_update()
    row = session.execute(query).first()
    return _user(row) if row else None


def get_user_by_login_key(session: Session, key: str, *, for_update: bool = False) -> User | None:
    """The user whose e-mail has this login key (bus.login.login_key), whatever its spelling."""
    query = sa.select(users).where(users.c.login_key == key)
    if for_update:
        query = query.with_for_update()
    row = session.execute(query).first()
    return _user(row) if row else None


def users_of_account(session: Session, account_id: str, user_ids: Iterable[str]) -> dict[str, User]:
    """id → user, of those among `user_ids` who belong to the account."""
    query = sa.select(users).where(users.c.id.in_(set(user_ids)), users.c.account_id == account_id)
    return {row.id: _user(row) for row in session.execute(query)}


def add_user(session: Session, user: User) -> None:
    """Insert a user; LoginTaken when another user took the same login at the same moment."""
    try:
        session.execute(users.insert().values(**_user_row(user)))
    except IntegrityError:
        raise LoginTaken from None


def add_users(session: Session, new_users: list[User]) -> None:
    """Insert many users at once (COPY on PostgreSQL); their logins were checked as free."""
    bulk_insert(session, users, [_user_row(user) for user in new_users])


def add_imported_users(
    session: Session,
    new_users: list[dict[str, Any]],
    new_tokens: list[tuple[str, str]],
    *,
    account_id: str,
    created_by: str | None,
    import_job_id: str,
    now: datetime,
    purpose: str,
    expires_at: datetime,
    audit_detail_head: str,
) -> None:
    """An import batch's users (their stored fields, `id`, `login_key` and `import_line`; logins
    checked as free), each one's link token (token hash, user id, in the same order) and each
    one's `user_created` audit row, whose detail is `audit_detail_head` and the line, closed.

    On PostgreSQL one statement does it all: the rows go as one JSON parameter, read once by
    json_to_recordset and inserted into the three tables; elsewhere one executemany a table."""
    rows = [
        {
            "id": user["id"],
            "email": user["email"],
            "login_key": user["login_key"],
            "title": user["title"],
            "last_name": user["last_name"],
            "first_name": user["first_name"],
            "language": user["language"],
            "office_phone": user["office_phone"],
            "mobile_phone": user["mobile_phone"],
            "password_level": user["password_level"],
            "name_key": name_key(user["last_name"], user["first_name"]),
            "import_line": user["import_line"],
            "token_hash": token_hash,
        }
        for user, (token_hash, _) in zip(new_users, new_tokens, strict=True)
    ]
    batch = {
        "account_id": account_id,
        "created_by": created_by,
        "import_job_id": import_job_id,
        "now": now,
        "status": UserStatus.PENDING_ACTIVATION.value,
        "purpose": purpose,
        "expires_at": expires_at,
        "detail_head": audit_detail_head,
    }
    if is_postgres(session):
        session.execute(_IMPORT_ON_POSTGRES, {**batch, "rows": json.dumps(rows)})
        return
    bulk_insert(
        session,
        users,
        [
            {
                **{name: row[name] for name in row if name != "token_hash"},
                "account_id": account_id,
                "function": None,
                "function_key": None,
                "status": batch["status"],
                "source": "import",
                "created_by": created_by,
                "import_job_id": import_job_id,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for row in rows
        ],
    )
    bulk_insert(
        session,
        tokens,
        [
            {
                "token_hash": row["token_hash"],
                "user_id": row["id"],
                "purpose": purpose,
                "created_at": now,
                "expires_at": expires_at,
                "used_at": None,
                "superseded": False,
                "new_email": None,
            }
            for row in rows
        ],
    )
    bulk_insert(
        session,
        audit_log,
        [
            {
                "at": now,
                "account_id": account_id,
                "user_id": row["id"],
                "actor": created_by,
                "source": "import",
                "action": "user_created",
                "target": row["email"],
                "detail": f"{audit_detail_head}{row['import_line']}}}",
            }
            for row in rows
        ],
    )


_IMPORT_ON_POSTGRES = sa.text(
    """
    WITH batch AS (
        SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS r(
            id varchar, email varchar, login_key varchar, title varchar, last_name varchar,
            first_name varchar, language varchar, office_phone varchar, mobile_phone varchar,
            password_level smallint, name_key varchar, import_line integer, token_hash varchar)
    ), new_users AS (
        INSERT INTO users (id, account_id, email, login_key, title, last_name, first_name,
            language, function, office_phone, mobile_phone, password_level, status, name_key,
            function_key, source, created_by, import_job_id, import_line, created_at,
            updated_at, version)
        SELECT id, CAST(:account_id AS varchar), email, login_key, title, last_name,
            first_name, language, NULL, office_phone, mobile_phone, password_level,
            CAST(:status AS varchar), name_key, NULL, 'import', CAST(:created_by AS varchar),
            CAST(:import_job_id AS varchar), import_line, CAST(:now AS timestamptz),
            CAST(:now AS timestamptz), 1
        FROM batch
    ), new_tokens AS (
        INSERT INTO tokens (token_hash, user_id, purpose, created_at, expires_at, used_at,
            superseded, new_email)
        SELECT token_hash, id, CAST(:purpose AS varchar), CAST(:now AS timestamptz),
            CAST(:expires_at AS timestamptz), NULL, false, NULL
        FROM batch
    )
    INSERT INTO audit_log (at, account_id, user_id, actor, source, action, target, detail)
    SELECT CAST(:now AS timestamptz), CAST(:account_id AS varchar), id,
        CAST(:created_by AS varchar), 'import', 'user_created', email,
        CAST(:detail_head AS text) || import_line || '}'
    FROM batch
    """
)


def update_user(session: Session, user: User, values: Mapping[str, Any]) -> None:
    """Write the given columns of `user` (its search keys follow its names and function);
    LoginTaken when the e-mail given is another user's login since the check."""
    statement = (
        users.update()
        .where(users.c.id == user.id)
        .values(**values, **search_keys(values, user), version=users.c.version + 1)
    )
    try:
        session.execute(statement)
    except IntegrityError:
        raise LoginTaken from None


def delete_user(session: Session, user_id: str) -> None:
    """Delete the user and the administration it held."""
    session.execute(administrators.delete().where(administrators.c.user_id == user_id))
    session.execute(users.delete().where(users.c.id == user_id))


def expired_locks(session: Session, now: datetime) -> list[User]:
    """The users still locked whose lock ended at `now` (locked till the commit)."""
    return [
        _user(row)
        for row in session.execute(
            sa.select(users)
            .where(
                users.c.status == UserStatus.LOCKED,
                users.c.locked_until.is_not(None),
                users.c.locked_until <= now,
            )
            .with_for_update()
        )
    ]


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
        found.update(
            session.execute(
                sa.select(users.c.login_key).where(users.c.login_key.in_(chunk))
            ).scalars()
        )
    return found


_TAKEN_ON_POSTGRES = sa.text(
    "SELECT users.login_key FROM unnest(CAST(:keys AS varchar[])) AS wanted(login_key) "
    "JOIN users ON users.login_key = wanted.login_key"
)


# -- passwords and the sign-in throttle --------------------------------------------------------


def password_hashes(session: Session, user_id: str, count: int) -> list[str]:
    """The user's last `count` password hashes, most recent (the current one) first."""
    return list(
        session.execute(
            sa.select(password_history.c.password_hash)
            .where(password_history.c.user_id == user_id)
            .order_by(password_history.c.id.desc())
            .limit(count)
        ).scalars()
    )


def set_password(session: Session, user_id: str, hashed: str, now: datetime, *, kept: int) -> None:
    """The user's password hash becomes `hashed`; the history keeps the last `kept` ones."""
    session.execute(
        users.update()
        .where(users.c.id == user_id)
        .values(password_hash=hashed, password_changed_at=now, updated_at=now)
    )
    session.execute(
        password_history.insert().values(user_id=user_id, password_hash=hashed, created_at=now)
    )
    keep = (
        sa.select(password_history.c.id)
        .where(password_history.c.user_id == user_id)
        .order_by(password_history.c.id.desc())
        .limit(kept)
    )
    session.execute(
        password_history.delete().where(
            password_history.c.user_id == user_id,
            password_history.c.id.not_in(keep.scalar_subquery()),
        )
    )


def rehash_in_history(session: Session, user_id: str, old: str, new: str) -> None:
    """A hash remade with today's parameters replaces the old one in the history too."""
    session.execute(
        password_history.update()
        .where(
            password_history.c.user_id == user_id,
            password_history.c.password_hash == old,
        )
        .values(password_hash=new)
    )


def clear_throttle(session: Session, key: str) -> None:
    """Forget the failed sign-ins counted under `key`."""
    session.execute(login_throttle.delete().where(login_throttle.c.email_key == key))


def forget_throttles(session: Session, untouched_since: datetime, now: datetime) -> None:
    """Forget the throttle rows untouched since then, unless they still lock their login."""
    session.execute(
        login_throttle.delete().where(
            login_throttle.c.updated_at < untouched_since,
            sa.or_(login_throttle.c.locked_until.is_(None), login_throttle.c.locked_until < now),
        )
    )


# -- administrators ----------------------------------------------------------------------------


def administrator_ids(session: Session, account_id: str, *, for_update: bool = False) -> set[str]:
    """The users who administer `account_id` now (their rows locked with `for_update`)."""
    query = sa.select(administrators.c.user_id).where(administrators.c.account_id == account_id)
    if for_update:
        query = query.with_for_update()
    return set(session.execute(query).scalars())


def administered_accounts(session: Session, user_id: str) -> set[str]:
    query = sa.select(administrators.c.account_id).where(administrators.c.user_id == user_id)
    return set(session.execute(query).scalars())


def add_administrator(
    session: Session, subscription_id: str, account_id: str, user_id: str, since: datetime
) -> None:
    """Record that this subscription makes the user an administrator (once: a redelivery is a no-op)."""
    insert_ignore(
        session,
        administrators,
        {
            "subscription_id": subscription_id,
            "account_id": account_id,
            "user_id": user_id,
            "since": since,
        },
    )


def remove_administrator(session: Session, subscription_id: str) -> None:
    session.execute(
        administrators.delete().where(administrators.c.subscription_id == subscription_id)
    )


def administrators_of(account_id: Any) -> sa.Select[Any]:
    """The ids of the account's administrators, as a subquery."""
    return sa.select(administrators.c.user_id).where(administrators.c.account_id == account_id)


def list_administrators(session: Session, account_id: str, page: Page) -> Listed[User]:
    """The users who administer the account, by name."""
    query = (
        sa.select(users)
        .where(users.c.id.in_(administrators_of(account_id)))
        .order_by(users.c.name_key, users.c.id)
    )
    return page_of(session, query, page, _user)


# -- link tokens -------------------------------------------------------------------------------


def _token(row: Any) -> StoredToken:
    return StoredToken(
        token_hash=row.token_hash,
        user_id=row.user_id,
        purpose=row.purpose,
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at),
        used_at=as_utc(row.used_at),
        superseded=bool(row.superseded),
        new_email=row.new_email,
    )


def get_token(session: Session, token_hash: str) -> StoredToken | None:
    """The token with this hash, locked till the commit."""
    row = session.execute(
        sa.select(tokens).where(tokens.c.token_hash == token_hash).with_for_update()
    ).first()
    return _token(row) if row else None


def add_token(session: Session, token: StoredToken) -> None:
    session.execute(tokens.insert().values(**_values(token)))


def add_tokens(session: Session, new_tokens: list[StoredToken]) -> None:
    bulk_insert(session, tokens, [_values(token) for token in new_tokens])


def supersede_tokens(session: Session, user_id: str, purpose: str, now: datetime) -> None:
    """The user's unused tokens of `purpose` stop working: a newer one replaced them."""
    session.execute(
        tokens.update()
        .where(tokens.c.user_id == user_id, tokens.c.purpose == purpose, tokens.c.used_at.is_(None))
        .values(used_at=now, superseded=True)
    )


def supersede_tokens_of_users(
    session: Session, user_ids: list[str], purpose: str, now: datetime
) -> None:
    """supersede_tokens of many users in one statement."""
    session.execute(
        tokens.update()
        .where(
            tokens.c.user_id.in_(user_ids), tokens.c.purpose == purpose, tokens.c.used_at.is_(None)
        )
        .values(used_at=now, superseded=True)
    )


def spend_token(session: Session, token_hash: str, now: datetime) -> bool:
    """Mark the token used; False when it already was (a concurrent spend won)."""
    spent = session.execute(
        tokens.update()
        .where(tokens.c.token_hash == token_hash, tokens.c.used_at.is_(None))
        .values(used_at=now)
    )
    return cast(CursorResult[Any], spent).rowcount == 1


def delete_tokens_expired_before(session: Session, cutoff: datetime) -> int:
    deleted = session.execute(tokens.delete().where(tokens.c.expires_at < cutoff))
    return cast(CursorResult[Any], deleted).rowcount


# -- the audit trail ---------------------------------------------------------------------------


def audit_from(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=as_utc(row.at),
        account_id=row.account_id,
        user_id=row.user_id,
        actor=row.actor,
        source=row.source,
        action=row.action,
        result=row.result,
        target=row.target,
        ip=row.ip,
        user_agent=row.user_agent,
        detail=row.detail,
    )


def _audit_row(entry: AuditEntry) -> dict[str, Any]:
    values = _values(entry)
    del values["id"]
    return values


def add_audit(session: Session, entry: AuditEntry) -> None:
    session.execute(audit_log.insert().values(**_audit_row(entry)))


def add_audits(session: Session, entries: list[AuditEntry]) -> None:
    bulk_insert(session, audit_log, [_audit_row(entry) for entry in entries])


def audits_of_account(session: Session, account_id: str, page: Page) -> Listed[AuditEntry]:
    query = (
        sa.select(audit_log)
        .where(audit_log.c.account_id == account_id)
        .order_by(audit_log.c.id.desc())
    )
    return page_of(session, query, page, audit_from)


def audits_of_user(session: Session, user_id: str, page: Page) -> Listed[AuditEntry]:
    query = (
        sa.select(audit_log).where(audit_log.c.user_id == user_id).order_by(audit_log.c.id.desc())
    )
    return page_of(session, query, page, audit_from)

"""Sessions in the gateway's database: open, find (with idle and absolute expiry), end."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bus.clock import as_utc
from bus.db import changed_rows
from bus.i18n import _l
from bus.part import Part
from gateway.adapters.caller_reader import caller_reader
from gateway.adapters.orm import holdings, pending_events, sessions
from gateway.domain.sessions import SessionPolicy, hash_token, new_token
from gateway.service_layer.access import Access, effective_condition
from gateway.service_layer.read_your_writes import KEEP as OWED_FOR


class SessionEnded(Exception):
    """The token names no live session; the message says why, for the person."""


@dataclass(frozen=True)
class SessionInfo:
    id: str
    user_id: str
    account_id: str
    csrf_hash: str
    created_at: datetime
    expires_at: datetime
    password_change_required: bool
    previous_sign_in_at: str | None
    mfa_enrolment_required: bool = False  # may only enrol a second factor (the account's policy)
    profile: str | None = None  # identity's answer for GET /me, as kept (JSON), if any
    profile_at: datetime | None = None
    profile_version: int = 0
    # whether the user's earlier writes may still be on their way to a service (read-your-writes):
    # when not, a forwarded call asks nothing more before it goes
    owes_events: bool = True

    def cached_profile(self, now: datetime, ttl: timedelta) -> dict[str, Any] | None:
        """The kept profile while younger than `ttl`, else None (ask identity)."""
        if self.profile is None or self.profile_at is None or now - self.profile_at >= ttl:
            return None
        try:
            return json.loads(self.profile)
        except ValueError:
            return None


@dataclass(frozen=True)
class OpenedSession:
    token: str
    csrf_token: str
    info: SessionInfo


def _info(row: Any) -> SessionInfo:
    return SessionInfo(
        id=row["id"],
        user_id=row["user_id"],
        account_id=row["account_id"],
        csrf_hash=row["csrf_hash"],
        created_at=as_utc(row["created_at"]),
        expires_at=as_utc(row["expires_at"]),
        password_change_required=bool(row["password_change_required"]),
        previous_sign_in_at=row["previous_sign_in_at"],
        mfa_enrolment_required=bool(row.get("mfa_enrolment_required")),
        profile=row.get("profile"),
        profile_at=as_utc(row["profile_at"]) if row.get("profile_at") else None,
        profile_version=row.get("profile_version") or 0,
        owes_events=bool(row.get("owes_events", True)),
    )


def open_session(
    part: Part,
    policy: SessionPolicy,
    user: dict[str, Any],
    *,
    password_change_required: bool,
    ip: str | None,
    user_agent: str | None,
    mfa_enrolment_required: bool = False,
    amr: tuple[str, ...] = ("pwd",),
) -> OpenedSession:
    """A new session; `amr` says how the user signed in (RFC 8176), for the provider's ID tokens."""
    now = part.clock.now()
    token, csrf_token = new_token(), new_token()
    row = {
        "id": str(uuid.uuid4()),
        "token_hash": hash_token(token),
        "csrf_hash": hash_token(csrf_token),
        "user_id": str(user["id"]),
        "account_id": str(user.get("account_id") or (user.get("account") or {}).get("id") or ""),
        "created_at": now,
        "last_seen_at": now,
        "expires_at": policy.expires_at(now),
        "password_change_required": password_change_required,
        "own_password_change": False,
        "mfa_enrolment_required": mfa_enrolment_required,
        "amr": " ".join(amr),
        # "new since your last sign-in" counts from the sign-in before this one
        "previous_sign_in_at": (
            user.get("previous_sign_in_at")
            if "previous_sign_in_at" in user
            else user.get("last_sign_in_at")
        ),
        "ip": (ip or "")[:64] or None,
        "user_agent": (user_agent or "")[:300] or None,
    }
    # the sign-in changed what identity answers for the user (last_sign_in_at...): the kept
    # profiles of their other sessions are cleared with the insert
    if part.engine.dialect.name == "postgresql":
        caller_reader(part.engine).write(
            _OPENED, {f"b_{name}": value for name, value in row.items()}
        )
    else:
        with part.engine.begin() as conn:
            conn.execute(sessions.insert().values(**row))
            forget_profiles(conn, user_id=str(row["user_id"]))
    return OpenedSession(token, csrf_token, _info(row))


_OPENED_COLUMNS = (
    "id",
    "token_hash",
    "csrf_hash",
    "user_id",
    "account_id",
    "created_at",
    "last_seen_at",
    "expires_at",
    "password_change_required",
    "own_password_change",
    "mfa_enrolment_required",
    "amr",
    "previous_sign_in_at",
    "ip",
    "user_agent",
)
# PostgreSQL, built once: the new session and the other sessions' profiles forgotten, one
# statement on the request path's driver road (one round trip where a transaction took four).
# A data-modifying CTE sees the table as it was: the update never touches the new row.
_OPENED = (
    sessions.insert()
    .values(
        {name: sa.bindparam(f"b_{name}", type_=sessions.c[name].type) for name in _OPENED_COLUMNS}
        | {"profile_version": 0}  # the column's default, written out: the driver road applies none
    )
    .add_cte(
        sessions.update()
        .where(sessions.c.user_id == sa.bindparam("b_user_id", type_=sessions.c.user_id.type))
        .values(profile=None, profile_at=None, profile_version=sessions.c.profile_version + 1)
        .cte("forgotten")
    )
)


# Every request's one query (built once): the session of a token hash, with one row per
# administration or supervision the user holds effectively on :today (or one row of NULLs).
_CALLER = (
    sa.select(
        *(c for c in sessions.c if c.name not in ("token_hash", "ip", "user_agent")),
        holdings.c.administers_account_id,
        holdings.c.supervises,
        # read-your-writes: are any of the user's own events still owed to a service? Asked
        # here, a request that owes nothing (nearly all) makes no second round trip for it
        sa.exists()
        .where(
            pending_events.c.actor == sessions.c.user_id,
            pending_events.c.recorded_at >= sa.bindparam("owed_since"),
        )
        .label("owes_events"),
    )
    .select_from(
        sessions.outerjoin(
            holdings,
            sa.and_(
                holdings.c.user_id == sessions.c.user_id,
                holdings.c.administers_account_id.is_not(None),
                effective_condition(sa.bindparam("today", type_=sa.Date())),
            ),
        )
    )
    .where(sessions.c.token_hash == sa.bindparam("token_hash"))
)


def find_caller(part: Part, policy: SessionPolicy, token: str) -> tuple[SessionInfo, Access]:
    """The live session of `token` and its holder's rights, read in one query; its idle clock
    restarted (at most once a minute). SessionEnded when the token names no live session."""
    now = part.clock.now()
    rows = caller_reader(part.engine).run(
        _CALLER,
        {"token_hash": hash_token(token), "today": now.date(), "owed_since": now - OWED_FOR},
    )
    if not rows:
        raise SessionEnded(_l("Your session is not valid or has ended; sign in again."))
    row = rows[0]
    reason = policy.expiry_reason(
        created_at=as_utc(row["created_at"]), last_seen_at=as_utc(row["last_seen_at"]), now=now
    )
    if reason:
        end_session(part, row["id"])
        raise SessionEnded(reason)
    if policy.needs_touch(as_utc(row["last_seen_at"]), now):
        _update(part, row["id"], last_seen_at=now)
    held = [
        (r["administers_account_id"], r["supervises"]) for r in rows if r["administers_account_id"]
    ]
    access = Access(
        row["user_id"],
        row["account_id"],
        frozenset(a for a, supervises in held if not supervises),
        frozenset(a for a, supervises in held if supervises),
    )
    return _info(row), access


# --- the profile kept for GET /me -------------------------------------------------------------


def keep_profile(part: Part, session: SessionInfo, profile: dict[str, Any], now: datetime) -> None:
    """Keep identity's answer on the session, unless it was cleared since the session was read
    (the answer may then predate the change that cleared it)."""
    with part.engine.begin() as conn:
        conn.execute(
            sessions.update()
            .where(
                sessions.c.id == session.id, sessions.c.profile_version == session.profile_version
            )
            .values(profile=json.dumps(profile), profile_at=now)
        )


def forget_profiles(
    conn: Connection | Any, *, user_id: str | None = None, account_id: str | None = None
) -> None:
    """Clear the kept profiles of a user's (or an account's, or everyone's) sessions: the next
    GET /me asks identity.

    `conn` is a Connection or an ORM Session (a consumer's unit of work)."""
    if user_id is not None:
        where = sessions.c.user_id == user_id
    elif account_id is not None:
        where = sessions.c.account_id == account_id
    else:  # whose profile changed is not known: all of them
        where = sessions.c.profile.is_not(None)
    conn.execute(
        sessions.update()
        .where(where)
        .values(profile=None, profile_at=None, profile_version=sessions.c.profile_version + 1)
    )


def profiles_changed(
    part: Part, *, user_id: str | None = None, account_id: str | None = None
) -> None:
    """A write through the gateway changed a user (or an account): its kept profiles are cleared."""
    with part.engine.begin() as conn:
        forget_profiles(conn, user_id=user_id, account_id=account_id)


def _update(part: Part, session_id: str, **values: Any) -> None:
    with part.uow() as uow:
        uow.session.execute(sessions.update().where(sessions.c.id == session_id).values(**values))
        uow.commit()


def end_session(part: Part, session_id: str) -> None:
    with part.uow() as uow:
        uow.session.execute(sessions.delete().where(sessions.c.id == session_id))
        uow.commit()


def end_other_sessions(part: Part, user_id: str, keep_id: str) -> None:
    with part.uow() as uow:
        uow.session.execute(
            sessions.delete().where(sessions.c.user_id == user_id, sessions.c.id != keep_id)
        )
        uow.commit()


def expect_own_password_change(part: Part, session_id: str, expected: bool) -> None:
    """Flag the session whose password change is in flight, so that its event spares it."""
    _update(part, session_id, own_password_change=expected)


def password_changed(part: Part, session_id: str) -> None:
    _update(part, session_id, password_change_required=False)


def second_factor_enrolled(part: Part, session_id: str) -> None:
    """The session's user enrolled the factor the account's policy requires: it opens fully."""
    _update(part, session_id, mfa_enrolment_required=False)


def purge_expired(part: Part, policy: SessionPolicy) -> int:
    """Delete sessions past their absolute or idle limit (a periodic job)."""
    now = part.clock.now()
    with part.uow() as uow:
        result = uow.session.execute(
            sessions.delete().where(
                sa.or_(sessions.c.expires_at <= now, sessions.c.last_seen_at <= now - policy.idle)
            )
        )
        uow.commit()
    return changed_rows(result)

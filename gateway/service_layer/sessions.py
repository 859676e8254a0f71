"""Sessions in the gateway's database: open, find (with idle and absolute expiry), end."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bus.part import Part
from gateway.adapters.orm import sessions
from gateway.domain.sessions import SessionPolicy, hash_token, new_token


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


@dataclass(frozen=True)
class OpenedSession:
    token: str
    csrf_token: str
    info: SessionInfo


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _info(row: Any) -> SessionInfo:
    return SessionInfo(
        id=row["id"], user_id=row["user_id"], account_id=row["account_id"], csrf_hash=row["csrf_hash"],
        created_at=_aware(row["created_at"]), expires_at=_aware(row["expires_at"]),
        password_change_required=bool(row["password_change_required"]),
        previous_sign_in_at=row["previous_sign_in_at"],
    )


def open_session(part: Part, policy: SessionPolicy, user: dict[str, Any], *, password_change_required: bool,
                 ip: str | None, user_agent: str | None) -> OpenedSession:
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
        # "new since your last sign-in" counts from the sign-in before this one
        "previous_sign_in_at": (user.get("previous_sign_in_at") if "previous_sign_in_at" in user
                                else user.get("last_sign_in_at")),
        "ip": (ip or "")[:64] or None,
        "user_agent": (user_agent or "")[:300] or None,
    }
    with part.uow() as uow:
        uow.session.execute(sessions.insert().values(**row))
        uow.commit()
    return OpenedSession(token, csrf_token, _info(row))


def find_session(part: Part, policy: SessionPolicy, token: str) -> SessionInfo:
    """The live session of `token`, its idle clock restarted; SessionEnded otherwise."""
    now = part.clock.now()
    with part.engine.connect() as conn:
        row = conn.execute(sa.select(sessions).where(sessions.c.token_hash == hash_token(token))).mappings().first()
    if row is None:
        raise SessionEnded("Your session is not valid or has ended; sign in again.")
    reason = policy.expiry_reason(created_at=_aware(row["created_at"]), last_seen_at=_aware(row["last_seen_at"]),
                                  now=now)
    if reason:
        end_session(part, row["id"])
        raise SessionEnded(reason)
    if policy.needs_touch(_aware(row["last_seen_at"]), now):
        _update(part, row["id"], last_seen_at=now)
    return _info(row)


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
        uow.session.execute(sessions.delete().where(sessions.c.user_id == user_id, sessions.c.id != keep_id))
        uow.commit()


def expect_own_password_change(part: Part, session_id: str, expected: bool) -> None:
    """Flag the session whose password change is in flight, so that its event spares it."""
    _update(part, session_id, own_password_change=expected)


def password_changed(part: Part, session_id: str) -> None:
    _update(part, session_id, password_change_required=False)


def purge_expired(part: Part, policy: SessionPolicy) -> int:
    """Delete sessions past their absolute or idle limit (a periodic job)."""
    now = part.clock.now()
    with part.uow() as uow:
        result = uow.session.execute(sessions.delete().where(
            sa.or_(sessions.c.expires_at <= now, sessions.c.last_seen_at <= now - policy.idle)))
        uow.commit()
    return result.rowcount or 0

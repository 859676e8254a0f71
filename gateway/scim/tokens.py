"""SCIM bearer tokens: issued by an account's administrator, one per directory that provisions
the account. Only the SHA-256 of a token is kept (as for sessions); the raw token is shown once.
A revoked token stays listed (with `revoked_at`) and is refused like an unknown one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bus.clock import as_utc, iso
from bus.part import Part
from gateway.adapters.caller_reader import caller_reader
from gateway.adapters.orm import metadata
from gateway.domain.sessions import hash_token, new_token

TOKEN_PREFIX = "scim_"  # tells a SCIM token from a session token at a glance (logs, support)

scim_tokens = sa.Table(
    "scim_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("send_activation", sa.Boolean(), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class ScimToken:
    """A live token, as the SCIM routes see their caller."""

    id: str
    account_id: str
    name: str
    send_activation: bool


def issue_token(
    part: Part,
    account_id: str,
    name: str,
    *,
    send_activation: bool,
    created_by: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A new token of `account_id`: its row (hash only) and, once, the raw token."""
    raw = TOKEN_PREFIX + new_token()
    row = {
        "id": str(uuid.uuid4()),
        "account_id": account_id,
        "name": name,
        "token_hash": hash_token(raw),
        "send_activation": send_activation,
        "created_by": created_by,
        "created_at": now,
    }
    with part.uow() as uow:
        uow.session.execute(scim_tokens.insert().values(**row))
        uow.commit()
    return {**public(row), "token": raw}


def public(row: Any) -> dict[str, Any]:
    """What the administrator sees of a token: never its hash."""
    values = dict(row)
    return {
        "id": values["id"],
        "name": values["name"],
        "send_activation": values["send_activation"],
        "created_by": values.get("created_by"),
        "created_at": iso(as_utc(values["created_at"])),
        "last_used_at": iso(as_utc(values["last_used_at"])) if values.get("last_used_at") else None,
        "revoked_at": iso(as_utc(values["revoked_at"])) if values.get("revoked_at") else None,
    }


def list_tokens(part: Part, account_id: str) -> list[dict[str, Any]]:
    """The account's tokens, newest first, revoked ones included."""
    with part.engine.connect() as conn:
        rows = conn.execute(
            sa.select(scim_tokens)
            .where(scim_tokens.c.account_id == account_id)
            .order_by(scim_tokens.c.created_at.desc(), scim_tokens.c.id)
        ).mappings()
        return [public(row) for row in rows]


def withdraw_token(part: Part, token_id: str) -> None:
    """Take back a token just issued, never shown (its issue could not be audited)."""
    with part.uow() as uow:
        uow.session.execute(scim_tokens.delete().where(scim_tokens.c.id == token_id))
        uow.commit()


def revoke_token(
    part: Part, account_id: str, token_id: str, now: datetime
) -> tuple[dict[str, Any], bool] | None:
    """Revoke a token of `account_id`: the token as now listed and whether this call revoked
    it, or None when the account has none of that id (another account's token is none of its
    own). Revoking twice is harmless (the second call revokes nothing)."""
    with part.uow() as uow:
        found = uow.session.execute(
            sa.select(scim_tokens).where(
                scim_tokens.c.id == token_id, scim_tokens.c.account_id == account_id
            )
        ).first()
        if found is None:
            return None
        token = public(found._mapping)
        if found.revoked_at is None:
            uow.session.execute(
                scim_tokens.update()
                .where(scim_tokens.c.id == token_id)
                .values(revoked_at=now, token_hash=f"revoked:{token_id}")
            )
            token["revoked_at"] = iso(as_utc(now))
        uow.commit()
    return token, found.revoked_at is None


# The request path's two statements (gateway/adapters/caller_reader.py, as sessions'): built
# once, compiled once, one round trip each on PostgreSQL.
_LIVE_TOKEN = sa.select(
    scim_tokens.c.id,
    scim_tokens.c.account_id,
    scim_tokens.c.name,
    scim_tokens.c.send_activation,
    scim_tokens.c.last_used_at,
).where(scim_tokens.c.token_hash == sa.bindparam("token_hash"), scim_tokens.c.revoked_at.is_(None))
_USED = (
    scim_tokens.update()
    .where(scim_tokens.c.id == sa.bindparam("token_id"))
    .values(last_used_at=sa.bindparam("used_at"))
)


def find_token(part: Part, raw: str, now: datetime) -> ScimToken | None:
    """The live token `raw` is, or None (unknown and revoked tokens alike): one statement on
    the request path's reader. Its last use is written at most once a minute."""
    reader = caller_reader(part.engine)
    rows = reader.run(_LIVE_TOKEN, {"token_hash": hash_token(raw)})
    if not rows:
        return None
    row = rows[0]
    last = as_utc(row["last_used_at"]) if row["last_used_at"] else None
    if last is None or (now - last).total_seconds() >= 60:
        reader.write(_USED, {"token_id": row["id"], "used_at": now})
    return ScimToken(row["id"], row["account_id"], row["name"], row["send_activation"])

"""The OpenID Connect provider's handlers: clients, signing keys and their rotation, codes,
tokens (refresh rotation with reuse detection), and the claims of a user.

Each handler is one transaction on the gateway's database. Codes and tokens are looked up by
their digest; the raw values exist only in the answers that hand them out.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from bus.clock import as_utc
from bus.db import changed_rows
from bus.part import Part
from gateway.adapters import oidc_keys
from gateway.adapters.caller_reader import caller_reader, read_engine
from gateway.adapters.oidc_orm import oidc_clients, oidc_codes, oidc_tokens
from gateway.adapters.oidc_orm import oidc_keys as keys_table
from gateway.adapters.orm import accounts, holdings
from gateway.domain.oidc import (
    ProviderPolicy,
    digest,
    judge_refresh,
    new_client_id,
    new_secret,
    user_claims,
)
from gateway.service_layer.access import effective_condition

# -- records ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    secret_hash: str
    name: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    service_code: str | None
    created_at: datetime

    def shown(self) -> dict[str, Any]:
        """What the operator's API answers (never the secret, nor its digest)."""
        return {
            "client_id": self.client_id,
            "name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "service_code": self.service_code,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class CodeRecord:
    client_id: str
    user_id: str
    account_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    auth_time: datetime
    code_hash: str
    amr: tuple[str, ...] = ("pwd",)  # how the user signed in (RFC 8176), for the ID token


@dataclass(frozen=True)
class TokenRecord:
    id: str
    family_id: str
    client_id: str
    user_id: str
    account_id: str
    scope: str
    issued_at: datetime
    access_expires_at: datetime
    refresh_expires_at: datetime
    auth_time: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Subject:
    """Who a code or a token speaks for (and, for a code, how they signed in: RFC 8176 amr)."""

    user_id: str
    account_id: str
    auth_time: datetime
    amr: tuple[str, ...] = ("pwd",)


# a used code is kept a day after its expiry, so that its replay still revokes what it gave
_GRACE = timedelta(days=1)


class CodeReused(Exception):
    """A code was exchanged by another request first (what that one gave is now revoked)."""


class RefreshReused(Exception):
    """A refresh token was presented after it had been exchanged (its family is now revoked)."""


def _client(row: Mapping[str, Any] | RowMapping) -> ClientRecord:
    return ClientRecord(
        row["client_id"],
        row["secret_hash"],
        row["name"],
        tuple(json.loads(row["redirect_uris"])),
        tuple(json.loads(row["post_logout_redirect_uris"])),
        row["service_code"],
        as_utc(row["created_at"]),
    )


def _token(row: Mapping[str, Any] | RowMapping) -> TokenRecord:
    return TokenRecord(
        row["id"],
        row["family_id"],
        row["client_id"],
        row["user_id"],
        row["account_id"],
        row["scope"],
        as_utc(row["issued_at"]),
        as_utc(row["access_expires_at"]),
        as_utc(row["refresh_expires_at"]),
        as_utc(row["auth_time"]),
        as_utc(row["rotated_at"]),
        as_utc(row["revoked_at"]),
    )


# -- clients (the operator's) -----------------------------------------------------------------------


def register_client(
    part: Part,
    *,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str],
    service_code: str | None,
) -> tuple[ClientRecord, str]:
    """A new client; its secret is answered once and kept as a digest."""
    secret = new_secret()
    row = {
        "client_id": new_client_id(),
        "secret_hash": digest(secret),
        "name": name,
        "redirect_uris": json.dumps(redirect_uris),
        "post_logout_redirect_uris": json.dumps(post_logout_redirect_uris),
        "service_code": service_code,
        "created_at": part.clock.now(),
    }
    with part.uow() as uow:
        uow.session.execute(oidc_clients.insert().values(**row))
        uow.commit()
    return _client(row), secret


def list_clients(part: Part) -> list[ClientRecord]:
    with read_engine(part.engine).connect() as conn:
        rows = conn.execute(
            sa.select(oidc_clients).order_by(oidc_clients.c.created_at, oidc_clients.c.client_id)
        )
        return [_client(row) for row in rows.mappings()]


# The token endpoint's reads, built once and run on the request path's road (adapters/
# caller_reader.py: on PostgreSQL one round trip each, straight on the driver).
_CLIENT = sa.select(oidc_clients).where(oidc_clients.c.client_id == sa.bindparam("client_id"))
_CODE = sa.select(oidc_codes).where(oidc_codes.c.code_hash == sa.bindparam("code_hash"))
_TODAY = sa.bindparam("today", type_=sa.Date())
_EFFECTIVE = sa.and_(holdings.c.user_id == sa.bindparam("user_id"), effective_condition(_TODAY))
_HOLDINGS = sa.select(holdings.c.service_code, holdings.c.administers_account_id).where(_EFFECTIVE)
# the account's projection with the user's effective holdings (one row of NULL holdings if none)
_ACCOUNT_AND_HOLDINGS = (
    sa.select(
        accounts.c.id,
        accounts.c.number,
        accounts.c.name,
        holdings.c.service_code,
        holdings.c.administers_account_id,
    )
    .select_from(accounts.outerjoin(holdings, _EFFECTIVE))
    .where(accounts.c.id == sa.bindparam("account_id"))
)


def find_client(part: Part, client_id: str) -> ClientRecord | None:
    rows = caller_reader(part.engine).run(_CLIENT, {"client_id": client_id})
    return _client(rows[0]) if rows else None


def delete_client(part: Part, client_id: str) -> bool:
    """Remove a client with its codes and tokens (its applications' users are signed out of it)."""
    with part.uow() as uow:
        gone = changed_rows(
            uow.session.execute(oidc_clients.delete().where(oidc_clients.c.client_id == client_id))
        )
        uow.session.execute(oidc_codes.delete().where(oidc_codes.c.client_id == client_id))
        uow.session.execute(oidc_tokens.delete().where(oidc_tokens.c.client_id == client_id))
        uow.commit()
    return bool(gone)


# -- signing keys -----------------------------------------------------------------------------------


def rotate_signing_key(part: Part, policy: ProviderPolicy, secret: str) -> str:
    """A new signing key; the keys it replaces stay published until the ID tokens they signed
    have expired, and keys past that are deleted. Returns the new key's kid."""
    now = part.clock.now()
    new = oidc_keys.generate_key(secret)
    with part.uow() as uow:
        uow.session.execute(
            keys_table.update()
            .where(keys_table.c.retired_at.is_(None))
            .values(retired_at=now, drop_after=policy.key_published_until(now))
        )
        uow.session.execute(keys_table.delete().where(keys_table.c.drop_after <= now))
        uow.session.execute(
            keys_table.insert().values(
                kid=new.kid,
                alg=new.alg,
                public_jwk=new.public_jwk,
                private_jwk=new.private_jwk,
                created_at=now,
            )
        )
        uow.commit()
    return new.kid


def signing_key(part: Part, policy: ProviderPolicy, secret: str) -> tuple[str, Any]:
    """(kid, key) of the key that signs now; the first one is made on first use."""
    for _ in range(2):
        with read_engine(part.engine).connect() as conn:
            row = conn.execute(
                sa.select(keys_table.c.kid, keys_table.c.private_jwk)
                .where(keys_table.c.retired_at.is_(None))
                .order_by(keys_table.c.created_at.desc(), keys_table.c.kid)
                .limit(1)
            ).first()
        if row is not None:
            return row.kid, oidc_keys.private_key(row.kid, row.private_jwk, secret)
        rotate_signing_key(part, policy, secret)
    raise RuntimeError("no signing key could be made")


def published_keys(part: Part) -> list[dict[str, Any]]:
    """The public keys of JWKS: the signing one and the retired ones still in their grace period."""
    now = part.clock.now()
    with read_engine(part.engine).connect() as conn:
        rows = conn.execute(
            sa.select(keys_table.c.public_jwk)
            .where(sa.or_(keys_table.c.retired_at.is_(None), keys_table.c.drop_after > now))
            .order_by(keys_table.c.created_at.desc())
        ).all()
    return [json.loads(row.public_jwk) for row in rows]


# -- authorization codes ----------------------------------------------------------------------------


def save_code(
    part: Part,
    policy: ProviderPolicy,
    code: str,
    *,
    client_id: str,
    subject: Subject,
    redirect_uri: str,
    scope: str,
    nonce: str | None,
    code_challenge: str,
    code_challenge_method: str,
) -> None:
    now = part.clock.now()
    with part.uow() as uow:
        uow.session.execute(
            oidc_codes.insert().values(
                code_hash=digest(code),
                client_id=client_id,
                user_id=subject.user_id,
                account_id=subject.account_id,
                redirect_uri=redirect_uri,
                scope=scope,
                nonce=nonce,
                code_challenge=code_challenge,
                code_challenge_method=code_challenge_method,
                auth_time=subject.auth_time,
                amr=" ".join(subject.amr),
                created_at=now,
                expires_at=now + policy.code,
            )
        )
        uow.commit()


def find_code(part: Part, code: str, client_id: str) -> CodeRecord | None:
    """The grant of an unused, unexpired code of this client, else None. A used code that comes
    back revokes the tokens it gave (RFC 6749 section 4.1.2). The code is marked used by
    save_tokens, in the transaction that keeps its tokens (single use even when two race)."""
    now, code_hash = part.clock.now(), digest(code)
    rows = caller_reader(part.engine).run(_CODE, {"code_hash": code_hash})
    row = rows[0] if rows else None
    if row is None or row["client_id"] != client_id:
        return None
    if row["used_at"] is not None:
        if row["family_id"]:
            revoke_family(part, row["family_id"])
        return None
    if as_utc(row["expires_at"]) <= now:
        return None
    return CodeRecord(
        row["client_id"],
        row["user_id"],
        row["account_id"],
        row["redirect_uri"],
        row["scope"],
        row["nonce"],
        row["code_challenge"],
        row["code_challenge_method"],
        as_utc(row["auth_time"]),
        code_hash,
        tuple(str(row["amr"] or "pwd").split()),
    )


def nonce_used(part: Part, client_id: str, nonce: str) -> bool:
    with read_engine(part.engine).connect() as conn:
        return (
            conn.execute(
                sa.select(sa.literal(1))
                .where(oidc_codes.c.client_id == client_id, oidc_codes.c.nonce == nonce)
                .limit(1)
            ).first()
            is not None
        )


# -- tokens -----------------------------------------------------------------------------------------


def save_tokens(
    part: Part,
    policy: ProviderPolicy,
    token: Mapping[str, Any],
    *,
    client_id: str,
    subject: Subject,
    code_hash: str | None = None,
    replaces: TokenRecord | None = None,
) -> None:
    """Keep a token response: a new family for a code, the next of its family for a refresh
    (the replaced row is marked rotated in the same transaction; if another request rotated it
    first, the refresh token was used twice: RefreshReused, and the family is revoked)."""
    now = part.clock.now()
    family = replaces.family_id if replaces else str(uuid.uuid4())
    refresh_until = replaces.refresh_expires_at if replaces else now + policy.refresh_token
    with part.uow() as uow:
        if replaces is not None:
            rotated = uow.session.execute(
                oidc_tokens.update()
                .where(
                    oidc_tokens.c.id == replaces.id,
                    oidc_tokens.c.rotated_at.is_(None),
                    oidc_tokens.c.revoked_at.is_(None),
                )
                .values(rotated_at=now, access_expires_at=now)
            )  # the replaced access token ends too
            if changed_rows(rotated) != 1:
                uow.session.rollback()
                revoke_family(part, family)
                raise RefreshReused(family)
        uow.session.execute(
            oidc_tokens.insert().values(
                id=str(uuid.uuid4()),
                family_id=family,
                client_id=client_id,
                user_id=subject.user_id,
                account_id=subject.account_id,
                scope=token.get("scope") or "",
                access_hash=digest(token["access_token"]),
                refresh_hash=digest(token["refresh_token"]) if token.get("refresh_token") else None,
                issued_at=now,
                access_expires_at=now + policy.access_token,
                refresh_expires_at=refresh_until,
                auth_time=subject.auth_time,
            )
        )
        if code_hash is not None:
            claimed = uow.session.execute(
                oidc_codes.update()
                .where(oidc_codes.c.code_hash == code_hash, oidc_codes.c.used_at.is_(None))
                .values(used_at=now, family_id=family)
            )
            if changed_rows(claimed) != 1:
                uow.session.rollback()
                _revoke_code_family(part, code_hash)
                raise CodeReused(code_hash)
        uow.commit()


def _revoke_code_family(part: Part, code_hash: str) -> None:
    with part.uow() as uow:
        row = uow.session.execute(
            sa.select(oidc_codes.c.family_id).where(oidc_codes.c.code_hash == code_hash)
        ).first()
        if row is not None and row.family_id:
            _revoke_family(uow.session, row.family_id, part.clock.now())
            uow.commit()


def find_refresh(part: Part, refresh_token: str, client_id: str) -> TokenRecord | None:
    """The row of a live refresh token of this client; None otherwise. A rotated one that comes
    back revokes its whole family (the thief's copy and the owner's alike)."""
    with read_engine(part.engine).connect() as conn:
        row = (
            conn.execute(
                sa.select(oidc_tokens).where(oidc_tokens.c.refresh_hash == digest(refresh_token))
            )
            .mappings()
            .first()
        )
    if row is None or row["client_id"] != client_id:
        return None
    found = _token(row)
    verdict = judge_refresh(
        rotated_at=found.rotated_at,
        revoked_at=found.revoked_at,
        expires_at=found.refresh_expires_at,
        now=part.clock.now(),
    )
    if verdict.revoke_family:
        revoke_family(part, found.family_id)
    return found if verdict.usable else None


def find_access(part: Part, access_token: str) -> TokenRecord | None:
    """The row of a live access token (unexpired, not revoked), else None."""
    with read_engine(part.engine).connect() as conn:
        row = (
            conn.execute(
                sa.select(oidc_tokens).where(oidc_tokens.c.access_hash == digest(access_token))
            )
            .mappings()
            .first()
        )
    if row is None:
        return None
    found = _token(row)
    if found.revoked_at is not None or part.clock.now() >= found.access_expires_at:
        return None
    return found


def find_any_token(part: Part, value: str, hint: str | None) -> tuple[str, TokenRecord] | None:
    """("access_token" | "refresh_token", row) of a token string, for revocation."""
    order = (
        ["refresh_token", "access_token"]
        if hint == "refresh_token"
        else ["access_token", "refresh_token"]
    )
    with read_engine(part.engine).connect() as conn:
        for kind in order:
            column = (
                oidc_tokens.c.access_hash if kind == "access_token" else oidc_tokens.c.refresh_hash
            )
            row = (
                conn.execute(sa.select(oidc_tokens).where(column == digest(value)))
                .mappings()
                .first()
            )
            if row is not None:
                return kind, _token(row)
    return None


def revoke_token(part: Part, kind: str, token: TokenRecord) -> None:
    """RFC 7009: a refresh token ends its whole sign-in (family); an access token ends itself."""
    if kind == "refresh_token":
        revoke_family(part, token.family_id)
        return
    with part.uow() as uow:
        uow.session.execute(
            oidc_tokens.update()
            .where(oidc_tokens.c.id == token.id)
            .values(access_expires_at=part.clock.now())
        )
        uow.commit()


def revoke_family(part: Part, family_id: str) -> None:
    with part.uow() as uow:
        _revoke_family(uow.session, family_id, part.clock.now())
        uow.commit()


def _revoke_family(session: Any, family_id: str, now: datetime) -> None:
    session.execute(
        oidc_tokens.update()
        .where(oidc_tokens.c.family_id == family_id, oidc_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def end_client_sign_ins(part: Part, *, user_id: str, client_id: str) -> None:
    """RP-initiated logout: the user's tokens of that client are revoked."""
    with part.uow() as uow:
        uow.session.execute(
            oidc_tokens.update()
            .where(
                oidc_tokens.c.user_id == user_id,
                oidc_tokens.c.client_id == client_id,
                oidc_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=part.clock.now())
        )
        uow.commit()


def purge_expired(part: Part) -> int:
    """Housekeeping: codes past their life and tokens past their refresh life are deleted."""
    now = part.clock.now()
    with part.uow() as uow:
        codes = uow.session.execute(
            oidc_codes.delete().where(oidc_codes.c.expires_at <= now - _GRACE)
        )
        tokens = uow.session.execute(
            oidc_tokens.delete().where(oidc_tokens.c.refresh_expires_at <= now)
        )
        uow.commit()
    return changed_rows(codes) + changed_rows(tokens)


# -- who the user is, for the tokens ---------------------------------------------------------------


def held_services(part: Part, user_id: str, today: Any) -> list[str]:
    """Codes of the services the projection holds effective for the user."""
    rows = caller_reader(part.engine).run(_HOLDINGS, {"user_id": user_id, "today": today})
    return sorted({row["service_code"] for row in rows if row["service_code"]})


def holds_service(part: Part, user_id: str, code: str, today: Any) -> bool:
    return code in held_services(part, user_id, today)


def claims_of(part: Part, profile: Mapping[str, Any], today: Any) -> dict[str, Any]:
    """The contract's claims of a user, from identity's profile and the gateway's projections:
    one read gives the account and the user's effective holdings (the services, and the accounts
    administered or supervised); a second only when the account is not projected yet."""
    user_id, account_id = str(profile["id"]), str(profile.get("account_id") or "")
    reader = caller_reader(part.engine)
    params = {"user_id": user_id, "today": today, "account_id": account_id}
    rows = reader.run(_ACCOUNT_AND_HOLDINGS, params)
    account: Mapping[str, Any] | None = profile.get("account")
    if rows:
        account = account or {key: rows[0][key] for key in ("id", "number", "name")}
    else:
        rows = reader.run(_HOLDINGS, params)
    return user_claims(
        profile,
        account,
        [row["service_code"] for row in rows if row["service_code"]],
        [row["administers_account_id"] for row in rows if row["administers_account_id"]],
    )


def scope_claims(claims: Mapping[str, Any], scope: str) -> dict[str, Any]:
    """The claims a token's scope lets out: `sub` always; e-mail with `email`; names and locale
    with `profile`; the portal's own claims with `openid` (every token of this provider)."""
    scopes = set(scope.split())
    names = {"name", "given_name", "family_name", "locale"}
    shown: dict[str, Any] = {"sub": claims["sub"]}
    for key, value in claims.items():
        if key in ("email", "email_verified") and "email" not in scopes:
            continue
        if key in names and "profile" not in scopes:
            continue
        shown[key] = value
    return shown

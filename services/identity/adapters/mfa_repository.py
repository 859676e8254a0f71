"""Second factors' rows: TOTP, passkeys, recovery codes, one-time challenges and accounts'
policy; rows in, records of domain.mfa out (the service layer holds no SQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from bus.clock import as_utc
from services.identity.adapters.orm import (
    account_security,
    mfa_challenges,
    mfa_passkeys,
    mfa_recovery_codes,
    mfa_totp,
)
from services.identity.domain.mfa import Challenge, Factors, MfaPolicy, Passkey, TotpFactor

# --- TOTP ---------------------------------------------------------------------------------------


def get_totp(session: Session, user_id: str, *, for_update: bool = False) -> TotpFactor | None:
    query = sa.select(mfa_totp).where(mfa_totp.c.user_id == user_id)
    row = session.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        return None
    return TotpFactor(
        user_id=row.user_id,
        secret_encrypted=row.secret_encrypted,
        confirmed_at=as_utc(row.confirmed_at),
        last_used_step=row.last_used_step,
        created_at=as_utc(row.created_at),
    )


def start_totp(session: Session, user_id: str, secret_encrypted: str, now: datetime) -> None:
    """A new, unconfirmed secret (replacing an earlier unconfirmed one)."""
    session.execute(mfa_totp.delete().where(mfa_totp.c.user_id == user_id))
    session.execute(
        mfa_totp.insert().values(
            user_id=user_id,
            secret_encrypted=secret_encrypted,
            confirmed_at=None,
            last_used_step=None,
            created_at=now,
        )
    )


def use_totp_step(
    session: Session, user_id: str, step: int, *, confirm_at: datetime | None = None
) -> bool:
    """Record `step` as used, only if it is later than the last one (False: it was not; a code
    typed twice at once is accepted once)."""
    values: dict[str, Any] = {"last_used_step": step}
    if confirm_at is not None:
        values["confirmed_at"] = confirm_at
    result = session.execute(
        mfa_totp.update()
        .where(
            mfa_totp.c.user_id == user_id,
            sa.or_(mfa_totp.c.last_used_step.is_(None), mfa_totp.c.last_used_step < step),
        )
        .values(**values)
    )
    return _changed_rows(result) > 0


def delete_totp(session: Session, user_id: str) -> None:
    session.execute(mfa_totp.delete().where(mfa_totp.c.user_id == user_id))


# --- passkeys -----------------------------------------------------------------------------------


def _passkey(row: Any) -> Passkey:
    return Passkey(
        id=row.id,
        user_id=row.user_id,
        credential_id=row.credential_id,
        public_key=row.public_key,
        sign_count=row.sign_count,
        name=row.name,
        transports=row.transports,
        created_at=as_utc(row.created_at),
        last_used_at=as_utc(row.last_used_at),
    )


def passkeys_of(session: Session, user_id: str) -> list[Passkey]:
    return [
        _passkey(row)
        for row in session.execute(
            sa.select(mfa_passkeys)
            .where(mfa_passkeys.c.user_id == user_id)
            .order_by(mfa_passkeys.c.created_at, mfa_passkeys.c.id)
        )
    ]


def passkey_by_credential(session: Session, credential_id: str) -> Passkey | None:
    row = session.execute(
        sa.select(mfa_passkeys)
        .where(mfa_passkeys.c.credential_id == credential_id)
        .with_for_update()
    ).first()
    return None if row is None else _passkey(row)


def credential_taken(session: Session, credential_id: str) -> bool:
    return (
        session.execute(
            sa.select(mfa_passkeys.c.id).where(mfa_passkeys.c.credential_id == credential_id)
        ).first()
        is not None
    )


def add_passkey(session: Session, passkey: Passkey) -> None:
    session.execute(mfa_passkeys.insert().values(**passkey.__dict__))


def use_passkey(session: Session, passkey_id: str, sign_count: int, now: datetime) -> None:
    session.execute(
        mfa_passkeys.update()
        .where(mfa_passkeys.c.id == passkey_id)
        .values(sign_count=sign_count, last_used_at=now)
    )


def delete_passkey(session: Session, user_id: str, passkey_id: str) -> Passkey | None:
    row = session.execute(
        sa.select(mfa_passkeys).where(
            mfa_passkeys.c.id == passkey_id, mfa_passkeys.c.user_id == user_id
        )
    ).first()
    if row is None:
        return None
    session.execute(mfa_passkeys.delete().where(mfa_passkeys.c.id == passkey_id))
    return _passkey(row)


# --- recovery codes -----------------------------------------------------------------------------


def replace_recovery_codes(session: Session, user_id: str, code_hashes: list[str]) -> None:
    session.execute(mfa_recovery_codes.delete().where(mfa_recovery_codes.c.user_id == user_id))
    session.execute(
        mfa_recovery_codes.insert(),
        [{"code_hash": h, "user_id": user_id, "used_at": None} for h in code_hashes],
    )


def use_recovery_code(session: Session, user_id: str, code_hash: str, now: datetime) -> bool:
    """Spend one unused code of the user's (False: no such unused code)."""
    result = session.execute(
        mfa_recovery_codes.update()
        .where(
            mfa_recovery_codes.c.code_hash == code_hash,
            mfa_recovery_codes.c.user_id == user_id,
            mfa_recovery_codes.c.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return _changed_rows(result) > 0


# --- all of a user's factors --------------------------------------------------------------------


def factor_columns(user_id: Any, account_id: Any) -> list[sa.Label[Any]]:
    """The columns of a user's factors (totp, keys, codes, policy) for `user_id` and
    `account_id`: bound parameters, or the columns of a user row read by the same statement
    (the sign-in reads them with the user, sign_ins.lock_sign_in)."""
    totp = (
        sa.select(sa.func.count())
        .select_from(mfa_totp)
        .where(mfa_totp.c.user_id == user_id, mfa_totp.c.confirmed_at.is_not(None))
        .scalar_subquery()
    )
    keys = (
        sa.select(sa.func.count())
        .select_from(mfa_passkeys)
        .where(mfa_passkeys.c.user_id == user_id)
        .scalar_subquery()
    )
    codes = (
        sa.select(sa.func.count())
        .select_from(mfa_recovery_codes)
        .where(mfa_recovery_codes.c.user_id == user_id, mfa_recovery_codes.c.used_at.is_(None))
        .scalar_subquery()
    )
    policy = (
        sa.select(account_security.c.mfa_required_for)
        .where(account_security.c.account_id == account_id)
        .scalar_subquery()
    )
    return [
        totp.label("factor_totp"),
        keys.label("factor_keys"),
        codes.label("factor_codes"),
        policy.label("factor_policy"),
    ]


# Built once: every sign-in with a right password reads it (built per call, it was the largest
# share of identity's Python time in a profile of sign-ins).
_FACTORS = sa.select(*factor_columns(sa.bindparam("b_user_id"), sa.bindparam("b_account_id")))


def factors_from(row: Any) -> Factors:
    """The Factors of a row with the columns of `factor_columns`."""
    return Factors(
        totp=bool(row.factor_totp),
        passkeys=int(row.factor_keys),
        recovery_codes_left=int(row.factor_codes),
        policy=MfaPolicy(row.factor_policy) if row.factor_policy else MfaPolicy.NOBODY,
    )


def factors_of(session: Session, user_id: str, account_id: str | None = None) -> Factors:
    """Confirmed TOTP, passkey count, unused recovery codes and (given the account) the
    account's policy, in one statement."""
    row = session.execute(_FACTORS, {"b_user_id": user_id, "b_account_id": account_id}).one()
    return factors_from(row)


def _changed_rows(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount or 0


def delete_factors(session: Session, user_id: str) -> None:
    """Every factor of the user and their pending steps (an administrator's reset)."""
    for table in (mfa_totp, mfa_passkeys, mfa_recovery_codes, mfa_challenges):
        session.execute(table.delete().where(table.c.user_id == user_id))


# --- one-time steps -----------------------------------------------------------------------------


def add_challenge(
    session: Session,
    token_hash: str,
    purpose: str,
    user_id: str | None,
    now: datetime,
    expires_at: datetime,
) -> None:
    session.execute(
        mfa_challenges.insert().values(
            token_hash=token_hash,
            purpose=purpose,
            user_id=user_id,
            created_at=now,
            expires_at=expires_at,
            used_at=None,
        )
    )


def get_challenge(session: Session, token_hash: str) -> Challenge | None:
    row = session.execute(
        sa.select(mfa_challenges).where(mfa_challenges.c.token_hash == token_hash).with_for_update()
    ).first()
    if row is None:
        return None
    return Challenge(
        token_hash=row.token_hash,
        purpose=row.purpose,
        user_id=row.user_id,
        expires_at=as_utc(row.expires_at),
        used_at=as_utc(row.used_at),
    )


def spend_challenge(session: Session, token_hash: str, now: datetime) -> bool:
    """Mark a step used, once (False: it was used already)."""
    result = session.execute(
        mfa_challenges.update()
        .where(mfa_challenges.c.token_hash == token_hash, mfa_challenges.c.used_at.is_(None))
        .values(used_at=now)
    )
    return _changed_rows(result) > 0


def forget_challenges(session: Session, expired_before: datetime) -> int:
    result = session.execute(
        mfa_challenges.delete().where(mfa_challenges.c.expires_at < expired_before)
    )
    return _changed_rows(result)


# --- accounts' policy ---------------------------------------------------------------------------


def policy_of(session: Session, account_id: str) -> MfaPolicy:
    value = session.execute(
        sa.select(account_security.c.mfa_required_for).where(
            account_security.c.account_id == account_id
        )
    ).scalar()
    return MfaPolicy(value) if value else MfaPolicy.NOBODY


def set_policy(
    session: Session, account_id: str, policy: MfaPolicy, now: datetime, by: str | None
) -> None:
    session.execute(account_security.delete().where(account_security.c.account_id == account_id))
    session.execute(
        account_security.insert().values(
            account_id=account_id, mfa_required_for=policy.value, updated_at=now, updated_by=by
        )
    )

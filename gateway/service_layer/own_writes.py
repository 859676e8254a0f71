"""The actor reads their own writes: subscription answers are applied to the projection at once.

The event that follows is then a no-op: the consumer's receipt makes redeliveries harmless, and
apply_holding ignores a state that is not newer than the one kept.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bus.part import Part
from gateway.adapters.caller_reader import read_engine
from gateway.adapters.orm import holdings, sessions
from gateway.domain.holdings import is_effective, parse_day, parse_instant
from gateway.service_layer.access import applied_states
from gateway.service_layer.projections import apply_holding, holding_from_answer, upsert_account


def apply_subscriptions(part: Part, answers: list[dict[str, Any]], account_id: str | None) -> None:
    """Apply subscriptions as a service returned them (with `id`, `user_id`, `status`)."""
    now = part.clock.now()
    for attempt in range(2):
        try:
            with part.uow() as uow:
                for sub in answers:
                    if not sub.get("id") or not sub.get("user_id") or not sub.get("status"):
                        continue
                    occurred = (
                        parse_instant(sub.get("decided_at"))
                        or parse_instant(sub.get("requested_at"))
                        or now
                    )
                    apply_holding(
                        uow.session,
                        holding_from_answer(sub, account_id),
                        occurred,
                        sub.get("event_id"),
                        now,
                    )
                uow.commit()
            return
        except IntegrityError:  # the consumer inserted the same subscription meanwhile
            if attempt:
                raise


def cancel_subscription(part: Part, subscription_id: str) -> None:
    """The actor removed a subscription: stop honouring it at once."""
    now = part.clock.now()
    with part.uow() as uow:
        row = (
            uow.session.execute(
                sa.select(holdings).where(holdings.c.subscription_id == subscription_id)
            )
            .mappings()
            .first()
        )
        if row is not None:
            holding = {
                **dict(row),
                "status": "cancelled",
                "expires_on": parse_day(row["expires_on"]),
            }
            apply_holding(uow.session, holding, now, None, now)
        uow.commit()


def apply_account(part: Part, account: dict[str, Any], event_id: str | None) -> None:
    with part.uow() as uow:
        upsert_account(uow.session, account, event_id)
        uow.commit()


def forget_user(part: Part, user_id: str) -> None:
    """The actor deleted a user: their sessions and holdings end now, not when the event arrives."""
    with part.uow() as uow:
        uow.session.execute(sessions.delete().where(sessions.c.user_id == user_id))
        uow.session.execute(holdings.delete().where(holdings.c.user_id == user_id))
        uow.commit()


def with_effective(
    part: Part,
    items: list[dict[str, Any]],
    today: date,
    states: dict[str, tuple[str, date | None]] | None = None,
) -> list[dict[str, Any]]:
    """`effective` = the service says accepted and unexpired AND the portal already applies it.

    `states`: the projection's (status, expires_on) by subscription id, when the caller already
    read them (the dashboard reads the user's while the services answer); else read here."""
    ids = [str(item["id"]) for item in items if isinstance(item, dict) and item.get("id")]
    if states is None:
        states = {}
        if ids:
            with read_engine(part.engine).connect() as conn:
                states = applied_states(conn, ids)
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        by_service = item.get("effective")
        if by_service is None:
            by_service = is_effective(item.get("status"), parse_day(item.get("expires_on")), today)
        status, expires_on = states.get(str(item.get("id")), (None, None))
        out.append(
            {**item, "effective": bool(by_service) and is_effective(status, expires_on, today)}
        )
    return out

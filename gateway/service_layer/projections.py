"""Projection handlers: the gateway's read models, fed by events (and by its own writes at once).

Each handler runs in the consumer's transaction (bus.consumer.MessageProcessor), so a
redelivered event changes nothing. Subscriptions are upserted by id and ignore older states
(domain.holdings.supersedes); sessions end on password changes, deletions and locks.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bus.db import upsert
from bus.envelope import Envelope
from bus.uow import UnitOfWork
from gateway.adapters.orm import accounts, holdings, sessions
from gateway.domain.holdings import parse_day, parse_instant, supersedes
from gateway.metrics import PROPAGATION_SECONDS
from gateway.service_layer.sessions import forget_profiles

# Sessions created up to this long after an event's occurrence still end with it: covers clock
# skew between the producer and the gateway. Sessions created later were opened with the new
# credentials (or after an unlock) and survive a late event.
SKEW_MARGIN = timedelta(seconds=5)

_DESCRIPTIVE = (
    "account_id",
    "service_id",
    "service_code",
    "service_title",
    "family",
    "gates",
    "notifies",
    "administers_account_id",
)


def observe_lag(event: Envelope) -> None:
    PROPAGATION_SECONDS.observe(max(0.0, time.time() - event.occurred.timestamp()))


# --- the account tree -------------------------------------------------------------------------


def upsert_account(session: Session, account: dict[str, Any], event_id: str | None) -> None:
    values = {k: account.get(k) for k in ("number", "name", "parent_id", "relation")}
    values["applied_event_id"] = event_id
    upsert(session, accounts, {"id": account["id"], **values})


def project_account(uow: UnitOfWork, event: Envelope) -> None:
    upsert_account(uow.session, {**event.data, "id": event.data["account_id"]}, event.id)
    forget_profiles(uow.session, account_id=event.data["account_id"])
    observe_lag(event)


# --- holdings ---------------------------------------------------------------------------------


def holding_from_event(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "subscription_id": data["subscription_id"],
        "user_id": data["user_id"],
        "account_id": data.get("account_id"),
        "service_id": data.get("service_id"),
        "service_code": data.get("service_code"),
        "service_title": data.get("service_title"),
        "family": data.get("family"),
        "gates": data.get("gates"),
        "notifies": data.get("notifies"),
        "administers_account_id": data.get("administers_account_id"),
        "supervises": data.get("supervises"),
        "status": data["status"],
        "expires_on": parse_day(data.get("expires_on")),
    }


def holding_from_answer(sub: dict[str, Any], account_id: str | None) -> dict[str, Any]:
    """A subscription as a service answers it (docs/api.md's shape) turned into a holding."""
    service = sub.get("service") or {}
    return {
        "subscription_id": sub["id"],
        "user_id": sub["user_id"],
        "account_id": sub.get("account_id") or account_id,
        "service_id": service.get("id") or sub.get("service_id"),
        "service_code": service.get("code"),
        "service_title": service.get("title"),
        "family": service.get("family"),
        "gates": service.get("gates"),
        "notifies": service.get("notifies"),
        "administers_account_id": service.get("administers_account_id"),
        "supervises": service.get("supervises"),
        "status": sub["status"],
        "expires_on": parse_day(sub.get("expires_on")),
    }


def apply_holding(
    session: Session,
    holding: dict[str, Any],
    occurred_at: datetime,
    event_id: str | None,
    now: datetime,
) -> bool:
    """Upsert one subscription's state; False when the kept state is newer (nothing changed).

    Two writers of one subscription (two gateway workers, or a worker and the actor's own write
    applied at once) may meet: the new row is inserted with ON CONFLICT DO NOTHING, and a kept
    row is read FOR UPDATE, so the second writer waits for the first and compares with its state
    (no duplicate-key failure, no older state written over a newer one)."""
    state = {
        "status": holding["status"],
        "expires_on": holding["expires_on"],
        "occurred_at": occurred_at,
        "applied_at": now,
        "applied_event_id": event_id,
    }
    kept = sa.select(holdings).where(holdings.c.subscription_id == holding["subscription_id"])
    row = session.execute(kept.with_for_update()).mappings().first()
    if row is None:
        inserted = session.execute(
            _insert_new(
                session,
                {
                    **{k: holding.get(k) for k in _DESCRIPTIVE},
                    "subscription_id": holding["subscription_id"],
                    "user_id": holding["user_id"],
                    "supervises": bool(holding.get("supervises")),
                    **state,
                },
            )
        )
        if inserted.first() is not None:
            return True
        row = (
            session.execute(kept.with_for_update()).mappings().one()
        )  # the other writer's, committed
    # What a service is never changes; fill what an earlier source did not know.
    filled = {k: holding[k] for k in _DESCRIPTIVE if holding.get(k) is not None and row[k] is None}
    if holding.get("supervises") is not None and not row["supervises"] and holding["supervises"]:
        filled["supervises"] = True
    newer = supersedes(
        holding["status"], occurred_at, row["status"], parse_instant(row["occurred_at"])
    )
    changes = {**filled, **(state if newer else {})}
    if changes:
        session.execute(
            holdings.update()
            .where(holdings.c.subscription_id == holding["subscription_id"])
            .values(**changes)
        )
    return newer


def _insert_new(session: Session, values: dict[str, Any]) -> sa.Executable:
    """INSERT of a holding that does nothing when another writer inserted it first."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return (
        dialect.insert(holdings)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["subscription_id"])
        .returning(holdings.c.subscription_id)
    )


def project_subscription(uow: UnitOfWork, event: Envelope) -> None:
    apply_holding(
        uow.session, holding_from_event(event.data), event.occurred, event.id, datetime.now(UTC)
    )
    if event.data.get("administers_account_id"):  # identity's is_administrator may change with it
        forget_profiles(uow.session, user_id=event.data["user_id"])
    observe_lag(event)


def project_subscriptions(uow: UnitOfWork, event: Envelope) -> None:
    """subscriptions.subscriptions.accepted: a bulk change's subscriptions in one transaction,
    the new ones with one multi-row insert; one already known (the actor's own write applied at
    once, a redelivery) goes through apply_holding and keeps whichever state is newer."""
    entries = [holding_from_event(entry) for entry in event.data["subscriptions"]]
    known = set(
        uow.session.execute(
            sa.select(holdings.c.subscription_id).where(
                holdings.c.subscription_id.in_([h["subscription_id"] for h in entries])
            )
        ).scalars()
    )
    now = datetime.now(UTC)
    state = {"occurred_at": event.occurred, "applied_at": now, "applied_event_id": event.id}
    new = {
        h["subscription_id"]: {
            **{k: h.get(k) for k in _DESCRIPTIVE},
            "subscription_id": h["subscription_id"],
            "user_id": h["user_id"],
            "supervises": bool(h.get("supervises")),
            "status": h["status"],
            "expires_on": h["expires_on"],
            **state,
        }
        for h in entries
        if h["subscription_id"] not in known
    }
    if new:
        uow.session.execute(holdings.insert(), list(new.values()))
    for holding in entries:
        if holding["subscription_id"] in known:
            apply_holding(uow.session, holding, event.occurred, event.id, now)
    for user_id in {h["user_id"] for h in entries if h.get("administers_account_id")}:
        forget_profiles(uow.session, user_id=user_id)
    observe_lag(event)


# --- sessions ending on identity events -------------------------------------------------------


def _sessions_before(user_id: str, event: Envelope) -> Any:
    return sa.and_(
        sessions.c.user_id == user_id, sessions.c.created_at <= event.occurred + SKEW_MARGIN
    )


def end_sessions_of_deleted_user(uow: UnitOfWork, event: Envelope) -> None:
    user_id = event.data["user_id"]
    uow.session.execute(sessions.delete().where(sessions.c.user_id == user_id))
    uow.session.execute(holdings.delete().where(holdings.c.user_id == user_id))
    observe_lag(event)


def end_sessions_of_locked_user(uow: UnitOfWork, event: Envelope) -> None:
    uow.session.execute(sessions.delete().where(_sessions_before(event.data["user_id"], event)))
    forget_profiles(uow.session, user_id=event.data["user_id"])
    observe_lag(event)


def forget_profile(uow: UnitOfWork, event: Envelope) -> None:
    """The user changed at identity: the profiles kept for GET /me are dropped."""
    forget_profiles(uow.session, user_id=event.data["user_id"])
    observe_lag(event)


def end_other_sessions_on_password_change(uow: UnitOfWork, event: Envelope) -> None:
    """A password change ends every session but the one that made it; a reset ends them all."""
    user_id = event.data["user_id"]
    ending = _sessions_before(user_id, event)
    if event.data.get("via", "change") != "change":
        uow.session.execute(sessions.delete().where(ending))
    else:
        own = sessions.c.own_password_change.is_(True)
        uow.session.execute(sessions.delete().where(sa.and_(ending, sa.not_(own))))
        uow.session.execute(
            sessions.update().where(sa.and_(ending, own)).values(own_password_change=False)
        )
    observe_lag(event)


EVENT_HANDLERS = {
    "identity.account.created": project_account,
    "identity.account.linked": project_account,
    **{
        f"subscriptions.subscription.{name}": project_subscription
        for name in ("requested", "accepted", "refused", "cancelled", "expired")
    },
    "subscriptions.subscriptions.accepted": project_subscriptions,  # a bulk change's, at once
    "identity.user.deleted": end_sessions_of_deleted_user,
    "identity.user.locked": end_sessions_of_locked_user,
    "identity.password.changed": end_other_sessions_on_password_change,
    **{
        name: forget_profile
        for name in (
            "identity.user.updated",
            "identity.user.activated",
            "identity.user.unlocked",
            "identity.email.changed",
        )
    },
}

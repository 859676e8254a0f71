"""Projection handlers: the gateway's read models, fed by events (and by its own writes at once).

Each handler runs in the consumer's transaction (bus.consumer.MessageProcessor), so a
redelivered event changes nothing. Subscriptions are upserted by id and ignore older states
(domain.holdings.supersedes); sessions end on password changes, deletions and locks.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bus.consumer import Reject
from bus.db import bulk_insert, upsert
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
    """subscriptions.subscriptions.accepted: a bulk change's subscriptions in one transaction.

    A batch that describes each service once (`services`, `users` with the ids of their new
    subscriptions) is written on PostgreSQL with one INSERT … SELECT over its grants (sent as
    one JSON array), joined with the services, ON CONFLICT DO NOTHING; elsewhere, and for the
    first shape (`subscriptions`), the new rows go in with one COPY. A subscription already
    known (the actor's own write applied at once, a redelivery) goes through apply_holding and
    keeps whichever state is newer."""
    data = event.data
    now = datetime.now(UTC)
    services, grants = _grants(data)
    entries = [holding_from_event(entry) for entry in data.get("subscriptions") or ()]
    if grants and uow.session.get_bind().dialect.name == "postgresql":
        known = _insert_grants(uow.session, data, services, grants, event, now)
        grants = [grant for grant in grants if grant[0] in known]
    entries += [_holding(data, services[grant[2]], grant) for grant in grants]
    if entries:
        _project(uow.session, entries, event, now)
    administering = {sid for sid, s in services.items() if s.get("administers_account_id")}
    users = {h["user_id"] for h in entries if h.get("administers_account_id")}
    users |= {user_id for _, user_id, service_id in grants if service_id in administering}
    for user_id in users:
        forget_profiles(uow.session, user_id=user_id)
    observe_lag(event)


Grant = tuple[str, str, str]  # subscription id, user id, service id


def _grants(data: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[Grant]]:
    """The services a batch describes once, by id, and its grants. A user whose lists of ids
    differ in length, or a grant of a service the batch does not describe, breaks the batch:
    Reject, with the reason."""
    services = {service["service_id"]: service for service in data.get("services") or ()}
    grants: list[Grant] = []
    for user in data.get("users") or ():
        user_id, ids, service_ids = user["user_id"], user["subscription_ids"], user["service_ids"]
        if len(ids) != len(service_ids):
            raise Reject(
                f"user {user_id} has {len(ids)} subscription ids for {len(service_ids)} services"
            )
        for subscription_id, service_id in zip(ids, service_ids, strict=True):
            if service_id not in services:
                raise Reject(
                    f"subscription {subscription_id} is for service {service_id}, which the "
                    "batch does not describe"
                )
            grants.append((subscription_id, user_id, service_id))
    return services, grants


def _holding(data: dict[str, Any], service: dict[str, Any], grant: Grant) -> dict[str, Any]:
    """One grant of a batch as holding_from_event makes a holding."""
    subscription_id, user_id, _ = grant
    return holding_from_event(
        {
            **service,
            "account_id": data["account_id"],
            "subscription_id": subscription_id,
            "user_id": user_id,
            "status": "accepted",
            "expires_on": data.get("expires_on"),
        }
    )


def _project(
    session: Session, entries: list[dict[str, Any]], event: Envelope, now: datetime
) -> None:
    """Holdings in holding_from_event's shape: the new ones with one COPY, the known ones one
    by one through apply_holding."""
    known = set(
        session.execute(
            sa.select(holdings.c.subscription_id).where(
                holdings.c.subscription_id.in_([h["subscription_id"] for h in entries])
            )
        ).scalars()
    )
    state = {"occurred_at": event.occurred, "applied_at": now, "applied_event_id": event.id}
    new = {
        h["subscription_id"]: {**h, "supervises": bool(h.get("supervises")), **state}
        for h in entries
        if h["subscription_id"] not in known
    }
    bulk_insert(session, holdings, list(new.values()))
    for holding in entries:
        if holding["subscription_id"] in known:
            apply_holding(session, holding, event.occurred, event.id, now)


_INSERT_GRANTS = sa.text(
    """
    WITH g AS (
        SELECT item ->> 0 AS subscription_id, item ->> 1 AS user_id, item ->> 2 AS service_id
        FROM jsonb_array_elements(CAST(:grants AS jsonb)) AS item
    ), inserted AS (
        INSERT INTO holdings (subscription_id, user_id, account_id, service_id, service_code,
            service_title, family, gates, notifies, administers_account_id, supervises, status,
            expires_on, occurred_at, applied_at, applied_event_id)
        SELECT g.subscription_id, g.user_id, :account_id, s.service_id, s.service_code,
            s.service_title, s.family, s.gates, s.notifies, s.administers_account_id,
            coalesce(s.supervises, false), 'accepted', CAST(:expires_on AS date), :occurred_at,
            :applied_at, :event_id
        FROM g
        JOIN jsonb_to_recordset(CAST(:services AS jsonb)) AS s(service_id text,
            service_code text, service_title text, family text, gates text, notifies text,
            administers_account_id text, supervises boolean)
          ON s.service_id = g.service_id
        ON CONFLICT (subscription_id) DO NOTHING
        RETURNING subscription_id
    )
    SELECT g.subscription_id FROM g
    WHERE NOT EXISTS (SELECT 1 FROM inserted WHERE inserted.subscription_id = g.subscription_id)
    """
)


def _insert_grants(
    session: Session,
    data: dict[str, Any],
    services: dict[str, dict[str, Any]],
    grants: list[Grant],
    event: Envelope,
    now: datetime,
) -> set[str]:
    """The batch's grants as new holdings in one statement (PostgreSQL; the grants and the
    services travel as JSON, which the server unpacks); the ids not inserted, because already
    known (left to apply_holding): none, usually, so nothing else is read back."""
    described = [{k: s.get(k) for k in _DESCRIBED} for s in services.values()]
    return set(
        session.execute(
            _INSERT_GRANTS,
            {
                "account_id": data["account_id"],
                "expires_on": parse_day(data.get("expires_on")),
                "occurred_at": event.occurred,
                "applied_at": now,
                "event_id": event.id,
                "grants": json.dumps(grants),
                "services": json.dumps(described),
            },
        ).scalars()
    )


_DESCRIBED = (
    "service_id",
    "service_code",
    "service_title",
    "family",
    "gates",
    "notifies",
    "administers_account_id",
    "supervises",
)


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

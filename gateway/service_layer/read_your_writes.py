"""Read-your-writes across services: a caller's next call waits (bounded) for its own events.

A write through the gateway answers the id of the event it caused (`propagation.event_id`).
The gateway keeps that id for the caller, one row per service other than the producer
(`pending_events`). Before it forwards the same caller's next call to one of those services, it
asks that service whether it has applied the event (`GET /internal/processed/{id}?type=`,
answered from the service's consumer receipts; a service that does not consume the type has
nothing to apply) and polls until it has, or until the wait (PORTICO_OWN_EVENTS_WAIT_SECONDS,
2 s) is over. Either way the row goes: a lagging service delays one call, not every call.

So "create a user, then grant them a service" never meets a subscriptions service that has not
heard of the user yet, whatever the bus's delay, and no client retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bus.http import Problem
from bus.http_client import ServiceClient, ServiceUnavailable, segment
from bus.part import Part
from gateway.adapters.caller_reader import caller_reader
from gateway.adapters.orm import pending_events
from gateway.metrics import OWN_EVENTS_LATE, OWN_EVENTS_WAIT_SECONDS

log = logging.getLogger(__name__)

# An event still unapplied this long after the write is no longer waited for (the service is
# down or far behind: the wait would only delay the caller); such rows are swept.
KEEP = timedelta(minutes=5)
FIRST_PAUSE = 0.005
LONGEST_PAUSE = 0.05

# The events a caller is owed at a service (compiled once, run on the request path's reader).
OWED = sa.select(pending_events.c.event_id, pending_events.c.event_type).where(
    pending_events.c.actor == sa.bindparam("actor"),
    pending_events.c.service == sa.bindparam("service"),
    pending_events.c.recorded_at >= sa.bindparam("since"),
)

# Every event the caller is owed anywhere: one round trip serves every service of a request.
OWED_ANYWHERE = sa.select(
    pending_events.c.service, pending_events.c.event_id, pending_events.c.event_type
).where(
    pending_events.c.actor == sa.bindparam("actor"),
    pending_events.c.recorded_at >= sa.bindparam("since"),
)

Applied = Callable[[str, str], bool]  # (event id, event type) -> has the service applied it?


def producer_of(event_type: str) -> str:
    """Events are named after their producer: `identity.user.created` comes from identity."""
    return event_type.split(".", 1)[0]


def remember_events(
    part: Part,
    actor: str,
    event_ids: Iterable[str],
    event_type: str,
    now: datetime,
    services: Iterable[str],
) -> None:
    """Keep the caller's new events for every service but their producer."""
    producer = producer_of(event_type)
    rows = [
        {
            "event_id": event_id,
            "service": service,
            "actor": actor,
            "event_type": event_type,
            "recorded_at": now,
        }
        for event_id in dict.fromkeys(event_ids)
        if event_id
        for service in services
        if service != producer
    ]
    if not rows:
        return
    with part.uow() as uow:
        uow.session.execute(
            pending_events.delete().where(pending_events.c.recorded_at < now - KEEP)
        )
        uow.session.execute(
            pending_events.delete().where(  # the same event remembered twice
                pending_events.c.event_id.in_({row["event_id"] for row in rows})
            )
        )
        uow.session.execute(pending_events.insert(), rows)
        uow.commit()


def owed_events(part: Part, actor: str, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The events the caller is owed, by service (one round trip on the request path's reader).

    A request that calls two services (the dashboard) reads them once instead of once each."""
    owed: dict[str, list[dict[str, Any]]] = {}
    for row in caller_reader(part.engine).run(OWED_ANYWHERE, {"actor": actor, "since": now - KEEP}):
        owed.setdefault(row["service"], []).append(row)
    return owed


def await_events(
    part: Part,
    actor: str,
    service: str,
    applied: Applied,
    wait: float,
    now: datetime,
    *,
    owed: list[dict[str, Any]] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Wait until `service` has applied every event the caller is owed there, at most `wait`
    seconds; answers the ids it had still not applied (the call then goes ahead anyway).

    `owed` is what `owed_events` already read for this service; else one round trip reads it."""
    rows = (
        owed
        if owed is not None
        else caller_reader(part.engine).run(
            OWED, {"actor": actor, "service": service, "since": now - KEEP}
        )
    )
    if not rows:
        return []
    waiting = {row["event_id"]: row["event_type"] for row in rows}
    started = monotonic()
    deadline = started + wait
    pause = FIRST_PAUSE
    while True:
        waiting = {
            event_id: kind for event_id, kind in waiting.items() if not applied(event_id, kind)
        }
        left = deadline - monotonic()
        if not waiting or left <= 0:
            break
        sleep(min(pause, left))
        pause = min(pause * 2, LONGEST_PAUSE)
    with part.uow() as uow:
        uow.session.execute(
            pending_events.delete().where(
                pending_events.c.service == service,
                pending_events.c.event_id.in_([row["event_id"] for row in rows]),
            )
        )
        uow.commit()
    OWN_EVENTS_WAIT_SECONDS.labels(service).observe(monotonic() - started)
    if waiting:
        OWN_EVENTS_LATE.labels(service).inc()
        log.warning(
            "%s had not applied %s of %s's own events after %.1f s; forwarding anyway",
            service,
            ", ".join(sorted(waiting)),
            actor,
            wait,
        )
    return sorted(waiting)


def applied_at(client: ServiceClient, headers: dict[str, str]) -> Applied:
    """Ask one service (its `GET /internal/processed/{id}`) whether it has applied an event.

    A service without that endpoint has nothing to wait for; one that fails or does not answer
    is asked again until the bound (the forwarded call then meets what it meets)."""

    def ask(event_id: str, event_type: str) -> bool:
        try:
            answer = client.get(
                f"/internal/processed/{segment(event_id)}",
                params={"type": event_type},
                headers=headers,
            )
        except ServiceUnavailable:  # a passing failure: asked again until the bound
            return False
        except Problem as exc:
            log.info(
                "%s cannot say whether it applied %s (%s); not waiting", client.name, event_id, exc
            )
            return True
        return not isinstance(answer, dict) or bool(answer.get("processed", True))

    return ask

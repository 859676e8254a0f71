"""Projection handlers: the gateway's read models, fed by events (and by its own writes at once)."""

from __future__ import annotations

import time

from bus.envelope import Envelope
from bus.uow import UnitOfWork
from gateway.adapters.orm import accounts
from gateway.metrics import PROPAGATION_SECONDS


def observe_lag(event: Envelope) -> None:
    PROPAGATION_SECONDS.observe(max(0.0, time.time() - event.occurred.timestamp()))


def project_account(uow: UnitOfWork, event: Envelope) -> None:
    data = event.data
    values = {k: data.get(k) for k in ("number", "name", "parent_id", "relation")}
    values["applied_event_id"] = event.id
    updated = uow.session.execute(accounts.update().where(accounts.c.id == data["account_id"]).values(**values))
    if updated.rowcount == 0:
        uow.session.execute(accounts.insert().values(id=data["account_id"], **values))
    observe_lag(event)


EVENT_HANDLERS = {
    "identity.account.created": project_account,
    "identity.account.linked": project_account,
}

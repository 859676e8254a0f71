"""Many events into the outbox with one multi-row insert: the bulk twin of UnitOfWork.publish.

It keeps UnitOfWork.publish's guarantees (contract validated, same transaction, causation from
the consumed message, relay woken at commit) for the import batches, where one insert and one
NOTIFY per event would cost more than the batch itself.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bus import contracts
from bus.envelope import Envelope
from bus.uow import UnitOfWork


def _json(envelope: Envelope) -> str:
    """Envelope.to_json without its deep copy (asdict): the same JSON, a third of the time."""
    body = {field.name: getattr(envelope, field.name) for field in dataclasses.fields(envelope)}
    return json.dumps(body, separators=(",", ":"), default=str)


def publish_many(uow: UnitOfWork, messages: Iterable[tuple[str, dict[str, Any]]]) -> list[Envelope]:
    part = uow.outbox.part
    envelopes = []
    for type_, data in messages:
        envelope = uow.cause.caused(type_, data, part) if uow.cause else Envelope(type=type_, data=data, producer=part)
        contracts.validate(envelope.type, envelope.version, envelope.data, strict=True)
        envelopes.append(envelope)
    if not envelopes:
        return []
    now = datetime.now(UTC)
    uow.session.execute(uow.outbox.table.insert(), [
        {"message_id": e.id, "type": e.type, "body": _json(e), "created_at": now} for e in envelopes
    ])
    if uow.outbox.is_postgres:
        uow.session.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": uow.outbox.channel})
    uow.published.extend(envelopes)
    return envelopes

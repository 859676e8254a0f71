"""The transactional outbox: events are rows written with the state change, published later.

`Outbox.record` runs inside the caller's transaction. `OutboxRelay` publishes unsent rows in
order, marks a row sent only after the broker confirmed it, and simply catches up when the
broker comes back after an outage. A sent row keeps no secret: the fields its contract marks
secret (a link's raw token) are blanked in the transaction that marks it sent. A commit wakes
the relay (bus.commit_signal: on PostgreSQL a NOTIFY, even in another process; elsewhere an
in-process event).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bus import contracts, tracing
from bus.broker import Publisher
from bus.commit_signal import CommitSignal
from bus.db import bulk_insert
from bus.envelope import Envelope
from bus.metrics import OUTBOX_ERRORS, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)

# From this many events in one transaction, PostgreSQL takes them with COPY (cheaper per row).
COPY_FROM = 50


class Outbox:
    """Where a part's events wait for the relay."""

    def __init__(self, part: str, table: sa.Table, engine: Engine) -> None:
        self.part = part
        self.table = table
        self.engine = engine
        self.signal = CommitSignal(engine, f"portico_outbox_{part}", name=f"outbox-listen-{part}")
        self.is_postgres = self.signal.is_postgres

    def record(self, session: Session, envelope: Envelope) -> None:
        """Validate `envelope` against its contract and add it to the session's transaction."""
        self.record_many(session, [envelope])

    def record_many(self, session: Session, envelopes: list[Envelope]) -> None:
        """The same for many events: one multi-row insert and at most one NOTIFY."""
        if not envelopes:
            return
        for envelope in envelopes:
            contracts.validate(envelope.type, envelope.version, envelope.data, strict=True)
        now = datetime.now(UTC)
        # With tracing on, each row keeps the trace it was recorded in; the relay publishes it
        # as the message's traceparent header.
        with tracing.producer_span(self.part, [e.type for e in envelopes]) as traceparent:
            rows = [
                {
                    "message_id": e.id,
                    "type": e.type,
                    "body": tracing.with_trace(e.to_json(), traceparent),
                    "created_at": now,
                }
                for e in envelopes
            ]
        if self.is_postgres and len(rows) >= COPY_FROM:
            bulk_insert(session, self.table, rows)  # a bulk import's thousands of events
        else:
            session.execute(self.table.insert(), rows)
        if self.is_postgres and not session.info.get("outbox_notified"):
            # Delivered at commit, to every relay LISTENing, in any process; once per transaction.
            self.signal.notify_at_commit(session)
            session.info["outbox_notified"] = True

    def notify(self) -> None:
        """Wake the in-process relay (call after commit)."""
        self.signal.wake()

    def pending(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count())
                .select_from(self.table)
                .where(self.table.c.published_at.is_(None))
            ).scalar_one()


class OutboxRelay:
    """Publishes a part's outbox rows in order, with publisher confirms."""

    def __init__(
        self,
        outbox: Outbox,
        publisher: Publisher,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_backoff: float = 5.0,
    ) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff

    def publish_pending(self) -> int:
        """Publish up to one batch of unsent rows; return how many were confirmed.

        One statement claims the batch and marks it sent (rows locked, SKIP LOCKED so that two
        relays never take the same rows); the transaction commits only after the broker
        confirmed, and unmarks whatever it did not confirm, so a crash or an outage in between
        leaves those rows unsent. One round trip fewer than select-then-update.
        """
        table = self.outbox.table
        now = datetime.now(UTC)
        claim = (
            sa.select(table.c.seq)
            .where(table.c.published_at.is_(None))
            .order_by(table.c.seq)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        with self.outbox.engine.begin() as conn:
            rows = sorted(
                conn.execute(
                    table.update()
                    .where(table.c.seq.in_(claim))
                    .values(published_at=now)
                    .returning(table.c.seq, table.c.message_id, table.c.type, table.c.body)
                ).all(),
                key=lambda row: row.seq,
            )
            confirmed, error = self.publisher.publish_confirmed(
                [_message(row.body, row.type, row.message_id) for row in rows]
            )
            unsent = [row.seq for row in rows[confirmed:]]
            if unsent:
                conn.execute(
                    table.update().where(table.c.seq.in_(unsent)).values(published_at=None)
                )
            self._forget_secrets(conn, rows[:confirmed])
            if confirmed:
                OUTBOX_PUBLISHED.labels(self.outbox.part).inc(confirmed)
        if error is not None:
            raise error
        return confirmed

    def _forget_secrets(self, conn: sa.Connection, sent: list[sa.Row]) -> None:
        """Blank the secret fields of the rows the broker confirmed, before their mark commits:
        once published, the outbox keeps the message without what only its e-mail may hold."""
        blanked = []
        for row in sent:
            if not contracts.has_secrets(row.type):
                continue
            body = json.loads(row.body)
            data = contracts.without_secrets(row.type, int(body.get("version", 1)), body["data"])
            if data is not body["data"]:
                blanked.append({"b_seq": row.seq, "b_body": json.dumps({**body, "data": data})})
        if blanked:
            table = self.outbox.table
            conn.execute(
                table.update()
                .where(table.c.seq == sa.bindparam("b_seq"))
                .values(body=sa.bindparam("b_body")),
                blanked,
            )

    def drain(self) -> int:
        """Publish until nothing is left (tests, shutdown)."""
        total = 0
        while True:
            count = self.publish_pending()
            total += count
            if count == 0:
                return total

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set; survive broker and database outages."""
        self.outbox.signal.listen(stop)  # commits of other processes wake this relay too
        backoff = 0.05
        while not stop.is_set():
            try:
                count = self.publish_pending()
                backoff = 0.05
            except Exception as exc:  # noqa: BLE001 - any outage: wait, then catch up
                OUTBOX_ERRORS.labels(self.outbox.part).inc()
                log.warning(
                    "outbox relay of %s: %s; retrying in %.2fs", self.outbox.part, exc, backoff
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if count == self.batch_size:
                continue
            self.outbox.signal.wait(self.poll_interval)
        self.publisher.close()


def _message(body: str, type_: str, message_id: str) -> tuple[Any, ...]:
    """What the publisher sends for one row: its envelope, with the row's trace (if it kept
    one) as the `traceparent` header."""
    envelope, traceparent = tracing.split_trace(body)
    if traceparent is None:
        return (body, type_, message_id)
    return (envelope, type_, message_id, {tracing.TRACEPARENT: traceparent})

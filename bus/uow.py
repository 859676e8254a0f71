"""The unit of work: one transaction per command or message, with its events and its receipt."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bus.clock import Clock, SystemClock
from bus.envelope import Envelope
from bus.outbox import Outbox


class UnitOfWork:
    """`with uow: ...; uow.commit()` — rolls back unless committed.

    Events published through it are outbox rows in the same transaction; a consumed message's
    id is recorded in it too, so state, events and receipt commit or vanish together.
    `uow.now()` and `uow.today()` read the clock it was given (the part's; a FakeClock in tests).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        outbox: Outbox,
        processed: sa.Table,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._session_factory = session_factory
        self.outbox = outbox
        self.processed = processed
        self.clock: Clock = clock or SystemClock()
        self.session: Session
        self.published: list[Envelope] = []
        self.cause: Envelope | None = None

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.published = []
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.session.rollback()
        self.session.close()

    def now(self) -> datetime:
        """The current time, UTC-aware, from the clock this unit of work was given."""
        return self.clock.now()

    def today(self) -> date:
        return self.now().date()

    def publish(
        self, type_: str, data: dict[str, Any], *, account_id: str | None = None
    ) -> Envelope:
        """Record an event (or command) to be published once this transaction commits."""
        envelope = self._envelope(type_, data, account_id)
        self.outbox.record(self.session, envelope)
        self.published.append(envelope)
        return envelope

    def publish_many(self, messages: Iterable[tuple[str, dict[str, Any]]]) -> list[Envelope]:
        """Many events at once (bulk work): one insert, the same guarantees as publish."""
        envelopes = [self._envelope(type_, data, None) for type_, data in messages]
        self.outbox.record_many(self.session, envelopes)
        self.published.extend(envelopes)
        return envelopes

    def _envelope(self, type_: str, data: dict[str, Any], account_id: str | None) -> Envelope:
        if self.cause is not None:
            envelope = self.cause.caused(type_, data, self.outbox.part)
        else:
            envelope = Envelope(type=type_, data=data, producer=self.outbox.part)
        if account_id is not None and envelope.account_id is None:
            envelope = replace(envelope, account_id=account_id)
        return envelope

    def mark_processed(self, envelope: Envelope) -> bool:
        """Record the message as handled; False when it already was (a redelivery).

        One INSERT, no prior SELECT: the primary key decides, also between two replicas that
        receive the same message at once (the second waits for the first, then conflicts).
        """
        try:
            self.session.execute(
                self.processed.insert().values(
                    message_id=envelope.id, type=envelope.type, processed_at=datetime.now(UTC)
                )
            )
        except IntegrityError:
            self.session.rollback()
            return False
        return True

    def already_processed(self, message_ids: list[str]) -> set[str]:
        if not message_ids:
            return set()
        rows = self.session.execute(
            sa.select(self.processed.c.message_id).where(
                self.processed.c.message_id.in_(message_ids)
            )
        )
        return {row.message_id for row in rows}

    def mark_processed_many(self, envelopes: list[Envelope]) -> None:
        """Receipts for a batch, in one statement; a conflict (another replica) raises."""
        if envelopes:
            now = datetime.now(UTC)
            self.session.execute(
                self.processed.insert(),
                [{"message_id": e.id, "type": e.type, "processed_at": now} for e in envelopes],
            )

    def commit(self) -> None:
        self.session.commit()
        self.session.info.pop("outbox_notified", None)
        if self.published:
            self.outbox.notify()

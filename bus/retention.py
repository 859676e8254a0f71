"""How long the bus's own bookkeeping is kept: published outbox rows and processed message ids.

Both tables would otherwise grow with every event forever (a 50,000-user import writes 100,000
outbox rows in identity alone). A sweep, in every part's background threads, deletes in small
batches what is older than PORTICO_BUS_KEEP_DAYS (14 by default; 0 keeps everything):

- outbox rows the broker confirmed (`published_at`) that long ago; an unsent row is never
  deleted, however old;
- processed message ids recorded that long ago. They are what makes a redelivery harmless, so
  the period must exceed the longest time a message can wait in a queue before it is consumed
  (a consumer down for days). Dead letters do not count: they were never processed.

Several replicas may sweep at once; a row deleted by one is simply not found by the other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bus.metrics import RETENTION_DELETED
from bus.periodic import periodic

log = logging.getLogger(__name__)

KEEP_DAYS = 14
SWEEP_SECONDS = 3600.0
BATCH = 5000  # rows per delete: short transactions, short locks


def delete_in_batches(
    engine: Engine, table: sa.Table, key: sa.Column[Any], condition: sa.ColumnElement[bool]
) -> int:
    """Delete the rows of `table` that meet `condition`, BATCH rows (by `key`) per transaction,
    so that a large backlog never holds long locks; how many went."""
    total = 0
    while True:
        batch = sa.select(key).where(condition).limit(BATCH).scalar_subquery()
        with engine.begin() as conn:
            count = conn.execute(table.delete().where(key.in_(batch))).rowcount
        total += count
        if count < BATCH:
            return total


@dataclass
class Retention:
    part: str
    engine: Engine
    outbox: sa.Table
    processed: sa.Table
    keep: timedelta
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def sweep(self) -> dict[str, int]:
        """Delete what is past the period; how many rows of each table went."""
        cutoff = self.now() - self.keep
        deleted = {
            self.outbox.name: delete_in_batches(
                self.engine, self.outbox, self.outbox.c.seq, self.outbox.c.published_at < cutoff
            ),
            self.processed.name: delete_in_batches(
                self.engine,
                self.processed,
                self.processed.c.message_id,
                self.processed.c.processed_at < cutoff,
            ),
        }
        for table, count in deleted.items():
            if count:
                RETENTION_DELETED.labels(self.part, table).inc(count)
                log.info("%s: %d rows of %s older than %s deleted", self.part, count, table, cutoff)
        return deleted

    def run(self, stop: threading.Event) -> None:
        """The sweep as a background job: at start, then every SWEEP_SECONDS until `stop` is set."""
        periodic(f"{self.part}: retention sweep", self.sweep, SWEEP_SECONDS)(stop)

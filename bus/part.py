"""A part at run time: its database, outbox, relay and bus worker, built once from Settings."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from bus import metrics
from bus.broker import Broker, Publisher
from bus.clock import Clock, SystemClock
from bus.config import ConfigError, Settings
from bus.consumer import BusWorker, Handler, MessageProcessor
from bus.db import Pool, check_database, make_engine, migrate
from bus.outbox import Outbox, OutboxRelay
from bus.retention import KEEP_DAYS, Retention
from bus.uow import UnitOfWork

log = logging.getLogger(__name__)


# PORTICO_DB_* → (the Pool field it sets, the least value that works)
POOL_SETTINGS = {
    "PORTICO_DB_POOL_SIZE": ("size", 1),
    "PORTICO_DB_MAX_OVERFLOW": ("overflow", 0),
    "PORTICO_DB_POOL_TIMEOUT": ("timeout", 1),
    "PORTICO_DB_CONNECT_TIMEOUT": ("connect_timeout", 1),
}


def pool_of(settings: Settings) -> Pool:
    """The database pool of one process (each `serve` worker and each `worker` has its own),
    from the PORTICO_DB_* settings; deploy/README.md gives the formula for a whole cluster."""
    values: dict[str, Any] = {}
    for name, (field, least) in POOL_SETTINGS.items():
        value = settings.int_setting(name, getattr(Pool, field))
        if value < least:
            raise ConfigError(f"{name}={value} is too small; write a whole number from {least} up")
        values[field] = value
    return Pool(**values)


class Part:
    """One service (or the gateway): everything its API and worker share."""

    def __init__(
        self,
        settings: Settings,
        metadata: sa.MetaData,
        handlers: Mapping[str, Handler],
        migrations: Path,
        *,
        uow_class: type[UnitOfWork] = UnitOfWork,
    ) -> None:
        self.name = settings.part
        self.settings = settings
        self.metadata = metadata
        self.handlers = dict(handlers)
        self.migrations = migrations
        self.engine = make_engine(settings.database_url, pool=pool_of(settings))
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        self.outbox_table = metadata.tables["bus_outbox"]
        self.processed_table = metadata.tables["bus_processed"]
        self.outbox = Outbox(self.name, self.outbox_table, self.engine)
        self.broker = Broker(settings.broker_url, settings.bus_prefix)
        self._uow_class = uow_class
        self.clock: Clock = SystemClock()
        self.threads: list[threading.Thread] = []
        self.worker: BusWorker | None = None

    def uow(self) -> UnitOfWork:
        """A unit of work on this part's database, with the part's current clock (tests may
        replace `clock` after building) and whatever `uow_dependencies()` adds."""
        return self._uow_class(
            self.session_factory,
            self.outbox,
            self.processed_table,
            clock=self.clock,
            **self.uow_dependencies(),
        )

    def uow_dependencies(self) -> dict[str, Any]:
        """Keyword arguments a part's own unit-of-work class takes besides the clock."""
        return {}

    def migrate(self) -> None:
        migrate(self.engine, self.migrations)

    def relay(self, **options: Any) -> OutboxRelay:
        return OutboxRelay(self.outbox, Publisher(self.broker), **options)

    def retention(self) -> Retention | None:
        """The sweep of the bus's bookkeeping (bus/retention.py); None when it is kept forever."""
        days = self.settings.days_setting("PORTICO_BUS_KEEP_DAYS", KEEP_DAYS)
        if days == 0:
            return None
        return Retention(
            self.name,
            self.engine,
            self.outbox_table,
            self.processed_table,
            timedelta(days=days),
            now=lambda: self.clock.now(),
        )

    def processor(self, **options: Any) -> MessageProcessor:
        return MessageProcessor(
            self.name, self.uow, self.handlers, max_attempts=self.settings.max_attempts, **options
        )

    def declare(self) -> None:
        # Exchanges always (a part that only produces still publishes); its queue if it consumes.
        self.broker.declare(self.name, self.handlers)

    def readiness(self) -> dict[str, str]:
        """What /readyz reports: each dependency 'ok' or what is wrong with it."""
        report = {}
        for name, check in (
            ("database", lambda: check_database(self.engine)),
            ("broker", self.broker.check),
        ):
            try:
                check()
                report[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                report[name] = f"unavailable: {exc}"
        return report

    def gauges(self) -> list[Any]:
        """What /metrics reads from the database when scraped: the outbox rows waiting for the
        relay and the age of the oldest. A part adds its own (importer jobs, e-mails waiting)."""
        table = self.outbox_table
        with self.engine.connect() as conn:
            waiting, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(table.c.created_at)).where(
                    table.c.published_at.is_(None)
                )
            ).one()
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        labels = {"part": self.name}
        return [
            metrics.gauge(
                metrics.OUTBOX_PENDING,
                "Outbox rows the relay has not yet published",
                labels,
                waiting,
            ),
            metrics.gauge(
                metrics.OUTBOX_OLDEST_AGE,
                "Age of the oldest outbox row not yet published (0 when none waits)",
                labels,
                age,
            ),
            *self._consumer_gauges(labels),
        ]

    def _consumer_gauges(self, labels: dict[str, str]) -> list[Any]:
        """A worker process's hold: messages delivered to its consumer and not yet acked."""
        if self.worker is None:
            return []
        return [
            metrics.gauge(
                metrics.CONSUMER_HELD,
                "Messages delivered to this process's consumer and not yet acknowledged",
                labels,
                self.worker.held(),
            ),
            metrics.gauge(
                metrics.CONSUMER_OLDEST_HELD,
                "Seconds since the oldest message this process's consumer holds unacknowledged "
                "was delivered (0 when it holds none)",
                labels,
                self.worker.oldest_held_seconds(),
            ),
        ]

    def start_background(
        self, stop: threading.Event, extra: Sequence[Callable[[threading.Event], None]] = ()
    ) -> None:
        """Start the relay, the bus worker and any periodic jobs as daemon threads."""
        self.declare()
        targets: list[tuple[str, Callable[[threading.Event], None]]] = [
            (f"{self.name}-relay", self.relay().run)
        ]
        if self.handlers:
            self.worker = BusWorker(self.broker, self.processor())
            targets.append((f"{self.name}-worker", self.worker.run_until))
        retention = self.retention()
        if retention is not None:
            targets.append((f"{self.name}-retention", retention.run))
        targets += [(f"{self.name}-job-{i}", job) for i, job in enumerate(extra)]
        for name, target in targets:
            thread = threading.Thread(target=target, args=(stop,), name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def wait_ready(self, timeout: float = 10) -> bool:
        return self.worker is None or self.worker.ready.wait(timeout)

"""Builds the importer service's dependencies once and hands them to its API and worker."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from threading import Event
from typing import cast

from bus.config import Settings
from bus.consumer import Handler
from bus.http_client import ServiceClient
from bus.part import Part
from services.importer.adapters import orm
from services.importer.adapters.identity import TakenEmails
from services.importer.adapters.wakeup import JobSignal
from services.importer.config import ImporterConfig
from services.importer.service_layer.handlers import EVENT_HANDLERS
from services.importer.service_layer.runner import job_loop
from services.importer.service_layer.unit_of_work import ImporterUnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"
IDENTITY_TIMEOUT_SECONDS = 10.0


class ImporterPart(Part):
    """The bus kit's Part with the importer's settings, the runners' wake-up signal and the
    client of identity (for the dry run's portal-wide check).

    `clock` (from Part) and `identity` may be replaced after building (tests and the embedded
    mode do).
    """

    def __init__(self, settings: Settings) -> None:
        # The handlers take the importer's unit of work, which uow() below provides.
        handlers = cast(Mapping[str, Handler], EVENT_HANDLERS)
        super().__init__(settings, orm.metadata, handlers, MIGRATIONS)
        self.config = ImporterConfig.from_settings(settings)
        self.signal = JobSignal(self.engine)
        self.identity: ServiceClient | None = None

    def uow(self) -> ImporterUnitOfWork:
        return ImporterUnitOfWork(
            self.session_factory,
            self.outbox,
            self.processed_table,
            clock=self.clock,
            config=self.config,
        )

    def taken_emails(self) -> TakenEmails:
        if self.identity is None and (url := self.settings.service_urls.get("identity")):
            self.identity = ServiceClient(
                "identity",
                base_url=url,
                token=self.settings.service_token,
                timeout=IDENTITY_TIMEOUT_SECONDS,
            )
        return TakenEmails(self.identity)


def build(settings: Settings) -> ImporterPart:
    return ImporterPart(settings)


def jobs(part: ImporterPart) -> list[Callable[[Event], None]]:
    """Work the worker runs beside its consumer: PORTICO_IMPORT_RUNNERS job runners."""
    return [job_loop(part) for _ in range(part.config.runners)]

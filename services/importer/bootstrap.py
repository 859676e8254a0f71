"""Builds the importer service's dependencies once and hands them to its API and worker."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from threading import Event
from typing import Any, cast

from bus.config import ConfigError, Settings
from bus.consumer import Handler
from bus.http_client import ServiceClient
from bus.part import Part
from services.importer.adapters import gauges as scraped
from services.importer.adapters import orm
from services.importer.adapters.identity import TakenEmails
from services.importer.adapters.wakeup import JobSignal
from services.importer.config import ImporterConfig
from services.importer.service_layer.handlers import EVENT_HANDLERS
from services.importer.service_layer.runner import job_loop
from services.importer.service_layer.unit_of_work import ImporterUnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"
IDENTITY_TIMEOUT_SECONDS = 10.0
READINESS_TIMEOUT_SECONDS = 3.0


class ImporterPart(Part):
    """The bus kit's Part with the importer's settings, the runners' wake-up signal and the
    client of identity (for the dry run's portal-wide check).

    `identity` is the embedded mode's in-process client, or None: one is then made on
    PORTICO_IDENTITY_URL. `clock` (from Part) and `identity` may be replaced after building
    (tests do).
    """

    def __init__(self, settings: Settings, identity: ServiceClient | None = None) -> None:
        # The handlers take the importer's unit of work, which uow() provides (uow_class).
        handlers = cast(Mapping[str, Handler], EVENT_HANDLERS)
        super().__init__(settings, orm.metadata, handlers, MIGRATIONS, uow_class=ImporterUnitOfWork)
        self.config = ImporterConfig.from_settings(settings)
        self.signal = JobSignal(self.engine)
        self.identity = identity

    def uow_dependencies(self) -> dict[str, Any]:
        return {"config": self.config}

    def gauges(self) -> list[Any]:
        """The bus kit's figures read at scrape time, and this part's (adapters/gauges.py)."""
        return [*super().gauges(), *scraped.read(self.engine)]

    def identity_client(self) -> ServiceClient | None:
        """The client of identity: the embedded mode's, else one on PORTICO_IDENTITY_URL."""
        if self.identity is None and (url := self.settings.service_urls.get("identity")):
            self.identity = ServiceClient(
                "identity",
                base_url=url,
                token=self.settings.service_token,
                timeout=IDENTITY_TIMEOUT_SECONDS,
            )
        return self.identity

    def taken_emails(self) -> TakenEmails:
        return TakenEmails(self.identity_client())

    def readiness(self) -> dict[str, str]:
        """The database and broker, and identity (every file's addresses are checked there)."""
        report = super().readiness()
        client = self.identity_client()
        if client is None:
            report["identity"] = f"not configured: {NO_IDENTITY_URL}"
            return report
        try:
            response = client.http.get("/readyz", timeout=READINESS_TIMEOUT_SECONDS)
            status = response.status_code
            report["identity"] = "ok" if status == 200 else f"not ready ({status})"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            report["identity"] = f"unavailable: {exc}"
        return report


NO_IDENTITY_URL = (
    "PORTICO_IDENTITY_URL is unset. The importer checks every file's addresses with the identity "
    "service (a dry run too); set it to the base URL of identity's internal API, e.g. "
    "http://identity:8000"
)


def build(settings: Settings, clients: Mapping[str, ServiceClient] | None = None) -> ImporterPart:
    """The importer; `clients["identity"]` is the embedded mode's in-process client of identity,
    else identity is called on PORTICO_IDENTITY_URL."""
    return ImporterPart(settings, (clients or {}).get("identity"))


def check_standalone(settings: Settings) -> None:
    """What `portico serve importer` and `portico worker importer` need besides the common
    settings: where identity is (the embedded mode wires it in-process instead)."""
    if not settings.service_urls.get("identity"):
        raise ConfigError(NO_IDENTITY_URL)


def jobs(part: ImporterPart) -> list[Callable[[Event], None]]:
    """Work the worker runs beside its consumer: PORTICO_IMPORT_RUNNERS job runners."""
    return [job_loop(part) for _ in range(part.config.runners)]

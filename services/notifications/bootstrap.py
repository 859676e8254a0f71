"""Builds the notifications service's dependencies once and hands them to its API and worker."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from threading import Event
from typing import Any, cast

from bus.config import ConfigError, Settings
from bus.consumer import Handler
from bus.http_client import ServiceClient
from bus.part import Part
from services.notifications.adapters import gauges as scraped
from services.notifications.adapters import orm
from services.notifications.adapters.smtp import SmtpSettings
from services.notifications.config import MailConfig
from services.notifications.domain.rendering import Renderer
from services.notifications.service_layer.handlers import EVENT_HANDLERS
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork, Wakeup

MIGRATIONS = Path(__file__).parent / "migrations"


class NotificationsPart(Part):
    """The bus kit's Part with the mail settings, the renderer and the delivery loops' wake-up.

    `clock` (from Part) may be replaced after building (tests move it to test backoff).
    """

    def __init__(self, settings: Settings) -> None:
        handlers = cast(dict[str, Handler], EVENT_HANDLERS)  # they take this part's UoW
        super().__init__(
            settings, orm.metadata, handlers, MIGRATIONS, uow_class=NotificationsUnitOfWork
        )
        self.config = MailConfig.from_settings(settings)
        if self.config.smtp_url:
            try:
                SmtpSettings.from_url(self.config.smtp_url)
            except ValueError as exc:
                raise ConfigError(f"PORTICO_SMTP_URL: {exc}") from None
        try:
            self.renderer = Renderer(portal_url=self.config.public_url or None)
        except ValueError as exc:
            raise ConfigError(f"PORTICO_PUBLIC_URL: {exc}") from None
        self.wakeup = Wakeup()

    def uow_dependencies(self) -> dict[str, Any]:
        return {"config": self.config, "wakeup": self.wakeup}

    def gauges(self) -> list[Any]:
        """The bus kit's figures read at scrape time, and this part's (adapters/gauges.py)."""
        return [*super().gauges(), *scraped.read(self.engine)]


def build(
    settings: Settings, clients: Mapping[str, ServiceClient] | None = None
) -> NotificationsPart:
    """Notifications; `clients` are not used: it calls no other service."""
    return NotificationsPart(settings)


def jobs(part: NotificationsPart) -> list[Callable[[Event], None]]:
    """Work the worker runs beside its consumer: the delivery loop, the retention sweep."""
    from services.notifications.service_layer.delivery import DeliveryLoop
    from services.notifications.service_layer.retention import retention_loop

    return [DeliveryLoop(part).run, retention_loop(part)]

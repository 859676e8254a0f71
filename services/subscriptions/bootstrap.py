"""Builds the subscriptions service's dependencies once and hands them to its API and worker."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from threading import Event

from bus.config import Settings
from bus.http_client import ServiceClient
from bus.part import Part
from services.subscriptions.adapters import orm
from services.subscriptions.service_layer.expiry import expiry_loop
from services.subscriptions.service_layer.handlers import EVENT_HANDLERS
from services.subscriptions.service_layer.unit_of_work import SubscriptionsUnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"
EXPIRY_INTERVAL = "PORTICO_EXPIRY_INTERVAL"  # seconds between two runs of the expiry job


def build(settings: Settings, clients: Mapping[str, ServiceClient] | None = None) -> Part:
    """Subscriptions; `clients` are not used: it calls no other service."""
    return Part(
        settings, orm.metadata, EVENT_HANDLERS, MIGRATIONS, uow_class=SubscriptionsUnitOfWork
    )


def jobs(part: Part) -> list[Callable[[Event], None]]:
    """Periodic work the worker runs beside its consumer: the expiry job."""
    interval = part.settings.int_setting(EXPIRY_INTERVAL, 60)
    return [expiry_loop(part.uow, max(interval, 1))]  # type: ignore[arg-type]

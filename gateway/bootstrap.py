"""Builds the gateway: its own database (sessions, projections), its bus worker, its clients."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from threading import Event

from bus.config import Settings
from bus.http_client import ServiceClient
from bus.part import Part
from gateway.adapters import orm
from gateway.service_layer.projections import EVENT_HANDLERS

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICES = ("identity", "subscriptions", "notifications", "importer")


def build(settings: Settings) -> Part:
    return Part(settings, orm.metadata, EVENT_HANDLERS, MIGRATIONS)


def jobs(part: Part) -> list[Callable[[Event], None]]:
    return []


def http_clients(settings: Settings) -> dict[str, ServiceClient]:
    """Clients of the distributed mode: PORTICO_<PART>_URL for each service."""
    clients = {}
    for name in SERVICES:
        url = settings.service_urls.get(name)
        if url:
            clients[name] = ServiceClient(name, base_url=url, token=settings.service_token)
    return clients

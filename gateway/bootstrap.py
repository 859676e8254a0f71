"""Builds the gateway: its own database (sessions, projections), its bus worker, its clients."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from threading import Event

from bus.config import Settings
from bus.http_client import ServiceClient
from bus.part import Part
from bus.periodic import periodic
from gateway.adapters import orm
from gateway.adapters.services import PooledServiceClient
from gateway.config import GatewayConfig
from gateway.service_layer.projections import EVENT_HANDLERS
from gateway.service_layer.ratelimit import purge_old_counters
from gateway.service_layer.sessions import purge_expired

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICES = ("identity", "subscriptions", "notifications", "importer")


def build(settings: Settings) -> Part:
    return Part(settings, orm.metadata, EVENT_HANDLERS, MIGRATIONS)


def jobs(part: Part) -> list[Callable[[Event], None]]:
    """Housekeeping every few minutes: ended sessions and old rate-limit counters are deleted."""
    config = GatewayConfig.from_settings(part.settings)
    every = part.settings.int_setting("PORTICO_GATEWAY_PURGE_SECONDS", 300)

    def purge() -> None:
        purge_expired(part, config.sessions)
        purge_old_counters(part, part.clock.now())

    return [periodic("gateway housekeeping", purge, every, at_start=False)]


def http_clients(settings: Settings) -> dict[str, ServiceClient]:
    """Clients of the distributed mode: PORTICO_<PART>_URL for each service (GETs on pooled
    keep-alive connections, see adapters/services.py)."""
    clients = {}
    for name in SERVICES:
        url = settings.service_urls.get(name)
        if url:
            clients[name] = PooledServiceClient(name, base_url=url, token=settings.service_token)
    return clients

"""Builds the gateway: its own database (sessions, projections), its bus worker, its clients of
the services and what its request handlers share (`part.gateway`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Event

from bus.config import SERVICES, Settings
from bus.http_client import ServiceClient
from bus.part import Part
from bus.periodic import periodic
from gateway.adapters import orm
from gateway.adapters.backoffice import BackOffice, DemoBackOffice
from gateway.adapters.services import PooledServiceClient
from gateway.config import GatewayConfig
from gateway.entrypoints.context import Gateway
from gateway.scim import tokens as scim_tokens  # noqa: F401 - its table joins the metadata
from gateway.service_layer import oidc  # its tables join the gateway's metadata
from gateway.service_layer.projections import EVENT_HANDLERS
from gateway.service_layer.ratelimit import purge_old_counters
from gateway.service_layer.sessions import purge_expired

MIGRATIONS = Path(__file__).parent / "migrations"
FANOUT_THREADS = 16


class GatewayPart(Part):
    """The bus kit's Part with the gateway's settings, its clients of the services and `gateway`,
    what the request handlers share (entrypoints/context.py). `clock` may be replaced after
    building (tests do)."""

    def __init__(
        self,
        settings: Settings,
        clients: Mapping[str, ServiceClient],
        backoffice: BackOffice | None = None,
    ) -> None:
        super().__init__(settings, orm.metadata, EVENT_HANDLERS, MIGRATIONS)
        self.config = GatewayConfig.from_settings(settings)
        self.clients = dict(clients)
        self.gateway = Gateway(
            self,
            self.clients,
            self.config,
            backoffice or DemoBackOffice(),
            ThreadPoolExecutor(max_workers=FANOUT_THREADS, thread_name_prefix="gateway-fanout"),
        )


def build(
    settings: Settings,
    clients: Mapping[str, ServiceClient] | None = None,
    *,
    backoffice: BackOffice | None = None,
) -> GatewayPart:
    """The gateway; `clients` are the embedded mode's in-process ones, else each service's
    PORTICO_<SERVICE>_URL is called over HTTP."""
    return GatewayPart(settings, {**http_clients(settings), **(clients or {})}, backoffice)


def jobs(part: Part) -> list[Callable[[Event], None]]:
    """Housekeeping every few minutes: ended sessions and old rate-limit counters are deleted."""
    config = GatewayConfig.from_settings(part.settings)
    every = part.settings.int_setting("PORTICO_GATEWAY_PURGE_SECONDS", 300)

    def purge() -> None:
        purge_expired(part, config.sessions)
        purge_old_counters(part, part.clock.now())
        oidc.purge_expired(part)

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

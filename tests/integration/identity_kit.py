"""Identity as the PostgreSQL integration tests build it: a fake clock, a cheap hasher, migrated."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bus.clock import FakeClock
from bus.config import Settings
from services.identity.bootstrap import build
from services.identity.domain.hashing import Argon2Hasher
from services.identity.entrypoints.api import create_app


def identity_part(database_url: str, broker_url: str, prefix: str) -> Iterator[Any]:
    """For a fixture: yields the migrated part, disposes of its engine afterwards."""
    settings = Settings(
        part="identity", database_url=database_url, broker_url=broker_url, bus_prefix=prefix
    )
    instance = build(settings)
    instance.clock = FakeClock()
    instance.hasher = Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1)
    instance.migrate()
    yield instance
    instance.engine.dispose()


def service_client(part: Any) -> Any:
    """A test client of identity's internal API, carrying the service token."""
    client = create_app(part).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {part.settings.service_token}"
    return client

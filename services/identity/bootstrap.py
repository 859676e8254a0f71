"""Builds the identity service's dependencies once and hands them to its API and worker."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from threading import Event
from typing import Any

from bus.config import Settings
from bus.http_client import ServiceClient
from bus.part import Part
from bus.periodic import periodic
from services.identity.adapters import orm
from services.identity.config import IdentityConfig
from services.identity.domain.hashing import Argon2Hasher, default_hasher
from services.identity.service_layer.handlers import EVENT_HANDLERS
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"
JOB_INTERVAL_SECONDS = 60


class IdentityPart(Part):
    """The bus kit's Part with identity's settings and password hasher.

    `clock` (from Part) and `hasher` may be replaced after building (tests do).
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            settings, orm.metadata, EVENT_HANDLERS, MIGRATIONS, uow_class=IdentityUnitOfWork
        )
        self.config = IdentityConfig.from_settings(settings)
        self._hasher: Argon2Hasher | None = None

    @property
    def hasher(self) -> Argon2Hasher:
        if self._hasher is None:  # built on first use: it hashes a dummy password
            self._hasher = default_hasher(self.config.hash_concurrency or None)
        return self._hasher

    @hasher.setter
    def hasher(self, hasher: Argon2Hasher) -> None:
        self._hasher = hasher

    def uow_dependencies(self) -> dict[str, Any]:
        # The hasher is looked up at use: built on first use, and tests may replace it.
        return {"config": self.config, "hasher": lambda: self.hasher}


def build(settings: Settings, clients: Mapping[str, ServiceClient] | None = None) -> IdentityPart:
    """Identity; `clients` are not used: it calls no other service."""
    return IdentityPart(settings)


def jobs(part: Any) -> list[Callable[[Event], None]]:
    """Periodic work the worker runs beside its consumer: expired locks released, old throttle
    rows, long-expired link tokens and second-factor steps forgotten."""
    from services.identity.service_layer.links import forget_old_links
    from services.identity.service_layer.mfa import forget_old_challenges
    from services.identity.service_layer.sign_in import release_expired_locks

    def release_locks() -> None:
        with part.uow() as uow:
            release_expired_locks(uow)
            forget_old_links(uow)
            forget_old_challenges(uow)
            uow.commit()

    return [
        periodic(
            "identity: releasing expired locks", release_locks, JOB_INTERVAL_SECONDS, at_start=False
        )
    ]

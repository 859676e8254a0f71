"""The identity unit of work: the bus kit's, plus what identity's handlers need from the part."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bus.uow import UnitOfWork

if TYPE_CHECKING:
    from services.identity.bootstrap import IdentityPart
    from services.identity.config import IdentityConfig
    from services.identity.domain.hashing import Argon2Hasher


class IdentityUnitOfWork(UnitOfWork):
    """`uow.now()`, `uow.config` and `uow.hasher` read the part at call time, so a test may swap
    the part's clock or hasher after building it."""

    part: IdentityPart

    def __init__(self, *args: Any, part: IdentityPart, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.part = part

    def now(self) -> datetime:
        return self.part.clock.now()

    @property
    def config(self) -> IdentityConfig:
        return self.part.config

    @property
    def hasher(self) -> Argon2Hasher:
        return self.part.hasher

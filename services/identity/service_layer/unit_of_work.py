"""The identity unit of work: the bus kit's, plus identity's settings and password hasher."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bus.uow import UnitOfWork
from services.identity.config import IdentityConfig
from services.identity.domain.hashing import Argon2Hasher


class IdentityUnitOfWork(UnitOfWork):
    """`uow.now()` (the bus kit's), `uow.config` and `uow.hasher`.

    `hasher` is given as a function returning the hasher, called at use: the production hasher
    is built on first use (it hashes a dummy password), and a test may swap the part's hasher.
    """

    def __init__(
        self, *args: Any, config: IdentityConfig, hasher: Callable[[], Argon2Hasher], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.config = config
        self._hasher = hasher

    @property
    def hasher(self) -> Argon2Hasher:
        return self._hasher()

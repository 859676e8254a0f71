"""The importer's unit of work: the bus kit's, plus the part's clock and settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bus.clock import Clock, SystemClock
from bus.uow import UnitOfWork
from services.importer.config import ImporterConfig


class ImporterUnitOfWork(UnitOfWork):
    """`with uow: ...; uow.commit()`; `uow.clock` is the part's (a FakeClock in tests)."""

    def __init__(
        self,
        *args: Any,
        clock: Clock | None = None,
        config: ImporterConfig | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.clock: Clock = clock or SystemClock()
        self.config = config or ImporterConfig()

    def now(self) -> datetime:
        return self.clock.now()

"""The subscriptions service's unit of work: the bus kit's, plus the part's clock."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bus.clock import Clock, SystemClock
from bus.uow import UnitOfWork


class SubscriptionsUnitOfWork(UnitOfWork):
    """`with uow: ...; uow.commit()`; `uow.clock` is the part's clock (a FakeClock in tests)."""

    def __init__(self, *args: Any, clock: Clock | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock: Clock = clock or SystemClock()

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.clock.now().date()

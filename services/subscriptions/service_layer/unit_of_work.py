"""The subscriptions service's unit of work: the bus kit's, with the part's clock."""

from __future__ import annotations

from bus.uow import UnitOfWork


class SubscriptionsUnitOfWork(UnitOfWork):
    """`with uow: ...; uow.commit()`; `uow.now()` and `uow.today()` read the part's clock (a
    FakeClock in tests)."""

"""The notifications unit of work: the bus kit's, plus the mail settings, and a wake-up of the
delivery loops once a transaction that queued mail has committed; and what the delivery loop and
the retention sweep need from the part (MailPart)."""

from __future__ import annotations

import threading
from typing import Any, Protocol

import sqlalchemy as sa

from bus.clock import Clock
from bus.uow import UnitOfWork
from services.notifications.config import MailConfig
from services.notifications.domain.rendering import Renderer


class Wakeup:
    """Wakes every delivery loop of this process at once (each waits on its own Event)."""

    def __init__(self) -> None:
        self._events: list[threading.Event] = []
        self._lock = threading.Lock()

    def subscribe(self) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._events.append(event)
        return event

    def set(self) -> None:
        with self._lock:
            for event in self._events:
                event.set()


class NotificationsUnitOfWork(UnitOfWork):
    """`uow.now()` (the bus kit's), `uow.config`; a handler that queued mail adds to `queued`,
    and the commit then wakes the delivery loops."""

    def __init__(self, *args: Any, config: MailConfig, wakeup: Wakeup, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = config
        self.wakeup = wakeup
        self.queued = 0

    def __enter__(self) -> NotificationsUnitOfWork:
        super().__enter__()
        self.queued = 0
        return self

    def commit(self) -> None:
        super().commit()
        if self.queued:
            self.queued = 0
            self.wakeup.set()


class MailPart(Protocol):
    """What the delivery loop and the retention sweep need from the notifications part
    (bootstrap.NotificationsPart provides it)."""

    config: MailConfig
    clock: Clock
    engine: sa.Engine
    renderer: Renderer
    wakeup: Wakeup

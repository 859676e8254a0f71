"""The notifications unit of work: the bus kit's, plus the part's clock and settings, and a
wake-up of the delivery loops once a transaction that queued mail has committed."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bus.uow import UnitOfWork

if TYPE_CHECKING:
    from services.notifications.bootstrap import NotificationsPart
    from services.notifications.config import MailConfig


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
    def __init__(self, *args: Any, part: NotificationsPart) -> None:
        super().__init__(*args)
        self.part = part
        self.queued = 0

    def __enter__(self) -> NotificationsUnitOfWork:
        super().__enter__()
        self.queued = 0
        return self

    @property
    def config(self) -> MailConfig:
        return self.part.config

    def now(self) -> datetime:
        return self.part.clock.now()

    def commit(self) -> None:
        super().commit()
        if self.queued:
            self.queued = 0
            self.part.wakeup.set()

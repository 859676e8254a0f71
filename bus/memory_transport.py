"""kombu's in-memory transport, woken by a condition when a message arrives instead of polling.

kombu's `memory://` consumer looks at its queues every `polling_interval` (so an idle embedded
portal woke hundreds of times a second, a few percent of a core for nothing). Here every put
bumps a counter under one condition shared by the process, and a consumer with nothing to read
sleeps on that condition until a put or its timeout: idle costs nothing, a message is handled
as soon as it is published.
"""

from __future__ import annotations

import threading
from queue import Empty
from time import monotonic
from typing import Any

from kombu.transport import memory

_arrived = threading.Condition()
_puts = 0  # every put in the process, under _arrived


def _announce() -> None:
    global _puts
    with _arrived:
        _puts += 1
        _arrived.notify_all()


def _seen() -> int:
    with _arrived:
        return _puts


class Channel(memory.Channel):
    """The in-memory channel; each message put wakes the consumers waiting for one."""

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        super()._put(queue, message, **kwargs)
        _announce()

    def _put_fanout(
        self, exchange: str, message: Any, routing_key: str | None = None, **kwargs: Any
    ) -> None:
        super()._put_fanout(exchange, message, routing_key, **kwargs)
        _announce()


class Transport(memory.Transport):
    """The in-memory transport; `drain_events` sleeps until a put or its timeout."""

    Channel = Channel

    def drain_events(self, connection: Any, timeout: Any = None, **kwargs: Any) -> Any:
        cycle: Any = self.cycle
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            seen = _seen()  # before looking: a put after the look ends the wait at once
            try:
                cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                pass
            remaining = None if deadline is None else deadline - monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError()
            with _arrived:
                if _puts == seen:
                    _arrived.wait(remaining)

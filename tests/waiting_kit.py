"""Waiting for an eventual result in tests: poll with a generous deadline, never assert after a sleep.

The deadline is a ceiling for a loaded machine, not a figure being measured: a check that passes
returns at once. Performance claims belong to `make bench`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE = 60.0  # seconds; a shared CI machine can be many times slower than a workstation


def eventually(
    check: Callable[[], T],
    *,
    timeout: float = DEADLINE,
    interval: float = 0.02,
    what: str = "the condition",
) -> T:
    """Call `check` until it returns something truthy (returned) or stops failing an assertion;
    raise AssertionError with the last reason once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
            last = f"still {result!r}"
        except AssertionError as exc:
            last = str(exc) or repr(exc)
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout:g} s ({last})")
        time.sleep(interval)


class WatchedEvent:
    """Wraps a threading.Event and says when a thread starts waiting on it (`waiting` is set then):
    a test can act once a loop has nothing left to do, instead of sleeping and hoping."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return self.event.wait(timeout)

    def set(self) -> None:
        self.event.set()

    def clear(self) -> None:
        self.event.clear()

    def is_set(self) -> bool:
        return self.event.is_set()

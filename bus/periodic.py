"""Periodic jobs: work a part's worker runs beside its consumer on a schedule, until it stops.

A job is a thread's target taking the part's stop event (`Part.start_background` starts them).
It sleeps on that event, so it wakes on its schedule or at once when the part stops, never
polling in between; a failed run (a database outage) is logged and the next one catches up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[threading.Event], None]


def periodic(name: str, work: Callable[[], object], every: float, *, at_start: bool = True) -> Job:
    """A job that calls `work` every `every` seconds until its stop event is set: first at
    start, or, with `at_start=False`, first after one interval. `name` says in the log what failed."""

    def run(stop: threading.Event) -> None:
        if not at_start and stop.wait(every):
            return
        while not stop.is_set():
            try:
                work()
            except Exception:  # noqa: BLE001 - an outage must not end the job: the next run catches up
                log.warning("%s failed; retrying in %s s", name, every, exc_info=True)
            stop.wait(every)

    return run

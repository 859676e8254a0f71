"""A periodic job runs on its schedule, sleeping on the stop event in between, and outlives a failure."""

from __future__ import annotations

import logging
import threading

from bus.periodic import periodic


class StopAfter:
    """A stop event set by its `waits`-th wait; it records how long each wait was asked to be."""

    def __init__(self, waits: int) -> None:
        self.left = waits
        self.asked: list[float | None] = []

    def is_set(self) -> bool:
        return self.left <= 0

    def wait(self, timeout: float | None = None) -> bool:
        self.asked.append(timeout)
        self.left -= 1
        return self.is_set()


def test_it_runs_at_start_then_once_per_interval_sleeping_on_the_stop_event() -> None:
    runs: list[int] = []
    stop = StopAfter(waits=3)
    periodic("probe", lambda: runs.append(len(runs)), 60)(stop)  # type: ignore[arg-type]
    assert runs == [0, 1, 2]
    assert stop.asked == [60, 60, 60]


def test_a_job_not_at_start_waits_one_interval_first() -> None:
    runs: list[int] = []
    stop = StopAfter(waits=3)
    periodic("probe", lambda: runs.append(len(runs)), 300, at_start=False)(stop)  # type: ignore[arg-type]
    assert runs == [0, 1]
    assert stop.asked == [300, 300, 300]


def test_a_failed_run_is_logged_and_the_next_one_still_comes(caplog) -> None:
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("the database is away")

    stop = StopAfter(waits=2)
    with caplog.at_level(logging.WARNING, logger="bus.periodic"):
        periodic("probe sweep", flaky, 5)(stop)  # type: ignore[arg-type]
    assert len(calls) == 2
    assert "probe sweep failed; retrying in 5 s" in caplog.text
    assert "the database is away" in caplog.text


def test_a_job_whose_part_already_stopped_does_nothing() -> None:
    stopped = threading.Event()
    stopped.set()
    runs: list[int] = []
    periodic("probe", lambda: runs.append(1), 60)(stopped)
    periodic("probe", lambda: runs.append(1), 60, at_start=False)(stopped)
    assert runs == []


def test_setting_the_stop_event_ends_a_long_interval_at_once() -> None:
    stop = threading.Event()
    ran = threading.Event()
    thread = threading.Thread(target=periodic("probe", ran.set, 3600), args=(stop,), daemon=True)
    thread.start()
    assert ran.wait(30)
    stop.set()
    thread.join(30)
    assert not thread.is_alive(), "the job kept sleeping through its interval after the stop"

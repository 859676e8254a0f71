"""An import job's state machine, and how a file's rows are cut into batches for identity.

    queued ──claim──► running ──every batch answered──► done
       │                 │
       └──── failed ◄────┘  (the file cannot be processed, or attempts ran out)

A running job whose runner died keeps `running`: another runner claims it once its lease has
expired and goes on from the first batch not yet recorded. Batches are cut the same way on
every pass over the same file, so a resumed job sends exactly the batches that are missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .model import COLUMNS, LINE, Anomaly, RowResult


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


FINISHED = frozenset({JobStatus.DONE, JobStatus.FAILED})
# Jobs a runner may claim (a running one only once its lease has expired).
CLAIMABLE = (JobStatus.QUEUED, JobStatus.RUNNING)

_TRANSITIONS = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset({JobStatus.RUNNING, JobStatus.DONE, JobStatus.FAILED}),
    JobStatus.DONE: frozenset(),
    JobStatus.FAILED: frozenset(),
}


class InvalidTransition(ValueError):
    """A status change the state machine does not allow (a finished job never changes)."""


def check_transition(current: str, new: str) -> JobStatus:
    """The new status, if `current` may become it; raise InvalidTransition otherwise."""
    before, after = JobStatus(current), JobStatus(new)
    if after not in _TRANSITIONS[before]:
        raise InvalidTransition(f"an import job cannot go from {before} to {after}")
    return after


def is_complete(dispatched: bool, batches: int, answered: int) -> bool:
    """Every batch of the file is recorded, and identity answered each one."""
    return dispatched and answered >= batches


def anomaly_rank(field_name: str) -> int:
    """Orders the anomalies of one line like the file's columns, the whole line last."""
    if field_name in COLUMNS:
        return COLUMNS.index(field_name)
    return len(COLUMNS) + (0 if field_name == LINE else 1)


@dataclass
class Chunk:
    """A run of consecutive data lines holding up to `size` valid rows: one batch.

    `rows` are the valid rows as identity.create_users carries them (with their line);
    `anomalies` those of the invalid lines among them; `lines` how many data lines it spans.
    """

    batch: int
    first_line: int
    last_line: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    lines: int = 0
    invalid: int = 0


def chunks(results: Iterable[RowResult], size: int) -> Iterator[Chunk]:
    """Cut row results into chunks of `size` valid rows; the last one holds what is left.

    A chunk ends right after its `size`-th valid row, so the cut depends only on the file.
    Batches are numbered from 1.
    """
    if size < 1:
        raise ValueError("a batch holds at least one row")
    current: Chunk | None = None
    number = 0
    for result in results:
        if current is None:
            number += 1
            current = Chunk(batch=number, first_line=result.line)
        current.last_line = result.line
        current.lines += 1
        if result.values is not None:
            current.rows.append({"line": result.line, **result.values})
        else:
            current.invalid += 1
            current.anomalies.extend(result.anomalies)
        if len(current.rows) >= size:
            yield current
            current = None
    if current is not None:
        yield current

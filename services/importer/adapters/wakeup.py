"""Waking the job runners as soon as an upload commits, in this process or in any other
(bus.commit_signal: an Event here, a NOTIFY at commit on PostgreSQL). Runners poll anyway, so a
lost signal only delays a job by one poll interval.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bus.commit_signal import CommitSignal

CHANNEL = "portico_importer_jobs"


class JobSignal(CommitSignal):
    """The importer's channel: an upload's commit wakes the runners of every worker."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, CHANNEL, name="importer-listen")

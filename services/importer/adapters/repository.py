"""SQL of the importer: jobs, their files, batches and anomalies (SQLAlchemy Core, one session)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from services.importer.domain import Anomaly
from services.importer.domain.jobs import CLAIMABLE, JobStatus, anomaly_rank

from .orm import import_anomalies, import_batches, import_files, import_jobs


def _rowcount(result: Any) -> int:
    """Rows an UPDATE matched (a CursorResult's rowcount)."""
    return int(result.rowcount)


# -- jobs and files -----------------------------------------------------------------------


def add_job(session: Session, job: dict[str, Any], content: bytes) -> None:
    session.execute(import_jobs.insert().values(**job))
    session.execute(import_files.insert().values(job_id=job["id"], content=content))


def get_job(session: Session, job_id: str, *, lock: bool = False) -> Row[Any] | None:
    query = sa.select(import_jobs).where(import_jobs.c.id == job_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).first()


def read_file(session: Session, job_id: str) -> bytes:
    return session.execute(
        sa.select(import_files.c.content).where(import_files.c.job_id == job_id)
    ).scalar_one()


def forget_file(session: Session, job_id: str) -> None:
    """Delete the uploaded bytes (the people it lists) once the job no longer needs them."""
    session.execute(import_files.delete().where(import_files.c.job_id == job_id))


def _unheld(now: datetime) -> list[Any]:
    """Conditions of a job that needs a runner and that no live runner holds."""
    return [
        import_jobs.c.status.in_([status.value for status in CLAIMABLE]),
        import_jobs.c.dispatched.is_(False),
        sa.or_(import_jobs.c.lease_expires_at.is_(None), import_jobs.c.lease_expires_at < now),
    ]


def next_claimable(session: Session, now: datetime, max_attempts: int) -> Row[Any] | None:
    """The oldest job that needs a runner, that no live runner holds and that has attempts
    left, locked for this runner.

    SKIP LOCKED lets runners of several replicas claim different jobs at once (on PostgreSQL;
    SQLite serialises writers anyway).
    """
    return session.execute(
        sa.select(import_jobs)
        .where(*_unheld(now), import_jobs.c.attempts < max_attempts)
        .order_by(import_jobs.c.created_at, import_jobs.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def update_job(session: Session, job_id: str, *conditions: Any, **values: Any) -> bool:
    """Update the job (when `conditions` hold); False when no row matched."""
    result = session.execute(
        import_jobs.update().where(import_jobs.c.id == job_id, *conditions).values(**values)
    )
    return _rowcount(result) == 1


def held_by(owner: str) -> Any:
    """The condition that `owner` still holds the job's lease."""
    return import_jobs.c.lease_owner == owner


def add_to_job(
    session: Session,
    job_id: str,
    *conditions: Any,
    add: dict[str, int],
    **values: Any,
) -> bool:
    """Add to the job's counters (and set `values`) in one UPDATE, never read then written."""
    values.update({name: getattr(import_jobs.c, name) + amount for name, amount in add.items()})
    return update_job(session, job_id, *conditions, **values)


def jobs_out_of_attempts(session: Session, now: datetime, max_attempts: int) -> list[str]:
    """Jobs that no runner holds and that were interrupted too often to be tried again."""
    return list(
        session.execute(
            sa.select(import_jobs.c.id).where(*_unheld(now), import_jobs.c.attempts >= max_attempts)
        ).scalars()
    )


def jobs_silent_since(session: Session, before: datetime) -> list[str]:
    """Running jobs whose every batch is sent but that heard nothing since `before`."""
    return list(
        session.execute(
            sa.select(import_jobs.c.id).where(
                import_jobs.c.status == JobStatus.RUNNING.value,
                import_jobs.c.dispatched.is_(True),
                import_jobs.c.touched_at < before,
            )
        ).scalars()
    )


# -- batches ------------------------------------------------------------------------------


def recorded_batches(session: Session, job_id: str) -> int:
    """How many batches of the job are recorded (always batches 1..n: they are written in order)."""
    return session.execute(
        sa.select(sa.func.count())
        .select_from(import_batches)
        .where(import_batches.c.job_id == job_id)
    ).scalar_one()


def add_batch(session: Session, batch: dict[str, Any]) -> None:
    session.execute(import_batches.insert().values(**batch))


def get_batch(session: Session, job_id: str, number: int) -> Row[Any] | None:
    return session.execute(
        sa.select(import_batches).where(
            import_batches.c.job_id == job_id, import_batches.c.batch == number
        )
    ).first()


def answer_batch(session: Session, job_id: str, number: int, **values: Any) -> bool:
    """Mark the batch answered, unless it already was; False for a repeated answer."""
    result = session.execute(
        import_batches.update()
        .where(
            import_batches.c.job_id == job_id,
            import_batches.c.batch == number,
            import_batches.c.answered_at.is_(None),
        )
        .values(**values)
    )
    return _rowcount(result) == 1


def unanswered_batches(session: Session, job_id: str) -> list[int]:
    return list(
        session.execute(
            sa.select(import_batches.c.batch)
            .where(import_batches.c.job_id == job_id, import_batches.c.answered_at.is_(None))
            .order_by(import_batches.c.batch)
        ).scalars()
    )


# -- anomalies ----------------------------------------------------------------------------


def add_anomalies(session: Session, job_id: str, anomalies: Iterable[Anomaly]) -> None:
    rows = [
        {
            "job_id": job_id,
            "line": anomaly.line,
            "rank": anomaly_rank(anomaly.field),
            "field": anomaly.field[:32],
            "message": str(anomaly.message),
            "code": anomaly.code,
            "params": anomaly.params,
            "messages": anomaly.messages,
        }
        for anomaly in anomalies
    ]
    if rows:
        session.execute(import_anomalies.insert(), rows)


def anomalies(session: Session, job_id: str, limit: int | None = None) -> list[Anomaly]:
    """The job's anomalies by line, then in the order of the file's columns."""
    c = import_anomalies.c
    query = (
        sa.select(c.line, c.field, c.message, c.code, c.params, c.messages)
        .where(import_anomalies.c.job_id == job_id)
        .order_by(import_anomalies.c.line, import_anomalies.c.rank, import_anomalies.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [Anomaly(*row) for row in session.execute(query)]


def count_anomalies(session: Session, job_id: str) -> int:
    return session.execute(
        sa.select(sa.func.count())
        .select_from(import_anomalies)
        .where(import_anomalies.c.job_id == job_id)
    ).scalar_one()

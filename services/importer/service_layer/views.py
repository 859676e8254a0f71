"""What the API shows of a job: its progress, counts and anomalies, and the anomaly report."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from bus.clock import iso
from bus.i18n import _l
from services.importer.adapters import repository as repo
from services.importer.domain import Anomaly
from services.importer.domain.model import reason_view

from .unit_of_work import ImporterUnitOfWork


class JobNotFound(Exception):
    """No such job in this account (the answer is the same whether it exists elsewhere or not)."""

    message = _l("There is no import with this id in this account.")


def read_import_job(
    uow: ImporterUnitOfWork,
    account_id: str,
    job_id: str,
    anomalies_limit: int | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """The job as docs/api.md shows it, with its anomalies so far (the first `anomalies_limit`
    of them when given: a progress bar need not read them all every second), their messages
    in `language` (the caller's)."""
    with uow:
        job = _job_of(uow, account_id, job_id)
        anomalies = repo.anomalies(uow.session, job_id, limit=anomalies_limit)
        total = len(anomalies)
        if anomalies_limit is not None and total >= anomalies_limit:
            total = repo.count_anomalies(uow.session, job_id)
    return {**job_view(uow, job, anomalies, language), "anomalies_total": total}


def read_import_report(uow: ImporterUnitOfWork, account_id: str, job_id: str) -> list[Anomaly]:
    with uow:
        _job_of(uow, account_id, job_id)
        return repo.anomalies(uow.session, job_id)


def _job_of(uow: ImporterUnitOfWork, account_id: str, job_id: str) -> Row[Any]:
    job = repo.get_job(uow.session, job_id)
    if job is None or job.account_id != account_id:
        raise JobNotFound
    return job


def job_view(
    uow: ImporterUnitOfWork,
    job: Row[Any],
    anomalies: list[Anomaly],
    language: str | None = None,
) -> dict[str, Any]:
    return {
        "id": job.id,
        "account_id": job.account_id,
        "status": job.status,
        "dry_run": job.dry_run,
        "filename": job.filename,
        "size": job.size,
        "rows": job.rows,
        "processed": job.processed,
        "created": job.created,
        "rejected": job.rejected,
        "would_create": job.would_create if job.dry_run else None,
        "anomalies": [anomaly.view(language) for anomaly in anomalies],
        "requested_by": job.requested_by,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        **reason_view(job, language),
        "report_url": uow.config.report_url(job.account_id, job.id),
    }

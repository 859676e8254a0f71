"""How a job ends: done once every batch is answered, or failed with a reason; announced once.

Both end a job only from `running` (or `queued`) under a row lock, so that the runner and the
consumer of identity's answers, whichever comes last, end it exactly once. An ended job's
uploaded file is deleted in the same transaction: its people are in identity (or were refused,
and the anomalies say why), and nothing reads the file again.
"""

from __future__ import annotations

from services.importer.adapters import repository as repo
from services.importer.domain.jobs import FINISHED, JobStatus, check_transition, is_complete
from services.importer.domain.model import UNCODED_REASON

from .anomalies import reason_in_every_language
from .unit_of_work import ImporterUnitOfWork

FINISHED_EVENT = "importer.import.finished"
# X-Portico-Actor of the vendor's operators: not a user, so nobody to e-mail the report to.
OPERATOR = "operator"


def finish_if_complete(uow: ImporterUnitOfWork, job_id: str) -> bool:
    """End the job as done when every batch is recorded and answered; True when it ended now."""
    job = repo.get_job(uow.session, job_id, lock=True)
    if job is None or job.status != JobStatus.RUNNING:
        return False
    if not is_complete(job.dispatched, job.batches, job.batches_answered):
        return False
    check_transition(job.status, JobStatus.DONE)
    now = uow.now()
    repo.update_job(
        uow.session,
        job_id,
        status=JobStatus.DONE.value,
        finished_at=now,
        touched_at=now,
        lease_owner=None,
        lease_expires_at=None,
    )
    repo.forget_file(uow.session, job_id)
    announce(uow, job_id)
    return True


def fail_job(uow: ImporterUnitOfWork, job_id: str, reason: str) -> bool:
    """End the job as failed with `reason` (for a person: a bus.i18n.Message with its code,
    kept in every language), unless it already ended."""
    job = repo.get_job(uow.session, job_id, lock=True)
    if job is None or job.status in FINISHED:
        return False
    check_transition(job.status, JobStatus.FAILED)
    now = uow.now()
    repo.update_job(
        uow.session,
        job_id,
        status=JobStatus.FAILED.value,
        **reason_in_every_language(reason),
        finished_at=now,
        touched_at=now,
        lease_owner=None,
        lease_expires_at=None,
    )
    repo.forget_file(uow.session, job_id)
    announce(uow, job_id)
    return True


def announce(uow: ImporterUnitOfWork, job_id: str) -> None:
    """Publish importer.import.finished (notifications e-mails the report to the requester).

    The event lists the first `event_anomalies` anomalies; `anomalies_total` says how many
    there are, and the full list is at `report_url`. An operator's import names no requester.
    """
    job = repo.get_job(uow.session, job_id)
    assert job is not None
    config = uow.config
    listed = repo.anomalies(uow.session, job_id, limit=config.event_anomalies)
    total = len(listed)
    if total >= config.event_anomalies:
        total = repo.count_anomalies(uow.session, job_id)
    uow.publish(
        FINISHED_EVENT,
        {
            "import_job_id": job.id,
            "account_id": job.account_id,
            "requested_by": None if job.requested_by == OPERATOR else job.requested_by,
            "filename": job.filename,
            "status": job.status,
            "dry_run": job.dry_run,
            "rows": job.rows,
            "processed": job.processed,
            "created": job.created,
            "rejected": job.rejected,
            "would_create": job.would_create if job.dry_run else None,
            "anomalies": [anomaly.event() for anomaly in listed],
            "anomalies_total": total,
            "report_url": config.report_url(job.account_id, job.id),
            # the English reason, and in every language for the recipient's (none of the
            # three on a job that failed before reasons had languages: `reason` is shown)
            "reason": job.reason,
            "reason_code": (job.reason_code or UNCODED_REASON) if job.reason else None,
            "reason_params": job.reason_params,
            "reason_messages": job.reason_messages,
        },
        account_id=job.account_id,
    )

"""The job runner: claims a queued (or abandoned) job, reads its file, sends its rows in batches.

Each batch of valid rows is one identity.create_users command, written to the outbox in the
same transaction as the batch's record, the anomalies of the invalid lines among its rows and
the job's progress — and only while this runner still holds the job's lease (renewed at every
batch). A runner that dies leaves a lease that expires; the next runner to claim the job reads
the file again and sends only the batches that are not recorded. A dry run asks identity which
addresses are taken instead of sending anything, and records the same way.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import DBAPIError, OperationalError

from bus.contracts.batches import BATCH_LIMIT
from bus.i18n import _l, joined
from services.importer.adapters import repository as repo
from services.importer.adapters.identity import IdentityUnavailable, TakenEmails
from services.importer.adapters.wakeup import JobSignal
from services.importer.config import ImporterConfig
from services.importer.domain import Anomaly, FileRejected, parse_upload
from services.importer.domain.jobs import Chunk, JobStatus, anomaly_rank, check_transition, chunks

from .anomalies import in_every_language_of_the_portal
from .outcomes import fail_job, finish_if_complete
from .unit_of_work import ImporterUnitOfWork

log = logging.getLogger(__name__)

CREATE_USERS = "identity.create_users"
ADDRESS_USED = _l("This address is already used in the portal.", code="import.address_used")
# How long a job whose identity check failed waits before a runner tries it again.
RETRY_SECONDS = 10


class RunnerDeps(Protocol):
    """What a runner needs from the importer part (bootstrap.ImporterPart provides it)."""

    config: ImporterConfig
    signal: JobSignal

    def uow(self) -> ImporterUnitOfWork: ...

    def taken_emails(self) -> TakenEmails: ...


class LeaseLost(Exception):
    """Another runner took the job over (this one was too slow to renew its lease)."""


class Stopped(Exception):
    """The worker is shutting down; the job is handed back for another runner."""


@dataclass(frozen=True)
class Claim:
    """A job this runner holds the lease of."""

    job_id: str
    owner: str
    account_id: str
    requested_by: str | None
    filename: str
    dry_run: bool
    batch_size: int
    attempt: int


def new_owner() -> str:
    """A name for one runner, unique across hosts and processes, readable in the jobs table."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# -- claiming -----------------------------------------------------------------------------


def claim_next_job(uow: ImporterUnitOfWork, owner: str) -> Claim | None:
    """Take the oldest job that needs a runner, under a lease; None when there is none."""
    with uow:
        now = uow.now()
        job = repo.next_claimable(uow.session, now, uow.config.max_attempts)
        if job is None:
            return None
        check_transition(job.status, JobStatus.RUNNING)
        repo.update_job(
            uow.session,
            job.id,
            status=JobStatus.RUNNING.value,
            lease_owner=owner,
            lease_expires_at=_lease_end(uow, now),
            attempts=job.attempts + 1,
            started_at=job.started_at or now,
            touched_at=now,
        )
        uow.commit()
    if job.status == JobStatus.RUNNING:
        log.info("import %s: resumed by %s (attempt %d)", job.id, owner, job.attempts + 1)
    return Claim(
        job.id,
        owner,
        job.account_id,
        job.requested_by,
        job.filename,
        job.dry_run,
        job.batch_size,
        job.attempts + 1,
    )


def _lease_end(uow: ImporterUnitOfWork, now: datetime) -> datetime:
    return now + timedelta(seconds=uow.config.lease_seconds)


# -- processing ---------------------------------------------------------------------------


def process_job(deps: RunnerDeps, claim: Claim, stop: threading.Event | None = None) -> None:
    """Read the job's file and record (and send) every batch not yet recorded.

    Raises LeaseLost, Stopped, IdentityUnavailable or FileRejected; anything else is a bug
    that the caller turns into a failed job.
    """
    with deps.uow() as uow:
        content = repo.read_file(uow.session, claim.job_id)
        recorded = repo.recorded_batches(uow.session, claim.job_id)
    parsed = parse_upload(io.BytesIO(content), claim.filename, max_bytes=max(len(content), 1))
    total = 0
    # A command's rows fit one batch event (bus.contracts.batches); a dry run sends none.
    size = claim.batch_size if claim.dry_run else min(claim.batch_size, BATCH_LIMIT)
    for chunk in chunks(parsed.rows(), size):
        total = chunk.batch
        if chunk.batch <= recorded:
            continue  # sent by an earlier runner of this job
        if stop is not None and stop.is_set():
            raise Stopped
        taken: set[str] = set()
        if claim.dry_run and chunk.rows:  # asked before the transaction: no lock held meanwhile
            taken = deps.taken_emails().taken([row["email"] for row in chunk.rows])
        record_batch(deps.uow(), claim, chunk, taken)
    del content, parsed
    dispatch_job(deps.uow(), claim, total)


def record_batch(uow: ImporterUnitOfWork, claim: Claim, chunk: Chunk, taken: set[str]) -> None:
    """One transaction: the batch's record, its anomalies, the job's progress, its command."""
    with uow:
        now = uow.now()
        anomalies = list(chunk.anomalies)
        sent = [] if claim.dry_run else chunk.rows
        if claim.dry_run:
            used = [row for row in chunk.rows if row["email"] in taken]
            anomalies += [Anomaly(row["line"], "email", ADDRESS_USED) for row in used]
            add = {
                "processed": chunk.lines,
                "rejected": chunk.invalid + len(used),
                "would_create": len(chunk.rows) - len(used),
                "batches_answered": 1,
            }
        else:
            add = {
                "processed": chunk.invalid,
                "rejected": chunk.invalid,
                "batches_answered": 0 if sent else 1,
            }
        if not repo.add_to_job(
            uow.session,
            claim.job_id,
            repo.held_by(claim.owner),
            add=add,
            lease_expires_at=_lease_end(uow, now),
            touched_at=now,
        ):
            raise LeaseLost(claim.job_id)
        message_id = None
        if sent:
            message_id = uow.publish(
                CREATE_USERS,
                {
                    "account_id": claim.account_id,
                    "import_job_id": claim.job_id,
                    "batch": chunk.batch,
                    "requested_by": claim.requested_by,
                    "rows": sent,
                },
                account_id=claim.account_id,
            ).id
        repo.add_batch(
            uow.session,
            {
                "job_id": claim.job_id,
                "batch": chunk.batch,
                "first_line": chunk.first_line,
                "last_line": chunk.last_line,
                "sent_rows": len(sent),
                "message_id": message_id,
                "recorded_at": now,
                "answered_at": None if sent else now,
                "created": 0,
                "rejected": add["rejected"] if not sent else 0,
            },
        )
        anomalies.sort(key=lambda anomaly: (anomaly.line, anomaly_rank(anomaly.field)))
        repo.add_anomalies(
            uow.session, claim.job_id, [in_every_language_of_the_portal(a) for a in anomalies]
        )
        uow.commit()


def dispatch_job(uow: ImporterUnitOfWork, claim: Claim, batches: int) -> None:
    """Every batch is recorded: hand the lease back, and end the job if all are answered."""
    with uow:
        now = uow.now()
        if not repo.update_job(
            uow.session,
            claim.job_id,
            repo.held_by(claim.owner),
            dispatched=True,
            batches=batches,
            lease_owner=None,
            lease_expires_at=None,
            touched_at=now,
        ):
            raise LeaseLost(claim.job_id)
        finish_if_complete(uow, claim.job_id)
        uow.commit()


def release_job(uow: ImporterUnitOfWork, claim: Claim, *, retry_in: float = 0) -> None:
    """Hand the job back (shutdown, or identity unreachable): another runner goes on later."""
    with uow:
        until = uow.now() + timedelta(seconds=retry_in) if retry_in else None
        # A clean shutdown is not a failed attempt; an unreachable identity is.
        repo.add_to_job(
            uow.session,
            claim.job_id,
            repo.held_by(claim.owner),
            add={"attempts": 0 if retry_in else -1},
            lease_owner=None,
            lease_expires_at=until,
        )
        uow.commit()


# -- the loop -----------------------------------------------------------------------------


def run_next_job(deps: RunnerDeps, owner: str, stop: threading.Event | None = None) -> bool:
    """Claim one job and work on it until it is dispatched; False when there was none.

    Whatever goes wrong stays with this job: the runner goes on with the next one.
    """
    claim = claim_next_job(deps.uow(), owner)
    if claim is None:
        return False
    started = time.perf_counter()
    try:
        process_job(deps, claim, stop)
    except Stopped:
        release_job(deps.uow(), claim)
        log.info("import %s: handed back at shutdown", claim.job_id)
    except LeaseLost:
        log.warning("import %s: lease lost to another runner; leaving the job to it", claim.job_id)
    except IdentityUnavailable as exc:
        log.warning("import %s: portal-wide check unavailable (%s); retrying", claim.job_id, exc)
        release_job(deps.uow(), claim, retry_in=RETRY_SECONDS)
    except FileRejected as exc:
        _fail(deps, claim, _file_unreadable(exc))
    except (OperationalError, DBAPIError) as exc:
        # The database went away: the lease expires and a runner resumes the job later.
        log.warning("import %s: database error (%s); the job will be resumed", claim.job_id, exc)
    except Exception as exc:  # noqa: BLE001 - a bug or bad data must not stop the runner
        log.exception("import %s: processing failed", claim.job_id)
        _fail(
            deps,
            claim,
            _l(
                "The import stopped on an unexpected error. Users created before it stay;"
                " check the report, then import the missing rows again or contact support.",
                code="import.unexpected_error",
                error=(type(exc).__name__ + ": " + str(exc))[:1000],  # in params only
            ),
        )
    else:
        log.info(
            "import %s: file read and dispatched in %.2f s",
            claim.job_id,
            time.perf_counter() - started,
        )
    return True


def _fail(deps: RunnerDeps, claim: Claim, reason: str) -> None:
    try:
        uow = deps.uow()
        with uow:
            fail_job(uow, claim.job_id, reason)
            uow.commit()
    except Exception:  # noqa: BLE001 - the lease expires; the job is tried again
        log.exception("import %s: could not record its failure", claim.job_id)


def fail_abandoned_jobs(uow: ImporterUnitOfWork) -> list[str]:
    """Fail jobs interrupted too often, and jobs whose answers stopped coming; their ids."""
    failed = []
    with uow:
        now = uow.now()
        config = uow.config
        for job_id in repo.jobs_out_of_attempts(uow.session, now, config.max_attempts):
            reason = _l(
                "Reading the file was interrupted {attempts} times, so the import was stopped."
                " Users created before stay; check the report, then import the missing rows"
                " again or contact support.",
                code="import.interrupted",
                attempts=config.max_attempts,
            )
            if fail_job(uow, job_id, reason):
                failed.append(job_id)
        silent_since = now - timedelta(seconds=config.answer_timeout_seconds)
        for job_id in repo.jobs_silent_since(uow.session, silent_since):
            missing = repo.unanswered_batches(uow.session, job_id)
            reason = _l(
                "The identity service did not answer batch(es) {batches} of this import within"
                " {seconds} seconds. Users created before stay; check the report, then import"
                " the missing rows again.",
                code="import.identity_silent",
                batches=_numbers(missing),
                seconds=config.answer_timeout_seconds,
            )
            if fail_job(uow, job_id, reason):
                failed.append(job_id)
        uow.commit()
    for job_id in failed:
        log.warning("import %s: failed (abandoned)", job_id)
    return failed


def _numbers(batches: list[int]) -> str:
    """The first 20 numbers, then how many more (in no language: it goes in any)."""
    shown = ", ".join(map(str, batches[:20]))
    return shown + (f", … (+{len(batches) - 20})" if len(batches) > 20 else "")


def _file_unreadable(exc: FileRejected) -> str:
    """A failed job's reason for a file that no longer reads: the upload's own messages (code
    import.file_<their code>, e.g. import.file_too_large)."""
    return joined(
        [_l("The file can no longer be read:"), *exc.messages],
        code=f"import.file_{exc.code}",
    )


def job_loop(deps: RunnerDeps) -> Callable[[threading.Event], None]:
    """A job for the worker: run jobs as they come (woken by uploads, polling otherwise)."""

    def run(stop: threading.Event) -> None:
        owner = new_owner()
        deps.signal.listen(stop)
        poll = deps.config.poll_seconds
        swept = float("-inf")
        while not stop.is_set():
            worked = False
            try:
                if time.monotonic() - swept >= poll:
                    swept = time.monotonic()
                    fail_abandoned_jobs(deps.uow())
                worked = run_next_job(deps, owner, stop)
            except Exception:  # noqa: BLE001 - a database outage: try again after a pause
                log.exception("importer: job runner error; retrying in %s s", poll)
            if not worked:
                deps.signal.wait(poll)

    return run

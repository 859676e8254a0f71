"""Identity's answers: each identity.users.created of an import batch adds its rows' fates to
the job (its users are the created lines, its `rejected` the refused ones, kept with the code,
params and text in every language identity gives them). The older answer,
identity.users.batch_processed, is read the same way while one may still be in a queue.

Idempotent twice over: the bus kit records the message id, and a batch is marked answered
only once (a second answer to the same batch, under another id, changes nothing).
"""

from __future__ import annotations

from typing import Any

from bus.consumer import Reject
from bus.envelope import Envelope
from bus.i18n import _l
from services.importer.adapters import repository as repo
from services.importer.domain import LINE, Anomaly

from .anomalies import in_every_language_of_the_portal
from .outcomes import finish_if_complete
from .unit_of_work import ImporterUnitOfWork

_NO_MESSAGE = _l(
    "The identity service refused this line without saying why.", code="import.refused"
)


def record_batch_result(uow: ImporterUnitOfWork, event: Envelope) -> None:
    """Count the batch's created and rejected rows, keep its anomalies, end the job if last."""
    data = event.data
    job_id, number = data.get("import_job_id"), data.get("batch")
    if job_id is None or number is None:
        return  # users created by another bulk path than an import

    batch = repo.get_batch(uow.session, job_id, number)
    if batch is None:
        raise Reject(f"import job {job_id} has no batch {number}")
    anomalies = [_anomaly(entry) for entry in data["rejected"]]
    rejected_lines = len({anomaly.line for anomaly in anomalies})
    created = len(data["users"] if "users" in data else data["created"])
    now = uow.now()
    if not repo.answer_batch(
        uow.session, job_id, number, answered_at=now, created=created, rejected=rejected_lines
    ):
        return  # answered before
    repo.add_anomalies(uow.session, job_id, anomalies)
    repo.add_to_job(
        uow.session,
        job_id,
        add={
            "processed": batch.sent_rows,
            "created": created,
            "rejected": rejected_lines,
            "batches_answered": 1,
        },
        touched_at=now,
    )
    finish_if_complete(uow, job_id)


def _anomaly(entry: dict[str, Any]) -> Anomaly:
    try:
        line = int(entry.get("line") or 0)
    except (TypeError, ValueError):
        line = 0
    field = str(entry.get("field") or LINE)
    message = entry.get("message")
    if not message:
        return in_every_language_of_the_portal(Anomaly(line, field, _NO_MESSAGE))
    messages = entry.get("messages")
    params = entry.get("params")
    return Anomaly(
        line,
        field,
        str(message),
        code=str(entry["code"]) if entry.get("code") else None,
        params=params if isinstance(params, dict) else None,
        # identity's text in every language (identity.users.created's Rejection); an answer
        # published before it has the English message only
        messages={str(k): str(v) for k, v in messages.items() if v}
        if isinstance(messages, dict)
        else None,
    )

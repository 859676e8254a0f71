"""/internal/accounts/{account_id}/imports: upload a file, follow its job, read its report."""

from __future__ import annotations

import io
import re

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from bus.http import Problem, current_part
from bus.i18n import _l, language
from services.importer.domain import write_report
from services.importer.service_layer.uploads import Upload, create_import_job
from services.importer.service_layer.views import (
    JobNotFound,
    read_import_job,
    read_import_report,
)

bp = Blueprint("imports", __name__, url_prefix="/internal/accounts/<account_id>/imports")

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")
_MAX_ID = 64
_WHOLE = re.compile(r"[0-9]{1,9}")
MAX_ANOMALIES_LIMIT = 100_000  # as the gateway documents it


@bp.url_value_preprocessor
def _check_ids(_endpoint: str | None, values: dict | None) -> None:
    if any(len(str(value)) > _MAX_ID for value in (values or {}).values()):
        raise JobNotFound


@bp.post("")
def upload(account_id: str) -> ResponseReturnValue:
    file = request.files.get("file")
    if file is None:
        raise Problem(
            422,
            "Unprocessable Content",
            _l(
                "Attach the CSV file in a multipart field named `file`.", code="import.file_missing"
            ),
            errors={"file": [_l("Missing file.")]},
        )
    part = current_part()
    job = create_import_job(
        part.uow(),
        part.signal,
        Upload(
            account_id=account_id,
            requested_by=request.headers.get("X-Portico-Actor") or None,
            filename=file.filename or "",
            stream=file.stream,
            dry_run=_dry_run(),
        ),
    )
    return jsonify(job), 202


@bp.get("/<job_id>")
def job(account_id: str, job_id: str) -> ResponseReturnValue:
    limit = _anomalies_limit()
    return jsonify(read_import_job(current_part().uow(), account_id, job_id, limit, language()))


@bp.get("/<job_id>/report.csv")
def report(account_id: str, job_id: str) -> ResponseReturnValue:
    anomalies = read_import_report(current_part().uow(), account_id, job_id)
    out = io.StringIO()
    write_report(anomalies, out, language())
    return Response(
        out.getvalue().encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="import-{job_id}-report.csv"',
            "Vary": "Accept-Language",  # the messages are in the caller's language
        },
    )


def _anomalies_limit() -> int | None:
    given = request.args.get("anomalies_limit")
    if given is None or given == "":
        return None
    if not _WHOLE.fullmatch(given) or int(given) > MAX_ANOMALIES_LIMIT:
        raise Problem(
            422,
            "Unprocessable Content",
            _l(
                "anomalies_limit must be a whole number from 0 to {most}.",
                code="validation.not_a_number",
                most=MAX_ANOMALIES_LIMIT,
            ),
            errors={
                "anomalies_limit": [
                    _l("Write a whole number from 0 to {most}.", most=MAX_ANOMALIES_LIMIT)
                ]
            },
        )
    return int(given)


def _dry_run() -> bool:
    given = request.args.get("dry_run", "").strip().lower()
    if given in _TRUE:
        return True
    if given in _FALSE:
        return False
    raise Problem(
        422,
        "Unprocessable Content",
        _l("dry_run must be true or false.", code="validation.not_a_boolean"),
        errors={"dry_run": [_l("Write true or false.")]},
    )

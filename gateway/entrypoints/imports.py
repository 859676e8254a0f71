"""Administration: bulk import of users from a CSV file (checked at once, imported asynchronously)."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from bus.http import Problem
from bus.i18n import _l
from gateway.entrypoints.accounts import q
from gateway.entrypoints.forward import service
from gateway.entrypoints.guards import require_reach
from gateway.entrypoints.schemas import ImportArgs, ImportJob, ImportJobArgs

blp = Blueprint(
    "imports",
    __name__,
    url_prefix="/api/v1/accounts/<account_id>/imports",
    description="Administration: bulk import of users",
)
blp.before_request(require_reach)


class ImportFile(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


def upload_file(account_id: str, dry_run: bool, files) -> dict:
    upload = files.get("file") or request.files.get("file")
    if upload is None:
        raise Problem(
            422,
            "Unprocessable Content",
            _l(
                "Attach the CSV file in a multipart field named `file`.",
                code="import.file_missing",
            ),
            errors={"file": [_l("Missing file.")]},
        )
    response = service("importer").raw(
        "POST",
        f"/internal/accounts/{q(account_id)}/imports",
        params={"dry_run": "true" if dry_run else "false"},
        files={
            "file": (upload.filename or "import.csv", upload.stream, upload.mimetype or "text/csv")
        },
    )
    return response.json()


def read_job(account_id: str, import_id: str, anomalies_limit: int | None = None) -> dict:
    params = {} if anomalies_limit is None else {"anomalies_limit": anomalies_limit}
    return service("importer").get(
        f"/internal/accounts/{q(account_id)}/imports/{q(import_id)}", params=params
    )


def report_csv(account_id: str, import_id: str) -> Response:
    answer = service("importer").raw(
        "GET", f"/internal/accounts/{q(account_id)}/imports/{q(import_id)}/report.csv"
    )
    return Response(
        answer.content,
        mimetype="text/csv",
        headers={
            "Content-Disposition": answer.headers.get(
                "Content-Disposition", f'attachment; filename="import-{import_id}-report.csv"'
            ),
            "Vary": "Accept-Language",  # the messages are in the caller's language
        },
    )


@blp.route("")
class Imports(MethodView):
    @blp.arguments(ImportArgs, location="query", unknown="raise")
    @blp.arguments(ImportFile, location="files", required=True)
    @blp.response(202, ImportJob)
    def post(self, args, files, account_id):
        """Upload a CSV file (multipart field `file`): file-level errors answer 422 at once."""
        return upload_file(account_id, args["dry_run"], files)


@blp.route("/<import_id>")
class Import(MethodView):
    @blp.arguments(ImportJobArgs, location="query")
    @blp.response(200, ImportJob)
    def get(self, args, account_id, import_id):
        """The job's progress and its anomalies by line."""
        return read_job(account_id, import_id, args["anomalies_limit"])


@blp.route("/<import_id>/report.csv")
class Report(MethodView):
    @blp.response(
        200, content_type="text/csv", description="the anomalies, safe against formula injection"
    )
    def get(self, account_id, import_id):
        """The anomalies as a CSV file."""
        return report_csv(account_id, import_id)

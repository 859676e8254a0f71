"""Import users from a CSV file (manual 5.3): the upload with its documentation, progress, anomalies."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from bus.http_client import segment as q
from gateway.web import i18n
from gateway.web.apicall import ApiError, api
from gateway.web.core import (
    administered_accounts,
    chosen_account,
    form_csrf,
    notify,
    once,
    render,
    signed_in,
    to,
    web,
)

TEMPLATE_CSV = (
    "Civility;Last name;First name;Email address;Phone;Mobile;Language code;Security level\r\n"
    "M;TEST;Brian;btest@example.com;;;en-US;2\r\n"
    "MME;TEST1;Wendy;wtest1@example.com;;;en-US;3\r\n"
    "MLE;TEST2;Julia;jtest2@example.com;+33 1 23 45 67 89;+33 6 12 34 56 78;fr-FR;2\r\n"
)
RUNNING = ("queued", "running")


def imports_path(account_id: str, import_id: str | None = None) -> str:
    path = f"/api/v1/accounts/{q(account_id)}/imports"
    return f"{path}/{q(import_id)}" if import_id else path


@web.route("/users/import", methods=["GET", "POST"])
@signed_in
@once
def import_users() -> Any:
    account = chosen_account()
    form = {"accounts": administered_accounts(), "account": account}
    if request.method == "GET":
        return render("import.html", errors=[], **form)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render(
            "import.html", status=422, errors=[i18n.translate("import.choose_file")], **form
        )
    dry_run = bool(request.form.get("dry_run"))
    try:
        job = (
            api()
            .post(
                imports_path(account["id"]),
                csrf=form_csrf(),
                params={"dry_run": dry_run},
                files={"file": (upload.stream, upload.filename, upload.mimetype or "text/csv")},
            )
            .data
        )
    except ApiError as exc:
        if exc.status not in (413, 415, 422):
            raise
        errors = [
            f"{name}: {text}" if name not in ("file", "_schema") else text
            for name, texts in exc.errors.items()
            for text in texts
        ]
        return render(
            "import.html",
            status=exc.status,
            errors=errors,
            detail=exc.detail,
            filename=upload.filename,
            **form,
        )
    if dry_run:
        notify("success", i18n.translate("flash.import_checked", filename=upload.filename))
    else:
        notify("success", i18n.translate("flash.import_started", filename=upload.filename))
    return to("web.import_job", account_id=account["id"], import_id=job["id"])


@web.get("/users/import/<account_id>/<import_id>")
@signed_in
def import_job(account_id: str, import_id: str) -> Any:
    job = api().get(imports_path(account_id, import_id))
    return render(
        "import_job.html", job=job, account_id=account_id, running=job.get("status") in RUNNING
    )


@web.get("/users/import/<account_id>/<import_id>/report.csv")
@signed_in
def import_report(account_id: str, import_id: str) -> Any:
    answer = api().raw(f"{imports_path(account_id, import_id)}/report.csv")
    return Response(
        answer.body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": answer.headers.get(
                "Content-Disposition", f'attachment; filename="import-{import_id}-report.csv"'
            )
        },
    )


@web.get("/users/import/template.csv")
def import_template() -> Any:
    return Response(
        TEMPLATE_CSV,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="portico-users-template.csv"'},
    )

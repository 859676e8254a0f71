"""Validating requests (manual 6.5): accept, optionally until a date, or refuse. E-mails link /validation."""

from __future__ import annotations

from typing import Any

from flask import request

from bus.http_client import segment as q
from gateway.web import i18n
from gateway.web.apicall import ApiError, api
from gateway.web.core import (
    NotAdministrator,
    administered_accounts,
    back_to,
    for_people,
    form_csrf,
    notify,
    once,
    page_number,
    pagination,
    render,
    signed_in,
    web,
)

PER_PAGE = 10


@web.get("/validation")
@signed_in
def validation() -> Any:
    accounts = administered_accounts()
    if not accounts:
        raise NotAdministrator()
    wanted = request.args.get("account", "")
    chosen = [a for a in accounts if a["id"] == wanted] or accounts
    name = request.args.get("name", "").strip()
    items: list[dict[str, Any]] = []
    truncated = False
    for account in chosen:  # "All companies": the requests of each account in reach, newest first
        data = api().get(
            f"/api/v1/accounts/{q(account['id'])}/subscription-requests",
            {"name": name, "per_page": 200},
        )
        truncated = truncated or data["total"] > len(data["items"])
        items.extend({**item, "account": account} for item in data["items"])
    items.sort(key=lambda item: item.get("requested_at") or "", reverse=True)
    page = page_number()
    data = {
        "items": items[(page - 1) * PER_PAGE : page * PER_PAGE],
        "page": page,
        "per_page": PER_PAGE,
        "total": len(items),
    }
    return render(
        "validation.html",
        data=data,
        paging=pagination(data),
        accounts=accounts,
        account_id=wanted if len(chosen) == 1 and wanted else "",
        name=name,
        truncated=truncated,
    )


@web.post("/validation/<account_id>/<request_id>")
@signed_in
@once
def decide(account_id: str, request_id: str) -> Any:
    decision = request.form.get("decision", "")
    title, who = request.form.get("title", ""), request.form.get("who", "")
    path = f"/api/v1/accounts/{q(account_id)}/subscription-requests/{q(request_id)}"
    if decision == "accept":
        body: dict[str, Any] = {"expires_on": request.form.get("expires_on") or None}
    elif decision == "refuse":
        body = {"reason": request.form.get("reason", "").strip() or None}
    else:
        notify("error", i18n.translate("validation.choose"))
        return back_to("web.validation")
    try:
        api().post(f"{path}/{decision}", body, csrf=form_csrf())
    except ApiError as exc:
        if exc.status not in (404, 409, 422):
            raise
        if exc.status == 422 and exc.errors.get("expires_on"):
            notify("error", i18n.translate("validation.bad_date", title=title, who=who))
        else:
            notify("error", for_people(exc.detail))
        return back_to("web.validation")
    key = "flash.request_accepted" if decision == "accept" else "flash.request_refused"
    notify("success", i18n.translate(key, title=title, who=who))
    return back_to("web.validation")

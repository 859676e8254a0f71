"""My services, the services catalog (standard and administrator views), the administrators."""

from __future__ import annotations

from typing import Any

from flask import request

from bus.contracts import vocabulary as v
from bus.http_client import segment as q
from gateway.web import i18n
from gateway.web.apicall import ApiError, api
from gateway.web.core import (
    administered_accounts,
    back_to,
    chosen_account,
    for_people,
    form_csrf,
    is_admin,
    list_args,
    notify,
    once,
    page_number,
    pagination,
    render,
    signed_in,
    web,
)

PER_PAGE = 10


@web.get("/services")
@signed_in
def my_services() -> Any:
    filters = list_args("family", "status", "q")
    data = api().get("/api/v1/me/subscriptions", {**filters, "page": page_number(), "per_page": 20})
    return render(
        "my_services.html",
        data=data,
        paging=pagination(data),
        filters=filters,
        families=v.FAMILIES,
        statuses=v.SUBSCRIPTION_STATUSES,
    )


@web.post("/services/<subscription_id>/unsubscribe")
@signed_in
@once
def unsubscribe(subscription_id: str) -> Any:
    title = request.form.get("title", "")
    try:
        api().delete(f"/api/v1/me/subscriptions/{q(subscription_id)}", csrf=form_csrf())
    except ApiError as exc:
        if exc.status == 404:  # already gone (a repeated click): the result is the same
            notify("info", i18n.translate("flash.unsubscribed", title=title))
            return back_to("web.my_services")
        if exc.status != 409:
            raise
        notify("error", for_people(exc.detail))
        return back_to("web.my_services")
    notify("success", i18n.translate("flash.unsubscribed", title=title))
    return back_to("web.my_services")


@web.get("/catalog")
@signed_in
def catalog() -> Any:
    filters = list_args("family", "title", "q")
    if request.args.get("view") == "admin" and is_admin():
        account = chosen_account()
        data = api().get(
            f"/api/v1/accounts/{q(account['id'])}/services",
            {**filters, "page": page_number(), "per_page": PER_PAGE},
        )
        return render(
            "catalog_admin.html",
            data=data,
            paging=pagination(data),
            filters=filters,
            account=account,
            accounts=administered_accounts(),
            families=v.FAMILIES,
        )
    data = api().get("/api/v1/catalog", {**filters, "page": page_number(), "per_page": PER_PAGE})
    return render(
        "catalog.html", data=data, paging=pagination(data), filters=filters, families=v.FAMILIES
    )


@web.post("/catalog/subscribe")
@signed_in
@once
def subscribe() -> Any:
    service_id, title = request.form.get("service_id", ""), request.form.get("title", "")
    try:
        answer = api().post(
            "/api/v1/me/subscriptions", {"service_id": service_id}, csrf=form_csrf()
        )
    except ApiError as exc:
        if exc.status == 409:
            notify("info", i18n.translate("flash.already_held", title=title))
        elif exc.status in (403, 404, 422):
            notify("error", for_people(exc.detail))
        else:
            raise
        return back_to("web.catalog")
    key = "flash.requested" if answer.status == 202 else "flash.subscribed"
    notify("success", i18n.translate(key, title=title))
    return back_to("web.catalog")


@web.post("/catalog/settings")
@signed_in
@once
def catalog_settings() -> Any:
    account = chosen_account(value=request.form.get("account", ""))
    ids = request.form.getlist("service_ids")
    body: dict[str, Any] = {"service_ids": ids}
    for flag in ("requires_validation", "auto_subscribe"):
        choice = request.form.get(flag, "")
        if choice in ("yes", "no"):
            body[flag] = choice == "yes"
    if not ids:
        notify("error", i18n.translate("catalog.select_first"))
        return back_to("web.catalog", view="admin", account=account["id"])
    if len(body) == 1:
        notify("error", i18n.translate("catalog.choose_setting"))
        return back_to("web.catalog", view="admin", account=account["id"])
    try:
        api().patch(f"/api/v1/accounts/{q(account['id'])}/services", body, csrf=form_csrf())
    except ApiError as exc:
        if exc.status not in (404, 409, 422):
            raise
        notify("error", for_people(exc.detail))
        return back_to("web.catalog", view="admin", account=account["id"])
    notify("success", i18n.translate("flash.settings_saved", n=len(ids)))
    return back_to("web.catalog", view="admin", account=account["id"])


@web.get("/catalog/<account_id>/<service_id>/subscribers")
@signed_in
def subscribers(account_id: str, service_id: str) -> Any:
    account = chosen_account(value=account_id)
    if account["id"] != account_id:
        return render("error.html", status=404, code=404, detail=None)
    data = api().get(
        f"/api/v1/accounts/{q(account_id)}/services/{q(service_id)}/subscribers",
        {"page": page_number(), "per_page": 50},
    )
    title = request.args.get("title", "")
    return render(
        "subscribers.html", data=data, paging=pagination(data), account=account, title=title
    )


@web.get("/administrators")
@signed_in
def administrators() -> Any:
    data = api().get("/api/v1/administrators", {"page": page_number(), "per_page": 50})
    return render("administrators.html", data=data, paging=pagination(data))

"""User management (manual 5.2-5.3) and third-party associates (chapter 7), for administrators."""

from __future__ import annotations

from typing import Any

from flask import g, request

from bus.contracts import vocabulary as v
from bus.http_client import segment as q
from gateway.web import i18n
from gateway.web.apicall import ApiError, api
from gateway.web.core import (
    NotAdministrator,
    administered_accounts,
    back_to,
    chosen_account,
    field_errors,
    for_people,
    form_csrf,
    list_args,
    notify,
    once,
    page_number,
    pagination,
    render,
    signed_in,
    summary,
    take_draft,
    to,
    web,
)

USER_FIELDS = (
    "email",
    "title",
    "last_name",
    "first_name",
    "office_phone",
    "mobile_phone",
    "language",
    "function",
    "password_level",
)
PER_PAGE = 10


def users_path(account_id: str, user_id: str | None = None) -> str:
    path = f"/api/v1/accounts/{q(account_id)}/users"
    return f"{path}/{q(user_id)}" if user_id else path


def account_named(account_id: str) -> dict[str, Any]:
    """The account of the path as listed by GET /api/v1/accounts (the API still decides on reach)."""
    found = next((a for a in administered_accounts() if a["id"] == account_id), None)
    return found or {"id": account_id, "name": "", "number": ""}


def user_list(accounts: list[dict[str, Any]], template: str) -> Any:
    account = chosen_account(accounts)
    filters = list_args("name", "email", "function", "status")
    if request.args.get("administrators_only"):
        filters["administrators_only"] = "true"
    data = api().get(
        users_path(account["id"]), {**filters, "page": page_number(), "per_page": PER_PAGE}
    )
    return render(
        template,
        data=data,
        paging=pagination(data),
        filters=filters,
        account=account,
        accounts=accounts,
        statuses=v.USER_STATUSES,
    )


@web.get("/users")
@signed_in
def users() -> Any:
    return user_list(administered_accounts(), "users.html")


@web.get("/associates")
@signed_in
def associates() -> Any:
    supervised = [a for a in administered_accounts() if a.get("role") == "supervisor"]
    if not supervised:
        if not administered_accounts():
            raise NotAdministrator()
        return render("associates_none.html")
    return user_list(supervised, "associates.html")


@web.post("/users/activation-emails")
@signed_in
@once
def send_activation_emails() -> Any:
    account_id = request.form.get("account", "")
    ids = request.form.getlist("user_ids")
    if not ids:
        notify("error", i18n.translate("users.select_first"))
        return back_to("web.users", account=account_id)
    try:
        answer = (
            api()
            .post(
                f"/api/v1/accounts/{q(account_id)}/activation-emails",
                {"user_ids": ids},
                csrf=form_csrf(),
            )
            .data
            or {}
        )
    except ApiError as exc:
        if exc.status not in (404, 422):
            raise
        notify("error", for_people(exc.detail))
        return back_to("web.users", account=account_id)
    notify(
        "success",
        i18n.translate(
            "flash.activation_sent",
            sent=count(answer.get("sent")),
            skipped=count(answer.get("skipped")),
        ),
    )
    return back_to("web.users", account=account_id)


def count(value: Any) -> int:
    """`sent` / `skipped` may be ids or a number (docs/api.md leaves it to identity)."""
    if isinstance(value, list | tuple):
        return len(value)
    return int(value or 0)


def user_form_values() -> dict[str, Any]:
    values: dict[str, Any] = {name: request.form.get(name, "").strip() for name in USER_FIELDS}
    return values


def user_body(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, value in values.items():
        if name == "password_level":
            if value:
                body[name] = int(value) if value.isdigit() else value
            continue
        if value or name in ("office_phone", "mobile_phone", "function"):
            body[name] = value or None
    if creating:
        for optional in ("office_phone", "mobile_phone", "function"):
            if body.get(optional) is None:
                body.pop(optional, None)
    return body


@web.route("/users/new", methods=["GET", "POST"])
@signed_in
@once
def create_user() -> Any:
    account = chosen_account()
    form = {
        "accounts": administered_accounts(),
        "account": account,
        "titles": v.TITLES,
        "languages": v.LANGUAGES,
        "levels": v.PASSWORD_LEVELS,
    }
    if request.method == "GET":
        values = take_draft({"language": i18n.current_tag(), "password_level": 2})
        return render("user_form.html", mode="create", values=values, errors={}, **form)
    values = user_form_values()
    try:
        user = (
            api()
            .post(users_path(account["id"]), user_body(values, creating=True), csrf=form_csrf())
            .data
        )
    except ApiError as exc:
        if exc.status == 409:
            return render(
                "user_form.html",
                status=409,
                mode="create",
                values=values,
                errors={"email": [i18n.translate("users.exists")]},
                error=i18n.translate("users.exists"),
                **form,
            )
        if exc.status != 422:
            raise
        return render(
            "user_form.html",
            status=422,
            mode="create",
            values=values,
            errors=field_errors(exc),
            error=summary(exc),
            **form,
        )
    notify("success", i18n.translate("flash.user_created", email=user.get("email", "")))
    return to("web.users", account=account["id"])


@web.route("/users/<account_id>/<user_id>/edit", methods=["GET", "POST"])
@signed_in
@once
def edit_user(account_id: str, user_id: str) -> Any:
    user = api().get(users_path(account_id, user_id))
    form = {
        "account": account_named(account_id),
        "titles": v.TITLES,
        "languages": v.LANGUAGES,
        "levels": v.PASSWORD_LEVELS,
        "user": user,
    }
    if request.method == "GET":
        return render("user_form.html", mode="edit", values=take_draft(user), errors={}, **form)
    values = user_form_values()
    body = user_body(values, creating=False)
    if (body.get("email") or "").lower() == (user.get("email") or "").lower():
        body.pop("email", None)  # unchanged: only a new address is sent
    try:
        api().patch(users_path(account_id, user_id), body, csrf=form_csrf())
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        return render(
            "user_form.html",
            status=exc.status,
            mode="edit",
            values={**user, **values},
            errors=field_errors(exc),
            error=summary(exc),
            **form,
        )
    notify(
        "success",
        i18n.translate("flash.user_saved", email=values.get("email") or user.get("email", "")),
    )
    return to("web.users", account=account_id)


@web.route("/users/<account_id>/<user_id>/delete", methods=["GET", "POST"])
@signed_in
@once
def delete_user(account_id: str, user_id: str) -> Any:
    if request.method == "GET":
        user = api().get(users_path(account_id, user_id))
        return render("user_delete.html", user=user, account=account_named(account_id))
    name = request.form.get("name", "")
    try:
        api().delete(users_path(account_id, user_id), csrf=form_csrf())
    except ApiError as exc:
        if exc.status == 404:  # already deleted (a repeated click): the result is the same
            notify("success", i18n.translate("flash.user_deleted", name=name))
            return to("web.users", account=account_id)
        if exc.status != 409:
            raise
        notify("error", for_people(exc.detail))
        return to("web.users", account=account_id)
    notify("success", i18n.translate("flash.user_deleted", name=name))
    return to("web.users", account=account_id)


@web.post("/users/<account_id>/<user_id>/unlock")
@signed_in
@once
def unlock_user(account_id: str, user_id: str) -> Any:
    api().post(f"{users_path(account_id, user_id)}/unlock", csrf=form_csrf())
    notify("success", i18n.translate("flash.user_unlocked", name=request.form.get("name", "")))
    return back_to("web.users", account=account_id)


@web.get("/users/<account_id>/<user_id>/subscriptions")
@signed_in
def user_subscriptions(account_id: str, user_id: str) -> Any:
    user = api().get(users_path(account_id, user_id))
    data = api().get(
        f"{users_path(account_id, user_id)}/subscriptions", {"page": page_number(), "per_page": 50}
    )
    return render(
        "user_subscriptions.html",
        user=user,
        data=data,
        paging=pagination(data),
        account=account_named(account_id),
    )


@web.post("/users/<account_id>/<user_id>/subscriptions/<subscription_id>/remove")
@signed_in
@once
def remove_user_subscription(account_id: str, user_id: str, subscription_id: str) -> Any:
    title = request.form.get("title", "")
    try:
        api().delete(
            f"{users_path(account_id, user_id)}/subscriptions/{q(subscription_id)}",
            csrf=form_csrf(),
        )
    except ApiError as exc:
        if exc.status not in (404, 409):
            raise
        if exc.status == 409:
            notify("error", for_people(exc.detail))
            return to("web.user_subscriptions", account_id=account_id, user_id=user_id)
    notify("success", i18n.translate("flash.subscription_removed", title=title))
    return to("web.user_subscriptions", account_id=account_id, user_id=user_id)


@web.route("/users/<account_id>/<user_id>/subscriptions/add", methods=["GET", "POST"])
@signed_in
@once
def add_user_subscriptions(account_id: str, user_id: str) -> Any:
    user = api().get(users_path(account_id, user_id))
    if request.method == "POST":
        ids = request.form.getlist("service_ids")
        body: dict[str, Any] = {"service_ids": ids}
        if request.form.get("expires_on"):
            body["expires_on"] = request.form["expires_on"]
        error = i18n.translate("users.pick_services") if not ids else None
        if error is None:
            try:
                api().post(
                    f"{users_path(account_id, user_id)}/subscriptions", body, csrf=form_csrf()
                )
            except ApiError as exc:
                if exc.status not in (403, 409, 422):
                    raise
                error = exc.detail
            else:
                notify("success", i18n.translate("flash.subscriptions_granted", n=len(ids)))
                return to("web.user_subscriptions", account_id=account_id, user_id=user_id)
        g.web_add_error = error
    held = api().get(f"{users_path(account_id, user_id)}/subscriptions", {"per_page": 200})["items"]
    held_ids = {
        s["service"]["id"]
        for s in held
        if s.get("service") and s.get("status") in ("accepted", "pending")
    }
    services = api().get(f"/api/v1/accounts/{q(account_id)}/services", {"per_page": 200})["items"]
    choices = [s for s in services if s["id"] not in held_ids]
    return render(
        "user_add_subscriptions.html",
        status=422 if g.get("web_add_error") else 200,
        user=user,
        services=choices,
        account=account_named(account_id),
        error=g.get("web_add_error"),
        chosen=set(request.form.getlist("service_ids")),
        expires_on=request.form.get("expires_on", ""),
    )

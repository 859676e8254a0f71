"""My account: the profile page with the dashboard panels, the edit form, the e-mail change."""

from __future__ import annotations

from typing import Any

from flask import request, session

from bus.contracts import vocabulary as v
from gateway.web import i18n
from gateway.web.apicall import ApiError, api
from gateway.web.core import (
    current_user,
    field_errors,
    form_csrf,
    notify,
    once,
    render,
    signed_in,
    summary,
    take_draft,
    to,
    web,
)

PROFILE_FIELDS = (
    "title",
    "last_name",
    "first_name",
    "language",
    "function",
    "office_phone",
    "mobile_phone",
)


@web.get("/account")
@signed_in
def account() -> Any:
    dashboard = api().get("/api/v1/me/dashboard")
    return render("account.html", dashboard=dashboard, panel_ok=panel_ok)


def panel_ok(panel: Any) -> bool:
    """A dashboard panel whose service answered (a failed one is {unavailable, reason})."""
    return not (isinstance(panel, dict) and panel.get("unavailable"))


@web.route("/account/edit", methods=["GET", "POST"])
@signed_in
@once
def edit_account() -> Any:
    me = current_user()
    assert me is not None
    if request.method == "GET":
        return render(
            "account_edit.html",
            values=take_draft(me),
            errors={},
            titles=v.TITLES,
            languages=v.LANGUAGES,
        )
    values = {name: request.form.get(name, "").strip() for name in PROFILE_FIELDS}
    body = {name: (value or None) for name, value in values.items()}
    for required in ("title", "last_name", "first_name", "language"):
        if body[required] is None:
            body.pop(required)  # left empty: the API keeps the current value rather than erase it
    try:
        updated = api().patch("/api/v1/me", body, csrf=form_csrf()).data
    except ApiError as exc:
        if exc.status != 422:
            raise
        return render(
            "account_edit.html",
            status=422,
            values={**me, **values},
            errors=field_errors(exc),
            error=summary(exc),
            titles=v.TITLES,
            languages=v.LANGUAGES,
        )
    i18n.set_language(i18n.choose(updated.get("language")), updated.get("language"))
    notify("success", i18n.translate("flash.profile_saved"))
    return to("web.account")


@web.route("/account/email", methods=["GET", "POST"])
@signed_in
@once
def change_email() -> Any:
    if request.method == "GET":
        return render("email_change.html", errors={}, new_email="")
    new_email = request.form.get("new_email", "").strip()
    try:
        api().post("/api/v1/me/email-change", {"new_email": new_email}, csrf=form_csrf())
    except ApiError as exc:
        if exc.status == 409:
            return render(
                "email_change.html",
                status=409,
                new_email=new_email,
                errors={"new_email": [i18n.translate("email.taken")]},
            )
        if exc.status != 422:
            raise
        return render(
            "email_change.html",
            status=422,
            new_email=new_email,
            errors=field_errors(exc) or {"new_email": [exc.detail]},
        )
    session["web_email_sent_to"] = new_email
    return to("web.email_sent")


@web.get("/account/email/sent")
@signed_in
def email_sent() -> Any:
    return render("email_sent.html", new_email=session.get("web_email_sent_to", ""))

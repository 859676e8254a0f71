"""Signing in and out, forgotten password, and the pages that e-mailed links open.

Links: /activate/{token} (the three-step wizard), /reset-password/{token}, /confirm-email/{token}.
"""

from __future__ import annotations

import re
from typing import Any

from flask import g, redirect, request, session, url_for
from werkzeug.http import dump_cookie

from bus.contracts import vocabulary as v
from bus.http_client import segment
from gateway.entrypoints.context import gw
from gateway.web import i18n
from gateway.web.apicall import ApiError, api
from gateway.web.core import (
    back_to,
    current_user,
    field_errors,
    forget_client,
    form_csrf,
    notify,
    once,
    render,
    signed_in,
    to,
    web,
)
from gateway.web.forms import CSRF_COOKIE, safe_next

WIZARD_FIELDS = (
    "title",
    "last_name",
    "first_name",
    "language",
    "function",
    "office_phone",
    "mobile_phone",
)
STEP_OF = {
    "title": 1,
    "last_name": 1,
    "first_name": 1,
    "language": 1,
    "function": 2,
    "office_phone": 2,
    "mobile_phone": 2,
    "password": 3,
}


def keep_csrf(token: str) -> None:
    """The session's CSRF token, for the forms of the following pages (HttpOnly, like the session)."""
    config = gw().config
    g.setdefault("web_cookies", []).append(
        dump_cookie(
            CSRF_COOKIE,
            token,
            max_age=int(config.sessions.lifetime.total_seconds()),
            path="/",
            httponly=True,
            secure=config.secure_cookies,
            samesite="Lax",
        )
    )


def forget_csrf() -> None:
    g.setdefault("web_cookies", []).append(
        dump_cookie(CSRF_COOKIE, "", max_age=0, expires=0, path="/", httponly=True, samesite="Lax")
    )


SECOND_FACTOR_DUE = "web_mfa"  # a sign-in waiting for its second step: {token, methods, next}


def open_session(email: str, password: str) -> dict[str, Any]:
    """POST /api/v1/session: the API sets its cookie (relayed), the page keeps the CSRF token.
    A 202 with a second factor due opens nothing yet (no CSRF token)."""
    answer = api().post("/api/v1/session", {"email": email, "password": password}).data
    if answer.get("csrf_token"):
        keep_csrf(answer["csrf_token"])
    return answer


# -- sign in and out -------------------------------------------------------------------------------


@web.get("/")
def home() -> Any:
    return to("web.account") if current_user(required=False) else to("web.sign_in")


@web.route("/sign-in", methods=["GET", "POST"])
@once
def sign_in() -> Any:
    target = safe_next(request.values.get("next"), url_for("web.account"))
    me = current_user(required=False)
    if request.method == "GET":
        if me is not None:
            return redirect(target, code=303)
        return render(
            "sign_in.html", next=request.args.get("next", ""), email=request.args.get("email", "")
        )
    email, password = request.form.get("email", "").strip(), request.form.get("password", "")
    try:
        answer = open_session(email, password)
    except ApiError as exc:
        message = {
            401: "signin.failed",
            423: "signin.locked",
            429: "signin.too_many",
            422: "signin.missing",
        }.get(exc.status)
        if message is None:
            raise
        detail = exc.detail if exc.status in (423, 429) else None
        return render(
            "sign_in.html",
            status=exc.status,
            next=request.form.get("next", ""),
            email=email,
            error=i18n.translate(message),
            detail=detail,
        )
    if answer.get("mfa_required") and not answer.get(
        "enrolment_required"
    ):  # the second step (pages/mfa.py)
        session[SECOND_FACTOR_DUE] = {
            "token": answer["mfa_token"],
            "methods": answer.get("methods", []),
            "next": target,
        }
        return to("web.second_factor")
    if answer.get("enrolment_required"):
        notify("info", i18n.translate("mfa.enrol_first"))
        return to("web.security")
    if answer.get("password_change_required"):
        notify("info", i18n.translate("flash.password_change_required"))
        return to("web.change_password")
    return redirect(target, code=303)


@web.post("/sign-out")
def sign_out() -> Any:
    """Ends the session on the server; "signed out" is said only when no session is left alive.

    A 401 means there was none (or it had ended). A CSRF refusal means the session lives on: the
    person is told so and sent back to the page, whose fresh form signs out.
    """
    current_user(required=False)  # the goodbye is said in the user's language
    try:
        api().delete("/api/v1/session", csrf=form_csrf())
    except ApiError as exc:
        if exc.csrf_mismatch:
            notify("error", i18n.translate("flash.sign_out_refused"))
            return back_to("web.account")
        if exc.status != 401:
            raise
    forget_csrf()
    forget_client()
    session.pop("web_draft", None)
    notify("info", i18n.translate("flash.signed_out"))
    return to("web.sign_in")


@web.route("/forgotten-password", methods=["GET", "POST"])
@once
def forgotten_password() -> Any:
    current_user(required=False)
    if request.method == "GET":
        return render("forgotten.html", email=request.args.get("email", ""))
    email = request.form.get("email", "").strip()
    try:
        api().post("/api/v1/password-resets", {"email": email})
    except ApiError as exc:
        if exc.status not in (422, 429):
            raise
        key = "forgotten.too_many" if exc.status == 429 else "forgotten.invalid"
        return render(
            "forgotten.html",
            status=exc.status,
            email=email,
            error=i18n.translate(key),
            detail=exc.detail if exc.status == 429 else None,
        )
    return to("web.forgotten_password_sent")


@web.get("/forgotten-password/sent")
def forgotten_password_sent() -> Any:
    current_user(required=False)
    return render("forgotten_sent.html")


# -- the activation wizard (manual, chapter 2) -----------------------------------------------------


def rule_value(rule: dict[str, Any]) -> int | None:
    """The number a rule is about (length, kinds, run), read from its parameters or its text."""
    for key in ("value", "min", "max", "length", "count"):
        if isinstance(rule.get(key), int):
            return rule[key]
    found = re.search(r"\d+", rule.get("text", ""))
    return int(found.group()) if found else None


def shown_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's rules with their number and the text in the page language."""
    shown = []
    for rule in rules or []:
        value = rule_value(rule)
        key = f"rule.{rule.get('code')}"
        text = i18n.translate(key, n=value) if key in _known_rules() else rule.get("text", "")
        shown.append({"code": rule.get("code", ""), "value": value, "text": text})
    return shown


def _known_rules() -> set[str]:
    return {key for key in i18n.catalog(i18n.DEFAULT) if key.startswith("rule.")}


def localise_password_errors(messages: list[str], rules: list[dict[str, Any]]) -> list[str]:
    """The API's password messages, each replaced by its rule in the page language when known."""
    out = []
    for message in messages:
        match = next(
            (rule for rule in rules if rule.get("text") and message.startswith(rule["text"])), None
        )
        out.append(
            shown_rules([match])[0]["text"] + message[len(match["text"]) :] if match else message
        )
    return out


def wizard(
    token: str,
    data: dict[str, Any],
    values: dict[str, Any],
    errors: dict[str, list[str]],
    status: int = 200,
    error: str | None = None,
) -> Any:
    if not current_user(required=False):
        i18n.set_language(
            i18n.choose(values.get("language") or data.get("language")),
            values.get("language") or data.get("language"),
        )
    rules = data.get("password_rules") or []
    if "password" in errors:
        errors = {**errors, "password": localise_password_errors(errors["password"], rules)}
    steps = [STEP_OF.get(name, 3) for name in errors]
    return render(
        "activate.html",
        status=status,
        token=token,
        data=data,
        values=values,
        errors=errors,
        error=error,
        step=min(steps) if steps else 1,
        rules=shown_rules(rules),
        titles=v.TITLES,
        languages=v.LANGUAGES,
    )


def link_problem(kind: str, exc: ApiError) -> Any:
    """A used, expired or unknown link: say what happened and what to do next."""
    state = "used" if exc.status == 410 else "unknown"
    return render("link_problem.html", status=exc.status, kind=kind, state=state, detail=exc.detail)


@web.route("/activate/<token>", methods=["GET", "POST"])
@once
def activate(token: str) -> Any:
    current_user(required=False)
    try:
        data = api().get(f"/api/v1/activations/{segment(token)}")
    except ApiError as exc:
        if exc.status in (404, 410):
            return link_problem("activation", exc)
        raise
    if request.method == "GET":
        return wizard(token, data, dict(data), {})
    values = {name: request.form.get(name, "").strip() for name in WIZARD_FIELDS}
    password, confirm = request.form.get("password", ""), request.form.get("password_confirm", "")
    if password != confirm:
        return wizard(
            token, data, values, {"password_confirm": [i18n.translate("password.mismatch")]}, 422
        )
    body = {**{k: (val or None) for k, val in values.items()}, "password": password}
    try:
        user = api().post(f"/api/v1/activations/{segment(token)}", body).data
    except ApiError as exc:
        if exc.status in (404, 410):
            return link_problem("activation", exc)
        if exc.status != 422:
            raise
        return wizard(
            token,
            data,
            values,
            field_errors(exc) or {"password": [exc.detail]},
            422,
            error=i18n.translate("activate.fix"),
        )
    i18n.set_language(i18n.choose(user.get("language")), user.get("language"))
    try:
        open_session(user.get("email") or data["email"], password)
    except ApiError:
        notify("success", i18n.translate("flash.activated_sign_in"))
        return redirect(url_for("web.sign_in", email=user.get("email") or data["email"]), code=303)
    notify("success", i18n.translate("flash.activated"))
    return to("web.account")


# -- password reset and e-mail change -------------------------------------------------------------


@web.route("/reset-password/<token>", methods=["GET", "POST"])
@once
def reset_password(token: str) -> Any:
    current_user(required=False)
    if request.method == "GET":
        return render("reset.html", token=token, errors={})
    password, confirm = request.form.get("password", ""), request.form.get("password_confirm", "")
    if password != confirm:
        return render(
            "reset.html",
            status=422,
            token=token,
            errors={"password_confirm": [i18n.translate("password.mismatch")]},
        )
    try:
        api().post(f"/api/v1/password-resets/{segment(token)}", {"password": password})
    except ApiError as exc:
        if exc.status in (404, 410):
            return link_problem("reset", exc)
        if exc.status != 422:
            raise
        return render(
            "reset.html",
            status=422,
            token=token,
            errors=field_errors(exc) or {"password": [exc.detail]},
        )
    notify("success", i18n.translate("flash.password_reset"))
    return to("web.sign_in")


@web.route("/confirm-email/<token>", methods=["GET", "POST"])
@once
def confirm_email(token: str) -> Any:
    me = current_user(required=False)
    if request.method == "GET":
        return render("confirm_email.html", token=token)
    try:
        api().post(f"/api/v1/email-changes/{segment(token)}")
    except ApiError as exc:
        if exc.status in (404, 410):
            return link_problem("email", exc)
        raise
    notify("success", i18n.translate("flash.email_changed"))
    return to("web.account") if me else to("web.sign_in")


@web.route("/account/password", methods=["GET", "POST"])
@signed_in
@once
def change_password() -> Any:
    if request.method == "GET":
        return render("password.html", errors={})
    current = request.form.get("current_password", "")
    new, confirm = request.form.get("new_password", ""), request.form.get("password_confirm", "")
    if new != confirm:
        return render(
            "password.html",
            status=422,
            errors={"password_confirm": [i18n.translate("password.mismatch")]},
        )
    try:
        api().post(
            "/api/v1/me/password",
            {"current_password": current, "new_password": new},
            csrf=form_csrf(),
        )
    except ApiError as exc:
        if exc.status != 422:
            raise
        return render(
            "password.html", status=422, errors=field_errors(exc) or {"new_password": [exc.detail]}
        )
    notify("success", i18n.translate("flash.password_changed"))
    return to("web.account")

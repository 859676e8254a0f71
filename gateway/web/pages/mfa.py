"""Second factors in the pages: the sign-in's second step (a code, a recovery code or a passkey),
the security page (/account/security: set up an authenticator application with its QR code,
passkeys, recovery codes shown once, removals; the applications connected through the portal's
single sign-on, each of which the user can disconnect).

As every page, these only call the public API (docs/api.md, "Second factors"); the passkey
ceremonies run in the browser (gateway/static/passkey.js), which hands the credential to a form.
"""

from __future__ import annotations

import json
from typing import Any

import segno
from flask import redirect, request, session, url_for
from markupsafe import Markup

from bus.http_client import segment
from gateway.web import i18n
from gateway.web.apicall import ApiError, api
from gateway.web.core import (
    administered_accounts,
    chosen_account,
    current_user,
    field_errors,
    form_csrf,
    notify,
    once,
    render,
    signed_in,
    summary,
    to,
    web,
)
from gateway.web.forms import safe_next
from gateway.web.pages.auth import SECOND_FACTOR_DUE, keep_csrf

PENDING = SECOND_FACTOR_DUE  # set by the sign-in page (auth.py) when a factor is due


def qr_svg(uri: str) -> Markup:
    """The otpauth:// URI as an inline SVG QR code (segno; drawn here, nothing fetched)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#1b2a3a", title="QR code")
    return Markup(svg)  # noqa: S704 - segno's own SVG, the URI escaped by it


@web.route("/sign-in/second-factor", methods=["GET", "POST"])
@once
def second_factor() -> Any:
    current_user(required=False)
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not pending.get("token"):
        notify("info", i18n.translate("mfa.step_gone"))
        return to("web.sign_in")
    if request.method == "GET":
        return render(
            "mfa_sign_in.html", methods=pending.get("methods", []), mfa_token=pending["token"]
        )
    body: dict[str, Any] = {"mfa_token": pending["token"]}
    if request.form.get("passkey"):
        try:
            body["passkey"] = json.loads(request.form["passkey"])
        except ValueError:
            body["passkey"] = {}
    elif request.form.get("recovery_code", "").strip():
        body["recovery_code"] = request.form["recovery_code"].strip()
    else:
        body["code"] = request.form.get("code", "").strip() or "-"
    try:
        answer = api().post("/api/v1/session/mfa", body).data
    except ApiError as exc:
        if exc.status == 410:
            session.pop(PENDING, None)
            notify("error", i18n.translate("mfa.step_gone"))
            return to("web.sign_in")
        message = {
            401: "mfa.wrong",
            423: "signin.locked",
            429: "signin.too_many",
            422: "mfa.wrong",
        }.get(exc.status)
        if message is None:
            raise
        return render(
            "mfa_sign_in.html",
            status=exc.status,
            methods=pending.get("methods", []),
            mfa_token=pending["token"],
            error=i18n.translate(message),
            detail=exc.detail if exc.status in (423, 429) else None,
        )
    keep_csrf(answer["csrf_token"])
    session.pop(PENDING, None)
    if answer.get("password_change_required"):
        notify("info", i18n.translate("flash.password_change_required"))
        return to("web.change_password")
    return redirect(safe_next(pending.get("next"), url_for("web.account")), code=303)


@web.post("/sign-in/passkey")
@once
def sign_in_with_passkey() -> Any:
    """A sign-in with a passkey alone: the browser's credential (passkey.js) opens the session."""
    current_user(required=False)
    try:
        credential = json.loads(request.form.get("passkey", ""))
    except ValueError:
        credential = {}
    try:
        answer = api().post("/api/v1/session/passkey", {"credential": credential}).data
    except ApiError as exc:
        if exc.status not in (401, 410, 422, 423, 429):
            raise
        notify(
            "error",
            exc.detail if exc.status in (423, 429) else i18n.translate("mfa.passkey_failed"),
        )
        return to("web.sign_in")
    if answer.get("csrf_token"):
        keep_csrf(answer["csrf_token"])
    if answer.get("password_change_required"):
        notify("info", i18n.translate("flash.password_change_required"))
        return to("web.change_password")
    return redirect(safe_next(request.form.get("next"), url_for("web.account")), code=303)


# -- the security page ----------------------------------------------------------------------------


@web.get("/account/security")
@signed_in
def security() -> Any:
    factors = api().get("/api/v1/me/mfa")
    try:
        applications = api().get("/api/v1/me/applications")["items"]
    except ApiError as exc:
        if exc.status != 403:  # a session that must first enrol a factor sees only its factors
            raise
        applications = None
    return render("mfa_security.html", factors=factors, applications=applications)


@web.post("/account/security/applications/<client_id>/disconnect")
@signed_in
@once
def disconnect_application(client_id: str) -> Any:
    """The user takes back an application's grant (its refresh tokens are revoked)."""
    try:
        api().delete(f"/api/v1/me/applications/{segment(client_id)}", csrf=form_csrf())
    except ApiError as exc:
        if exc.status != 404:
            raise
        notify("info", i18n.translate("apps.already_gone"))
        return to("web.security")
    notify("info", i18n.translate("apps.disconnected", app=request.form.get("name", "")))
    return to("web.security")


@web.post("/account/security/totp")
@signed_in
def start_totp() -> Any:
    try:
        started = api().post("/api/v1/me/mfa/totp", csrf=form_csrf()).data
    except ApiError as exc:
        if exc.status != 409:
            raise
        notify("error", exc.detail)
        return to("web.security")
    return render(
        "mfa_totp.html",
        secret=started["secret"],
        uri=started["otpauth_uri"],
        qr=qr_svg(started["otpauth_uri"]),
    )


@web.post("/account/security/totp/confirm")
@signed_in
@once
def confirm_totp() -> Any:
    uri = request.form.get("otpauth_uri", "")
    try:
        answer = (
            api()
            .post(
                "/api/v1/me/mfa/totp/confirm",
                {"code": request.form.get("code", "").strip() or "-"},
                csrf=form_csrf(),
            )
            .data
        )
    except ApiError as exc:
        if exc.status == 409:
            notify("error", exc.detail)
            return to("web.security")
        if exc.status != 422:
            raise
        secret = uri.split("secret=", 1)[-1].split("&", 1)[0] if "secret=" in uri else ""
        return render(
            "mfa_totp.html",
            status=422,
            secret=secret,
            uri=uri,
            qr=qr_svg(uri) if uri else None,
            errors=field_errors(exc) or {"code": [i18n.translate("mfa.wrong")]},
        )
    return render("mfa_codes.html", codes=answer["recovery_codes"], title_key="mfa.totp_done")


@web.post("/account/security/totp/remove")
@signed_in
@once
def remove_totp() -> Any:
    try:
        api().call(
            "DELETE",
            "/api/v1/me/mfa/totp",
            json={"password": request.form.get("password", "") or "-"},
            csrf=form_csrf(),
        )
    except ApiError as exc:
        if exc.status not in (404, 409, 422):
            raise
        notify("error", i18n.translate("mfa.wrong_password") if exc.status == 422 else exc.detail)
        return to("web.security")
    notify("info", i18n.translate("mfa.totp_removed"))
    return to("web.security")


@web.post("/account/security/recovery-codes")
@signed_in
def renew_codes() -> Any:
    try:
        answer = api().post("/api/v1/me/mfa/recovery-codes", csrf=form_csrf()).data
    except ApiError as exc:
        if exc.status != 409:
            raise
        notify("error", exc.detail)
        return to("web.security")
    return render("mfa_codes.html", codes=answer["recovery_codes"], title_key="mfa.codes_title")


@web.post("/account/security/passkeys")
@signed_in
@once
def register_passkey() -> Any:
    try:
        credential = json.loads(request.form.get("credential", ""))
    except ValueError:
        credential = {}
    try:
        answer = (
            api()
            .post(
                "/api/v1/me/mfa/passkeys",
                {
                    "name": request.form.get("name", "").strip() or "Passkey",
                    "credential": credential,
                },
                csrf=form_csrf(),
            )
            .data
        )
    except ApiError as exc:
        if exc.status not in (409, 410, 422):
            raise
        notify("error", i18n.translate("mfa.passkey_failed"))
        return to("web.security")
    if answer.get("recovery_codes"):
        return render(
            "mfa_codes.html", codes=answer["recovery_codes"], title_key="mfa.passkey_done"
        )
    notify("info", i18n.translate("mfa.passkey_done"))
    return to("web.security")


@web.post("/account/security/passkeys/<passkey_id>/remove")
@signed_in
@once
def remove_passkey(passkey_id: str) -> Any:
    try:
        api().delete(f"/api/v1/me/mfa/passkeys/{segment(passkey_id)}", csrf=form_csrf())
    except ApiError as exc:
        if exc.status not in (404, 409):
            raise
        notify("error", exc.detail)
        return to("web.security")
    notify("info", i18n.translate("mfa.passkey_removed"))
    return to("web.security")


# -- an account's policy and a user's reset (administrators) ---------------------------------------


@web.route("/users/security", methods=["GET", "POST"])
@signed_in
@once
def account_policy() -> Any:
    """Who in the account must have a second factor (PATCH /api/v1/accounts/{id}/security)."""
    accounts = administered_accounts()
    account = chosen_account(accounts)
    path = f"/api/v1/accounts/{segment(account['id'])}/security"
    if request.method == "GET":
        policy = api().get(path)["mfa_required_for"]
        return render("account_security.html", account=account, accounts=accounts, policy=policy)
    choice = request.form.get("mfa_required_for", "")
    try:
        api().patch(path, {"mfa_required_for": choice}, csrf=form_csrf())
    except ApiError as exc:
        if exc.status != 422:
            raise
        return render(
            "account_security.html",
            status=422,
            account=account,
            accounts=accounts,
            policy=choice,
            errors=field_errors(exc),
            error=summary(exc),
        )
    name = f"{account.get('number', '')} {account.get('name', '')}".strip()
    notify("success", i18n.translate("policy.saved", account=name))
    return to("web.account_policy", account=account["id"])


@web.post("/users/<account_id>/<user_id>/mfa/reset")
@signed_in
@once
def reset_user_factors(account_id: str, user_id: str) -> Any:
    """An administrator resets a user's second factors (a lost phone): the user is e-mailed."""
    path = f"/api/v1/accounts/{segment(account_id)}/users/{segment(user_id)}"
    user = api().get(path)
    api().delete(f"{path}/mfa", csrf=form_csrf())
    notify("success", i18n.translate("users.mfa_reset_done", email=user.get("email") or ""))
    return to("web.edit_user", account_id=account_id, user_id=user_id)

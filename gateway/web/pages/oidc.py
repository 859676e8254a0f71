"""The provider's browser pages: /oauth2/authorize (the portal's own sign-in, then straight back
to the application, no consent screen: the applications are the vendor's own), the page that
says the application needs a service the user does not hold (with a one-click request), and
/oauth2/logout (RP-initiated logout)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.core.errors import LoginRequiredError
from flask import g, redirect, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.http import dump_cookie

from gateway.domain.oidc import (
    BadMaxAge,
    fresh_sign_in_needed,
    max_age_of,
    registered,
    without_fresh_sign_in,
)
from gateway.entrypoints.context import gw
from gateway.entrypoints.guards import COOKIE
from gateway.entrypoints.oidc_server import Client, provider
from gateway.service_layer import oidc, sign_in_methods
from gateway.service_layer.sessions import SessionEnded, end_session, find_caller
from gateway.web import i18n
from gateway.web.apicall import ApiError, api
from gateway.web.core import (
    PasswordChangeRequired,
    current_user,
    error_page,
    for_people,
    form_csrf,
    once,
    render,
    sign_in_url,
    signed_in,
    web,
)
from gateway.web.forms import CSRF_COOKIE, safe_next
from gateway.web.pages.auth import forget_csrf

CATALOG_PAGE = 200


def browser_session() -> Any:
    """The portal session of this browser's cookie (None when there is none, or it has ended)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return find_caller(gw().part, gw().config.sessions, token)[0]
    except SessionEnded:
        return None


def protocol_error(exc: OAuth2Error) -> Any:
    """An error the application must hear about goes back to its registered redirect URI; one
    that leaves no trusted place to go (unknown client, unregistered redirect URI) is a page."""
    if getattr(exc, "redirect_uri", None):
        return provider().server.handle_error_response(None, exc)
    current_user(required=False)
    return render("oidc_error.html", status=400, error=exc.error, description=exc.description or "")


@web.get("/oauth2/authorize")
def oauth2_authorize() -> Any:
    session = browser_session()
    subject = (
        oidc.Subject(
            session.user_id,
            session.account_id,
            session.created_at,
            sign_in_methods.of_session(provider().part, session.id),
        )
        if session
        else None
    )
    server = provider().server
    try:
        grant = server.get_consent_grant(end_user=subject)
        fresh = fresh_sign_in_asked(grant, session)
    except OAuth2Error as exc:
        return protocol_error(exc)
    if fresh:  # prompt=login, or a sign-in older than max_age: the person signs in again
        end_session(provider().part, session.id)
        forget_portal_cookies()
        subject = None
    if subject is None:
        back = request.path + "?" + urlencode(without_fresh_sign_in(request.args.items(multi=True)))
        return redirect(sign_in_url(back), code=303)
    if session.password_change_required:
        raise PasswordChangeRequired()
    if getattr(session, "mfa_enrolment_required", False):  # the account's policy: a factor first
        return error_page(403, i18n.translate("oidc.enrol_first"))
    client: Client = grant.client
    code = client.record.service_code
    if code and not oidc.holds_service(
        provider().part, subject.user_id, code, provider().part.clock.now().date()
    ):
        return refused(client.record, request.full_path)
    return server.create_authorization_response(grant=grant, grant_user=subject)


def fresh_sign_in_asked(grant: Any, session: Any) -> bool:
    """Whether the application asks for a newer sign-in than this session's (prompt=login,
    max_age). With prompt=none that cannot be done here: login_required goes back to it."""
    data = grant.request.payload.data
    try:
        max_age = max_age_of(data.get("max_age"))
    except BadMaxAge as exc:
        raise InvalidRequestError(
            str(exc), redirect_uri=grant.redirect_uri, state=data.get("state")
        ) from None
    if session is None or not fresh_sign_in_needed(
        data.get("prompt"), max_age, session.created_at, provider().part.clock.now()
    ):
        return False
    if "none" in (data.get("prompt") or "").split():
        raise LoginRequiredError(redirect_uri=grant.redirect_uri, state=data.get("state"))
    return True


def refused(
    client: oidc.ClientRecord, back: str, status: int = 403, asked: str | None = None
) -> Any:
    """The user lacks the service the application is tied to: say so, offer to ask for it."""
    current_user(required=False)
    service, pending = find_service(client.service_code or "")
    return render(
        "oidc_refused.html",
        status=status,
        client=client,
        service=service,
        pending=pending,
        back=back,
        asked=asked,
    )


def find_service(code: str) -> tuple[dict[str, Any] | None, bool]:
    """(the catalog service of this code the user may ask for, whether a request already waits)."""
    try:
        waiting = api().get(
            "/api/v1/me/subscriptions", {"status": "pending", "per_page": CATALOG_PAGE}
        )
        for item in waiting.get("items", []):
            if (item.get("service") or {}).get("code") == code:
                return item["service"], True
        catalog = api().get("/api/v1/catalog", {"per_page": CATALOG_PAGE})
    except ApiError:
        return None, False
    return next(
        (item for item in catalog.get("items", []) if item.get("code") == code), None
    ), False


@web.post("/oauth2/ask")
@signed_in
@once
def oauth2_ask() -> Any:
    """The one-click request of the refused page, through the portal's usual request path."""
    back = safe_next(request.form.get("back"), "/")
    record = oidc.find_client(provider().part, request.form.get("client_id", ""))
    if record is None:
        return render("oidc_error.html", status=400, error="invalid_client", description="")
    try:
        answer = api().post(
            "/api/v1/me/subscriptions",
            {"service_id": request.form.get("service_id", "")},
            csrf=form_csrf(),
        )
    except ApiError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        return refused(record, back, status=exc.status, asked=for_people(exc.detail))
    if answer.status == 201:  # granted at once (no validation): back to the application
        return redirect(back, code=303)
    return refused(record, back, status=202, asked=i18n.translate("oidc.asked_pending"))


# -- RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) -----------------------------------


@web.route("/oauth2/logout", methods=["GET", "POST"])
def oauth2_logout() -> Any:
    values = request.values
    hint = verified_hint(values.get("id_token_hint"))
    client_id = values.get("client_id") or (hint or {}).get("aud_client")
    target = values.get("post_logout_redirect_uri")
    record = oidc.find_client(provider().part, client_id) if client_id else None
    if target and (record is None or not registered(target, record.post_logout_redirect_uris)):
        current_user(required=False)
        return render(
            "oidc_error.html",
            status=400,
            error="invalid_request",
            description=i18n.translate("oidc.logout_uri_unknown"),
        )
    session = browser_session()
    if session is not None and hint is None and request.method == "GET":
        # no proof that the application asked: the person confirms (a link elsewhere cannot sign them out)
        current_user(required=False)
        return render("oidc_logout.html", values=values.to_dict())
    if session is not None and request.method == "POST" and not same_site_form():
        return render("oidc_logout.html", status=403, values=values.to_dict())
    if session is not None:
        if hint is None or hint.get("sub") == session.user_id:
            end_session(provider().part, session.id)
            if record is not None:
                oidc.end_client_sign_ins(
                    provider().part, user_id=session.user_id, client_id=record.client_id
                )
            forget_portal_cookies()
    if target:
        state = values.get("state")
        return redirect(
            target
            + (("&" if "?" in target else "?") + urlencode({"state": state}) if state else ""),
            code=303,
        )
    current_user(required=False)
    return render("oidc_signed_out.html")


def same_site_form() -> bool:
    """The confirmation form carries the session's CSRF token (the web blueprint already checked
    that the form comes from a page of this site)."""
    return bool(form_csrf()) and form_csrf() == request.cookies.get(CSRF_COOKIE)


def verified_hint(token: str | None) -> dict[str, Any] | None:
    """The claims of an ID token this provider signed (an expired one is still a valid hint)."""
    if not token or len(token) > 8000:
        return None
    try:
        keys = KeySet.import_key_set({"keys": oidc.published_keys(provider().part)})
        decoded = jwt.decode(token, keys, algorithms=["ES256"])
    except (JoseError, ValueError, TypeError):
        return None
    claims = dict(decoded.claims)
    if claims.get("iss") != provider().issuer:
        return None
    audience = claims.get("aud")
    claims["aud_client"] = audience[0] if isinstance(audience, list) and audience else audience
    return claims


def forget_portal_cookies() -> None:
    forget_csrf()
    g.setdefault("web_cookies", []).append(
        dump_cookie(COOKIE, "", max_age=0, expires=0, path="/", httponly=True, samesite="Lax")
    )

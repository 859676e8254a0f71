"""The embedded mode's mailbox at /mailbox: e-mails kept by the notifications service instead of sent.

It reads the notifications service's internal API (GET /internal/mailbox) through the gateway's
own client; with an SMTP server configured (PORTICO_SMTP_URL) there is no mailbox: 404.

It is an operator's tool: it holds every reset and activation link. Its pages need the operator
token, typed once into a small form (CSRF-protected, posted from this site only); the browser then
holds the operator's pass (`mailbox_pass`): an HttpOnly, SameSite=Strict cookie that never holds
the token itself.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from typing import Any

from flask import Response, abort, redirect, request, session, url_for
from markupsafe import Markup, escape

from bus.http import Problem
from gateway.entrypoints.context import gw
from gateway.web import i18n, mailbox_pass
from gateway.web.core import (
    current_user,
    mailbox_enabled,
    mailbox_open,
    page_number,
    pagination,
    render,
    web,
)
from gateway.web.forms import safe_next

log = logging.getLogger(__name__)
UNLOCK_CSRF = "mailbox_csrf"  # the unlock form's token, kept in the signed pages cookie

URL = re.compile(r"https?://[^\s<>\"']+")
TRAILING = ".,;:!?)]}»"
HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation; "
    "frame-ancestors 'self'"
)


def notifications() -> Any:
    if not mailbox_enabled():
        abort(404)
    client = gw().clients.get("notifications")
    if client is None:
        abort(404)
    return client


def linkify(text: str | None) -> Markup:
    """Plain text, escaped, with its http(s) addresses made into links."""
    out, last = [], 0
    text = text or ""
    for found in URL.finditer(text):
        url = found.group().rstrip(TRAILING)
        end = found.start() + len(url)
        out.append(escape(text[last : found.start()]))
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def top_links(html: str) -> str:
    """Links of the framed e-mail open in the whole window (the portal's pages refuse to be framed)."""
    base = '<base target="_top">'
    head = re.search(r"<head[^>]*>", html, re.I)
    return html[: head.end()] + base + html[head.end() :] if head else base + html


def unlock_form(status: int = 401, error: str | None = None, target: str | None = None) -> Response:
    """The small form that asks for the operator token (the mailbox's pages answer it until given)."""
    token = session.get(UNLOCK_CSRF)
    if not isinstance(token, str):
        token = session[UNLOCK_CSRF] = secrets.token_urlsafe(24)
    return render(
        "mailbox_unlock.html",
        status=status,
        error=error,
        unlock_csrf=token,
        next=target or request.full_path.rstrip("?"),
    )


def mailbox_target(value: str | None) -> str:
    """Where to go once the mailbox is open: a mailbox page of this site, else the list."""
    target = safe_next(value, url_for("web.mailbox"))
    return (
        target
        if target == "/mailbox" or target.startswith(("/mailbox?", "/mailbox/"))
        else url_for("web.mailbox")
    )


@web.post("/mailbox/unlock")
def unlock_mailbox() -> Any:
    notifications()
    current_user(required=False)
    target = mailbox_target(request.form.get("next"))
    expected, sent = session.get(UNLOCK_CSRF), request.form.get("csrf_token", "")
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        return unlock_form(403, i18n.translate("mailbox.form_expired"), target)
    given = request.form.get("operator_token", "").strip()
    if not given:
        return unlock_form(422, i18n.translate("mailbox.token_missing"), target)
    settings, config = gw().part.settings, gw().config
    if not mailbox_pass.is_operator_token(given, settings.operator_token):
        log.warning("mailbox: a wrong operator token was typed (from %s)", request.remote_addr)
        return unlock_form(401, i18n.translate("mailbox.token_wrong"), target)
    session.pop(UNLOCK_CSRF, None)
    response = redirect(target, code=303)
    lifetime = config.sessions.lifetime
    response.set_cookie(
        mailbox_pass.COOKIE,
        mailbox_pass.issue(settings.secret_key, settings.operator_token, gw().now(), lifetime),
        max_age=int(lifetime.total_seconds()),
        path="/",
        httponly=True,
        secure=config.secure_cookies,
        samesite="Strict",
    )
    return response


@web.post("/mailbox/lock")
def lock_mailbox() -> Any:
    """Forget the operator's pass in this browser."""
    notifications()
    response = redirect(url_for("web.mailbox"), code=303)
    response.delete_cookie(
        mailbox_pass.COOKIE,
        path="/",
        httponly=True,
        secure=gw().config.secure_cookies,
        samesite="Strict",
    )
    return response


@web.get("/mailbox")
def mailbox() -> Any:
    client = notifications()
    current_user(required=False)
    if not mailbox_open():
        return unlock_form()
    to = request.args.get("to", "").strip()
    params: dict[str, Any] = {"page": page_number(), "per_page": 20}
    if to:
        params["to"] = to
    data = client.get("/internal/mailbox", params=params)
    return render("mailbox.html", data=data, paging=pagination(data), to=to)


@web.get("/mailbox/<int:mail_id>")
def mail(mail_id: int) -> Any:
    client = notifications()
    current_user(required=False)
    if not mailbox_open():
        return unlock_form()
    try:
        message = client.get(f"/internal/mailbox/{mail_id}")
    except Problem as exc:
        if exc.status == 404:
            abort(404)
        raise
    return render("mail.html", mail=message, body=linkify(message.get("text")))


@web.get("/mailbox/<int:mail_id>/html")
def mail_html(mail_id: int) -> Any:
    """The HTML version, for the sandboxed frame of the message page (its own strict policy)."""
    client = notifications()
    if not mailbox_open():
        current_user(required=False)
        return unlock_form()
    try:
        message = client.get(f"/internal/mailbox/{mail_id}")
    except Problem as exc:
        if exc.status == 404:
            abort(404)
        raise
    response = Response(top_links(message.get("html") or ""), mimetype="text/html")
    response.headers["Content-Security-Policy"] = HTML_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response

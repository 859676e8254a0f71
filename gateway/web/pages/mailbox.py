"""The embedded mode's mailbox at /mailbox: e-mails kept by the notifications service instead of sent.

It reads the notifications service's internal API (GET /internal/mailbox) through the gateway's
own client; with an SMTP server configured (PORTICO_SMTP_URL) there is no mailbox: 404.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, abort, request
from markupsafe import Markup, escape

from bus.http import Problem
from gateway.entrypoints.context import gw
from gateway.web.core import current_user, mailbox_enabled, page_number, pagination, render, web

URL = re.compile(r"https?://[^\s<>\"']+")
TRAILING = ".,;:!?)]}»"
HTML_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation; "
            "frame-ancestors 'self'")


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
        out.append(escape(text[last:found.start()]))
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def top_links(html: str) -> str:
    """Links of the framed e-mail open in the whole window (the portal's pages refuse to be framed)."""
    base = '<base target="_top">'
    head = re.search(r"<head[^>]*>", html, re.I)
    return html[:head.end()] + base + html[head.end():] if head else base + html


@web.get("/mailbox")
def mailbox() -> Any:
    client = notifications()
    current_user(required=False)
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

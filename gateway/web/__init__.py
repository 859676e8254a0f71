"""The portal's web pages: server-rendered Jinja2 over the gateway's own /api/v1 (called in-process).

`register(app)` plugs them into the gateway's Flask app; nothing is built at import time.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class PagesSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session for the pages only: the API (/api/..., /metrics...) never reads
    it, so its requests skip building the signer and reading the cookie."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/api/"):
            return None  # Flask's null session: reading gives nothing, writing fails loudly
        return super().open_session(app, request)


def register(app: Flask) -> None:
    from gateway.web import pages  # noqa: F401 - the routes attach themselves to the blueprint
    from gateway.web.core import web

    # Flask's own session cookie only carries the pages' one-time messages and form drafts.
    secure = app.extensions["portico.gateway"].config.secure_cookies
    app.config.update(
        SESSION_COOKIE_NAME="portico_pages",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=secure,
    )
    app.session_interface = PagesSessionInterface()
    app.register_blueprint(web)

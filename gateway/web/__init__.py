"""The portal's web pages: server-rendered Jinja2 over the gateway's own /api/v1 (called in-process).

`register(app)` plugs them into the gateway's Flask app; nothing is built at import time.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from gateway.web import pages  # noqa: F401 - the routes attach themselves to the blueprint
    from gateway.web.core import web

    app.register_blueprint(web)

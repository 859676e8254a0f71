"""The importer service's internal HTTP API (called by the gateway with the service token)."""

from __future__ import annotations

from flask import Flask

from bus.http import install_problem_handlers, ops_blueprint, require_service_token
from bus.part import Part


def create_app(part: Part) -> Flask:
    app = Flask(__name__)
    app.extensions["portico.part"] = part
    install_problem_handlers(app)
    require_service_token(app, part.settings.service_token)
    app.register_blueprint(ops_blueprint(part.readiness))
    return app

"""The subscriptions service's internal HTTP API (called by the gateway with the service token)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from bus.http import install_problem_handlers, ops_blueprint, require_service_token
from bus.input_checks import install_input_checks
from bus.part import Part

from . import accounts, jobs, users
from .errors import install_error_handlers


def create_app(part: Part, clients: Any = None) -> Flask:
    """The app of one part; `clients` (other services) are not needed: this service calls none."""
    app = Flask(__name__)
    app.extensions["portico.part"] = part
    install_problem_handlers(app)
    install_error_handlers(app)
    require_service_token(app, part.settings.service_token)
    install_input_checks(app)
    app.register_blueprint(ops_blueprint(part.readiness))
    for module in (users, accounts, jobs):
        app.register_blueprint(module.bp)
    return app

"""The subscriptions service's internal HTTP API (called by the gateway with the service token)."""

from __future__ import annotations

from flask import Flask

from bus.http import install_problem_handlers, ops_blueprint, require_service_token
from bus.input_checks import install_input_checks
from bus.part import Part
from bus.receipts import receipts_blueprint

from . import accounts, groups, jobs, users
from .errors import install_error_handlers


def create_app(part: Part) -> Flask:
    """The app of the subscriptions part its bootstrap built."""
    app = Flask(__name__)
    app.extensions["portico.part"] = part
    install_problem_handlers(app)
    install_error_handlers(app)
    require_service_token(app, part.settings.service_token)
    install_input_checks(app)
    app.register_blueprint(ops_blueprint(part.readiness))
    app.register_blueprint(
        receipts_blueprint()
    )  # read-your-writes: has this event been applied here?
    for module in (users, accounts, groups, jobs):
        app.register_blueprint(module.bp)
    return app

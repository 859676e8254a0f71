"""The identity service's internal HTTP API (called by the gateway with the service token).

The views live in one module per resource, beside this one: each parses, calls one handler in one
unit of work (`common.run`), and shapes the answer; the contract is the identity table of
docs/internal-api.md.
"""

from __future__ import annotations

from flask import Flask, Response

from bus.http import (
    Problem,
    install_problem_handlers,
    ops_blueprint,
    problem_response,
    require_service_token,
)
from bus.input_checks import install_input_checks
from bus.part import Part
from bus.receipts import receipts_blueprint
from services.identity.entrypoints import (
    account_users,
    accounts,
    audit,
    dashboard,
    email_changes,
    imports,
    links,
    me,
    mfa,
    scim_users,
    sign_in,
)
from services.identity.service_layer.errors import IdentityError

# One blueprint per resource (each module's docstring names its routes).
BLUEPRINTS = (
    accounts,
    account_users,
    audit,
    sign_in,
    mfa,
    links,
    email_changes,
    me,
    dashboard,
    imports,
    scim_users,
)


def _identity_error(error: IdentityError) -> Response:
    return problem_response(
        Problem(error.status, error.title, error.detail, errors=error.errors, code=error.code)
    )


def create_app(part: Part) -> Flask:
    app = Flask(__name__)
    app.extensions["portico.part"] = part
    install_problem_handlers(app)
    app.register_error_handler(IdentityError, _identity_error)
    require_service_token(app, part.settings.service_token)
    install_input_checks(app)
    app.register_blueprint(ops_blueprint(part.readiness))
    app.register_blueprint(
        receipts_blueprint()
    )  # read-your-writes: has this event been applied here?
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    return app

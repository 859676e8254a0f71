"""The importer service's internal HTTP API (called by the gateway with the service token)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

from bus.http import install_problem_handlers, ops_blueprint, require_service_token
from bus.input_checks import install_input_checks

from . import imports
from .errors import install_error_handlers

if TYPE_CHECKING:
    from services.importer.bootstrap import ImporterPart

# Room for the multipart envelope around a file of the largest accepted size.
_MULTIPART_SLACK = 64 * 1024


def create_app(part: ImporterPart) -> Flask:
    """The app of the importer part its bootstrap built (with its client of identity)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = part.config.max_bytes + _MULTIPART_SLACK
    app.extensions["portico.part"] = part
    install_problem_handlers(app)
    install_error_handlers(app)
    require_service_token(app, part.settings.service_token)
    install_input_checks(app)
    app.register_blueprint(ops_blueprint(part.readiness))
    app.register_blueprint(imports.bp)
    return app

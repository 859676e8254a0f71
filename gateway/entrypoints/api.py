"""The gateway's Flask app: the public API of API.md, composed from the services."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api

from bus.http import install_problem_handlers, ops_blueprint
from bus.http_client import ServiceClient
from bus.part import Part


def create_app(part: Part, clients: dict[str, ServiceClient], *, extra: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Portico client-portal API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        SECRET_KEY=part.settings.secret_key,
        MAX_CONTENT_LENGTH=part.settings.int_setting("PORTICO_MAX_BODY_BYTES", 25 * 1024 * 1024),
    )
    app.extensions["portico.part"] = part
    app.extensions["portico.clients"] = clients
    app.extensions.update(extra or {})
    api = Api(app)
    install_problem_handlers(app)
    app.register_blueprint(ops_blueprint(lambda: readiness(part, clients)))

    from gateway.entrypoints import operator

    api.register_blueprint(operator.blp)
    return app


def readiness(part: Part, clients: dict[str, ServiceClient]) -> dict[str, str]:
    """The gateway is ready once its own database and broker, and every service, are."""
    report = part.readiness()
    for name, client in clients.items():
        try:
            response = client.http.get("/readyz")
            report[name] = "ok" if response.status_code == 200 else f"not ready ({response.status_code})"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            report[name] = f"unavailable: {exc}"
    return report

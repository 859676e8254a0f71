"""The gateway's Flask app: the public API (docs/api.md), composed from the services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_smorest import Api
from werkzeug.middleware.proxy_fix import ProxyFix

from bus.http import ops_blueprint
from bus.http_client import ServiceClient
from bus.input_checks import install_input_checks
from bus.part import Part
from gateway.entrypoints import api_docs, api_examples, oidc, oidc_server
from gateway.entrypoints.errors import install_error_handlers
from gateway.entrypoints.guards import install_guards
from gateway.entrypoints.openapi_errors import PROBLEM_JSON, ErrorDocumentation
from gateway.entrypoints.schemas import ProblemSchema

if TYPE_CHECKING:
    from gateway.bootstrap import GatewayPart


class PorticoApi(Api):
    """flask-smorest's Api, documenting errors as problem+json, each operation with its own statuses."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = (
        None  # no catch-all: openapi_errors lists what each operation answers
    )

    def _register_responses(self) -> None:
        """flask-smorest's shared error responses (UNPROCESSABLE_ENTITY, ...), as application/problem+json."""
        content_type, self.DEFAULT_RESPONSE_CONTENT_TYPE = (
            self.DEFAULT_RESPONSE_CONTENT_TYPE,
            PROBLEM_JSON,
        )
        try:
            super()._register_responses()  # type: ignore[misc]
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = content_type


def create_app(part: GatewayPart) -> Flask:
    """The gateway's app on a part its bootstrap built (its clients, its shared `gateway`)."""
    config = part.config
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Portico client-portal API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": api_docs.SECURITY_SCHEMES},
            "security": api_docs.SESSION_SECURITY,
            "info": {
                "description": "The public API of the Portico client portal (docs/api.md in the repository). "
                "Errors are application/problem+json; lists are {items, page, per_page, total}. "
                "No text may hold U+0000 (NUL) or an unpaired surrogate, and no integer may "
                "exceed 64 bits: such input is refused with 422 naming the field. "
                "Authorize with a session token (POST /api/v1/session) or the operator token."
            },
        },
        SECRET_KEY=part.settings.secret_key,
        MAX_CONTENT_LENGTH=max(config.max_body_bytes, config.max_upload_bytes),
    )
    app.extensions["portico.part"] = part
    app.extensions["portico.gateway"] = part.gateway
    api = PorticoApi(
        app,
        spec_kwargs={
            "extra_plugins": [
                api_docs.AccessDocumentation(),
                api_examples.ExampleDocumentation(),
                ErrorDocumentation(),
            ]
        },
    )
    install_error_handlers(app)
    install_guards(app)
    install_input_checks(app)
    app.register_blueprint(ops_blueprint(lambda: readiness(part, part.clients)))
    app.register_blueprint(api_docs.blp)
    for blueprint in blueprints():
        api.register_blueprint(blueprint)
    oidc_server.install_provider(app, part, part.clients)  # the OpenID Connect provider
    app.register_blueprint(oidc.bp)
    from gateway import scim

    scim.register(app)  # the SCIM 2.0 server at /scim/v2 (gateway/scim)
    from gateway.web import register

    register(app)  # noqa: E702, I001 - the web pages (gateway/web)
    if config.proxy_count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.proxy_count, x_proto=config.proxy_count)  # type: ignore[method-assign]
    return app


def blueprints() -> list[Any]:
    from gateway.entrypoints import (
        account_services,
        accounts,
        content,
        imports,
        me,
        mfa,
        my_applications,
        my_services,
        oidc_clients,
        operator,
        requests,
        self_service,
        session,
        user_subscriptions,
        users,
    )
    from gateway.scim import token_api

    return [
        operator.blp,
        session.blp,
        self_service.blp,
        me.blp,
        my_services.blp,
        accounts.blp,
        users.blp,
        user_subscriptions.blp,
        account_services.blp,
        requests.blp,
        imports.blp,
        content.blp,
        oidc_clients.blp,
        mfa.session_blp,
        mfa.my_blp,
        mfa.account_blp,
        my_applications.blp,
        token_api.blp,
    ]


def readiness(part: Part, clients: dict[str, ServiceClient]) -> dict[str, str]:
    """The gateway is ready once its own database and broker, and every service, are."""
    report = part.readiness()
    for name, client in clients.items():
        try:
            response = client.http.get("/readyz")
            report[name] = (
                "ok" if response.status_code == 200 else f"not ready ({response.status_code})"
            )
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            report[name] = f"unavailable: {exc}"
    return report

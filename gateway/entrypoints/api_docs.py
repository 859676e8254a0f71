"""The API's documentation: security schemes and common errors in the OpenAPI document, and the
Swagger UI page at /api/v1/docs, served without sign-in from assets installed with a package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_swagger_ui
from apispec import APISpec, BasePlugin
from flask import Blueprint, Response, abort, render_template_string, send_file, url_for

from gateway.entrypoints.guards import COOKIE, CSRF_HEADER

SECURITY_SCHEMES = {
    "session": {
        "type": "http",
        "scheme": "bearer",
        "description": "The `token` answered by POST /api/v1/session.",
    },
    "cookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": f"Browsers: the session cookie set at sign-in; unsafe methods also need "
        f"{CSRF_HEADER} (the `csrf_token` answered at sign-in).",
    },
    "operator": {
        "type": "http",
        "scheme": "bearer",
        "description": "PORTICO_OPERATOR_TOKEN, for /api/v1/operator/... only.",
    },
}
SESSION_SECURITY = [{"session": []}, {"cookie": []}]
OPERATOR_SECURITY = [{"operator": []}]


def _problem(description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "example": {"type": "about:blank", **example},
            }
        },
    }


# The errors many operations share, each with an example of the body a client gets.
COMMON_ERRORS = {
    "ERROR_401": _problem(
        "No live session, or a wrong operator token.",
        {
            "title": "Unauthorized",
            "status": 401,
            "detail": "Sign in first (POST /api/v1/session), then send the token as Authorization: Bearer <token>.",
        },
    ),
    "ERROR_403": _problem(
        "Signed in, but without the right; `detail` says which and who to ask.",
        {
            "title": "Forbidden",
            "status": 403,
            "detail": "Only an administrator of your account can do this; GET /api/v1/administrators lists who to ask.",
        },
    ),
    "ERROR_404": _problem(
        "Nothing at this address within the caller's reach.",
        {
            "title": "Not Found",
            "status": 404,
            "detail": "There is no account with this id among those you administer.",
        },
    ),
    "ERROR_429": _problem(
        "Too many attempts; try again after Retry-After seconds.",
        {
            "title": "Too Many Requests",
            "status": 429,
            "detail": "Too many attempts; try again in 60 seconds.",
            "retry_after": 60,
        },
    ),
}
RATE_LIMITED = frozenset({("post", "/api/v1/session"), ("post", "/api/v1/password-resets")})
# Sign-out takes the session it ends, and signs out quietly without one.
SIGN_OUT = ("delete", "/api/v1/session")


class AccessDocumentation(BasePlugin):
    """Names each operation's security scheme and adds the errors its guards answer (401, 403, 404, 429).

    Public operations say `security: []` themselves; /api/v1/operator/... takes the operator token;
    every other operation a session.
    """

    def init_spec(self, spec: APISpec) -> None:
        for name, response in COMMON_ERRORS.items():
            spec.components.response(name, response)

    def operation_helper(
        self, path: str | None = None, operations: dict | None = None, **_: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            if path and path.startswith("/api/v1/operator/"):
                operation.setdefault("security", OPERATOR_SECURITY)
            if operation.get("security") != [] and (method, path) != SIGN_OUT:
                responses.setdefault("401", "ERROR_401")
            if path and path.startswith("/api/v1/accounts/{account_id}"):
                responses.setdefault("403", "ERROR_403")
            if path and "{" in path:
                responses.setdefault("404", "ERROR_404")
            if (method, path) in RATE_LIMITED:
                responses.setdefault("429", "ERROR_429")


# -- the page ---------------------------------------------------------------------------------------

SWAGGER_UI = Path(flask_swagger_ui.__file__).parent / "dist"
ASSETS = {
    "swagger-ui.css": SWAGGER_UI / "swagger-ui.css",
    "swagger-ui-bundle.js": SWAGGER_UI / "swagger-ui-bundle.js",
    "favicon-32x32.png": SWAGGER_UI / "favicon-32x32.png",
    "start.js": Path(__file__).parent.parent / "static" / "api-docs.js",
}
# The page loads its scripts and styles from this origin only and talks to it only; the
# starting script is a file, so neither inline scripts nor inline styles are allowed.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }}</title>
  <link rel="stylesheet" href="{{ url_for('api_docs.asset', name='swagger-ui.css') }}">
  <link rel="icon" type="image/png" href="{{ url_for('api_docs.asset', name='favicon-32x32.png') }}">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{{ spec_url }}"></div>
  <script src="{{ url_for('api_docs.asset', name='swagger-ui-bundle.js') }}"></script>
  <script src="{{ url_for('api_docs.asset', name='start.js') }}"></script>
</body>
</html>
"""

blp = Blueprint("api_docs", __name__, url_prefix="/api/v1/docs")


@blp.get("")
def page() -> str:
    return render_template_string(
        PAGE, title="Portico client-portal API", spec_url=url_for("api-docs.openapi_json")
    )


@blp.get("/assets/<name>")
def asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    response = send_file(ASSETS[name], max_age=3600)
    response.headers["Cache-Control"] = "public, max-age=3600"  # the same for every caller
    return response


@blp.after_request
def page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response

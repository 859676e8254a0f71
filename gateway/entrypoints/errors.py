"""Every error as application/problem+json (RFC 9457), with per-field `errors` on 422."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from bus import i18n
from bus.db import unavailable
from bus.http import (
    Problem,
    database_unavailable,
    install_database_unavailable,
    problem_response,
)
from bus.http_client import ServiceUnavailable
from bus.i18n import _l

log = logging.getLogger(__name__)

# The detail of an HTTP error raised by Flask or werkzeug, by status (its code is the status's,
# bus.http.STATUS_CODES); the fields are filled in when the answer is made.
DETAILS = {
    400: _l("The request could not be read."),
    404: _l("There is nothing at this address."),
    405: _l("This address does not accept the {method} method."),
    413: _l("The body is larger than this endpoint accepts ({limit} bytes at most)."),
    415: _l("Send the body as application/json."),
}


class TooManyRequests(Problem):
    """429 with Retry-After (seconds), also given in the body as `retry_after`."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(429, "Too Many Requests", detail, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow messages as {"field.sub": ["message", ...]}."""
    errors: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for name, value in messages.items():
            key = f"{prefix}{name}" if name != "_schema" or not prefix else prefix.rstrip(".")
            if isinstance(value, dict):
                errors.update(flatten(value, f"{key}."))
            else:
                errors.setdefault(key, []).extend(
                    value if isinstance(value, list) else [str(value)]
                )
    elif isinstance(messages, list):
        errors.setdefault(prefix.rstrip(".") or "_schema", []).extend(
            m if isinstance(m, str) else str(m) for m in messages
        )
    return errors


def _from_http(exc: HTTPException) -> Problem:
    code = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if code == 400 and messages and "json" in messages and isinstance(messages["json"], list):
        return Problem(
            400,
            "Bad Request",
            _l(
                "The body is not valid JSON; check its syntax and encoding.",
                code="request.invalid_json",
            ),
        )
    if code == 422 and messages:
        errors: dict[str, list[str]] = {}
        for found in messages.values():
            for field, texts in flatten(found).items():
                errors.setdefault(field, []).extend(texts)
        return Problem(
            422,
            "Unprocessable Content",
            _l(
                "Some fields are not valid ({fields}); see errors for what to change.",
                code="validation.failed",
                fields=", ".join(sorted(errors)),
            ),
            errors=errors,
        )
    if code not in DETAILS:
        return Problem(code, exc.name, exc.description or exc.name)
    detail = _l(DETAILS[code].msgid, limit=request.max_content_length or "?", method=request.method)
    return Problem(code, exc.name, detail)


def install_error_handlers(app: Flask) -> None:
    """Every error as problem+json, in the caller's language (the gateway's catalogs)."""
    i18n.install(app, Path(app.root_path).parent)
    install_database_unavailable(app)  # the gateway's own database: 503 with Retry-After

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        response = problem_response(exc)
        response.headers.update(getattr(exc, "headers", {}))
        return response

    @app.errorhandler(ServiceUnavailable)
    def _unavailable(exc: ServiceUnavailable) -> Response:
        log.warning("%s", exc)
        response = problem_response(
            Problem(
                503,
                "Service Unavailable",
                _l(
                    "The {service} service is not answering at the moment, so this request could"
                    " not be completed. Nothing was changed by the gateway; try again in a minute.",
                    code="service.unavailable",
                    service=exc.service,
                ),
                service=exc.service,
            )
        )
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        response = problem_response(_from_http(exc))
        data = getattr(exc, "data", None)
        response.headers.update((data.get("headers") if isinstance(data, dict) else None) or {})
        if (
            isinstance(exc, MethodNotAllowed) and exc.valid_methods
        ):  # RFC 9110 15.5.6: 405 says what is allowed
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if unavailable(exc):  # wrapped (the request path's Disconnected): 503, not 500
            return database_unavailable(exc)
        log.exception("unexpected error on %s %s", request.method, request.path)
        return problem_response(
            Problem(
                500,
                "Internal Server Error",
                _l(
                    "Something went wrong on our side; it has been logged. Try again later.",
                    code="server.error",
                ),
            )
        )

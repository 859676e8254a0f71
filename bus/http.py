"""HTTP plumbing every part shares: health, readiness, metrics, problem+json, service token."""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException


class Problem(Exception):
    """An error answered as application/problem+json (RFC 9457), written for a person."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: dict[str, list[str]] | None = None,
        type_: str = "about:blank",
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.type = type_
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def problem_response(problem: Problem) -> Response:
    response = jsonify(problem.to_dict())
    response.status_code = problem.status
    response.mimetype = "application/problem+json"
    return response


def install_problem_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return problem_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages") if isinstance(data, dict) else None
        errors = None
        if messages:
            errors = {}
            for location in messages.values():
                if isinstance(location, dict):
                    for name, value in location.items():
                        errors[name] = value if isinstance(value, list) else [str(value)]
        detail = exc.description or exc.name
        if errors:
            detail = "Some fields are not valid; see errors for what to change."
        return problem_response(Problem(exc.code or 500, exc.name, detail, errors=errors))


def ops_blueprint(readiness: Callable[[], dict[str, str]]) -> Blueprint:
    """/healthz, /readyz and /metrics."""
    bp = Blueprint("ops", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @bp.get("/readyz")
    def readyz() -> tuple[Response, int]:
        report = readiness()
        ready = all(value == "ok" for value in report.values())
        return jsonify(
            status="ready" if ready else "not ready", checks=report
        ), 200 if ready else 503

    @bp.get("/metrics")
    def metrics() -> Response:
        return Response(metrics_text(), mimetype=CONTENT_TYPE_LATEST)

    return bp


def metrics_text() -> bytes:
    """This process's metrics; under gunicorn, every worker process's, merged.

    `portico serve` points PROMETHEUS_MULTIPROC_DIR at a fresh folder before gunicorn starts,
    so whichever worker answers /metrics reports the whole server.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


def require_service_token(
    app: Flask, token: str, exempt: tuple[str, ...] = ("/healthz", "/readyz", "/metrics")
) -> None:
    """Internal APIs answer only callers that present PORTICO_SERVICE_TOKEN."""

    @app.before_request
    def _check() -> Response | None:
        if request.path in exempt:
            return None
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return problem_response(
                Problem(401, "Unauthorized", "This internal API needs the service token.")
            )
        return None


def current_part() -> Any:
    return current_app.extensions["portico.part"]

"""HTTP plumbing every part shares: health, readiness, metrics, problem+json, service token."""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from werkzeug.exceptions import HTTPException

from bus import i18n, tracing
from bus import metrics as bus_metrics
from bus.i18n import _l

log = logging.getLogger(__name__)

# The WSGI environ keys where a request's start (perf_counter) and its span are kept, set
# before any hook runs.
STARTED = "portico.started"
SPAN = "portico.span"


# The code of a problem raised without one of its own, by status.
STATUS_CODES = {
    400: "request.unreadable",
    401: "auth.required",
    403: "access.forbidden",
    404: "not_found",
    405: "request.method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "request.too_large",
    415: "request.media_type",
    422: "validation.failed",
    423: "locked",
    429: "rate_limited",
    500: "server.error",
    503: "service.unavailable",
}


class Problem(Exception):
    """An error answered as application/problem+json (RFC 9457), written for a person.

    `code` is the stable, machine-readable name of the refusal (docs/api.md, "Problems"): given
    here, else carried by `detail` (a `bus.i18n.Message`), else the one code all the `errors`
    messages share, else the status's (`STATUS_CODES`). `detail` and `errors` are translated
    into the request's language when the answer is written (`bus.i18n.localise`).
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: dict[str, list[str]] | None = None,
        type_: str = "about:blank",
        code: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.type = type_
        self.code = code or problem_code(status, detail, errors)
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": i18n.localise(self.detail),
        }
        if self.errors:
            body["errors"] = i18n.localise(self.errors)
        body.update(self.extra)
        return body


def problem_code(status: int, detail: Any, errors: dict[str, list[str]] | None = None) -> str:
    """The code of a problem given none: its detail's, its errors' shared one, its status's."""
    found = i18n.code_of(detail)
    if found:
        return found
    shared = {i18n.code_of(text) for texts in (errors or {}).values() for text in texts}
    if len(shared) == 1 and None not in shared:
        return str(shared.pop())
    return STATUS_CODES.get(status, f"http.{status}")


def problem_response(problem: Problem) -> Response:
    response = jsonify(problem.to_dict())
    response.status_code = problem.status
    response.mimetype = "application/problem+json"
    return response


def install_problem_handlers(app: Flask) -> None:
    """Problems and HTTP errors as problem+json, in the caller's language from the catalogs of
    the part whose `entrypoints` package made `app` (bus.i18n)."""
    i18n.install(app, Path(app.root_path).parent)
    install_database_unavailable(app)

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
        detail: str = exc.description or exc.name
        if errors:
            detail = _l(
                "Some fields are not valid; see errors for what to change.",
                code="validation.failed",
            )
        return problem_response(Problem(exc.code or 500, exc.name, detail, errors=errors))


def ops_blueprint(readiness: Callable[[], dict[str, str]]) -> Blueprint:
    """/healthz, /readyz and /metrics; registering it also counts and times every request of
    the app (`instrument`)."""
    bp = Blueprint("ops", __name__)
    bp.record_once(lambda state: instrument(state.app))  # type: ignore[arg-type]

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
        part = current_app.extensions.get("portico.part")
        body = metrics_text(part, readiness)
        # Set whole: Flask's mimetype= would add a second charset.
        return Response(body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    return bp


def instrument(app: Flask) -> None:
    """Count every request (`portico_http_requests_total`) and time it
    (`portico_http_request_seconds`) by the URL rule it matched — `/internal/activations/<token>`,
    never the path, which may hold a token — with `[unmatched]` for a path no rule knows.
    With tracing on, each request is a span of the caller's trace (bus.tracing)."""
    inner = app.wsgi_app

    def timed(environ: dict[str, Any], start_response: Any) -> Any:
        environ[STARTED] = time.perf_counter()
        if not tracing.enabled():
            return inner(environ, start_response)
        part = getattr(app.extensions.get("portico.part"), "name", None) or app.name
        with tracing.server_span(environ, part) as span:
            environ[SPAN] = span
            return inner(environ, start_response)

    app.wsgi_app = timed  # type: ignore[method-assign]

    @app.after_request
    def _record(response: Response) -> Response:
        part = current_app.extensions.get("portico.part")
        name = getattr(part, "name", None) or current_app.name
        rule = request.url_rule
        route = rule.rule if rule is not None else "[unmatched]"
        method = request.method
        bus_metrics.HTTP_REQUESTS.labels(name, route, method, str(response.status_code)).inc()
        tracing.name_server_span(request.environ.get(SPAN), method, route, response.status_code)
        started = request.environ.get(STARTED)
        if started is not None:
            bus_metrics.HTTP_SECONDS.labels(name, route, method).observe(
                time.perf_counter() - started
            )
        return response


def metrics_text(part: Any = None, readiness: Callable[[], dict[str, str]] | None = None) -> bytes:
    """This process's metrics, then what is read at scrape time: the part's gauges
    (`Part.gauges()`) and `portico_ready` from its readiness checks.

    Under gunicorn, the counters are every worker process's, merged: `portico serve` points
    PROMETHEUS_MULTIPROC_DIR at a fresh folder before gunicorn starts, so whichever worker
    answers /metrics reports the whole server.
    """
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(bus_metrics.ScrapeTime(REGISTRY.collect))
    sources: list[Callable[[], Any]] = []
    if part is not None and hasattr(part, "gauges"):
        sources.append(part.gauges)
    if readiness is not None:
        name = getattr(part, "name", "") or ""
        sources.append(lambda: [bus_metrics.readiness_gauge(name, readiness())])
    registry.register(bus_metrics.ScrapeTime(*sources, log=log))
    return generate_latest(registry)


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
                Problem(
                    401,
                    "Unauthorized",
                    _l("This internal API needs the service token.", code="auth.service_token"),
                )
            )
        return None


def current_part() -> Any:
    return current_app.extensions["portico.part"]


# --- the database refuses connections ---------------------------------------------------------

DATABASE_RETRY_AFTER = 5  # seconds: a restarted or briefly saturated PostgreSQL is back by then


def install_database_unavailable(app: Flask) -> None:
    """A part whose database refuses or drops connections, or whose pool has none free in time,
    answers 503 with Retry-After and a problem body, never a 500 (bus.db.unavailable_errors)."""
    from bus.db import unavailable_errors

    for error in unavailable_errors():
        app.register_error_handler(error, database_unavailable)


def database_unavailable(exc: BaseException) -> Response:
    log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
    response = problem_response(
        Problem(
            503,
            "Service Unavailable",
            _l(
                "The service cannot reach its database at the moment, so this request could not"
                " be completed. Try again in a few seconds.",
                code="service.database_unavailable",
            ),
        )
    )
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response

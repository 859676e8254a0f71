"""Maps the importer's errors to problem+json answers written for the person importing."""

from __future__ import annotations

from flask import Flask, Response, current_app
from werkzeug.exceptions import RequestEntityTooLarge

from bus.http import Problem, problem_response
from bus.i18n import _l, joined
from services.importer.domain import FileRejected
from services.importer.service_layer.views import JobNotFound


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(FileRejected)
    def _rejected(exc: FileRejected) -> Response:
        return problem_response(
            Problem(
                422,
                "The file cannot be imported",
                joined(exc.messages),
                errors={"file": exc.messages},
                code=exc.code,
            )
        )

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        megabytes = current_app.extensions["portico.part"].config.max_bytes / (1024 * 1024)
        return problem_response(
            Problem(
                413,
                "Content Too Large",
                _l(
                    "The file is larger than {megabytes} MB, the most that can be imported at"
                    " once. Split it into several files and import them one after the other.",
                    megabytes=format(megabytes, "g"),
                ),
                code="too_large",
            )
        )

    @app.errorhandler(JobNotFound)
    def _not_found(exc: JobNotFound) -> Response:
        return problem_response(Problem(404, "Not Found", exc.message, code="import.not_found"))

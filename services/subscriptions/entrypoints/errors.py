"""Maps the domain's and the service layer's errors to problem+json answers."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from bus.http import Problem, problem_response
from bus.i18n import code_of
from services.subscriptions.domain import errors as domain
from services.subscriptions.service_layer.errors import InvalidRequest, NotFound

# domain error → (status, title, the field a 422 is about)
_STATUS: dict[type[domain.SubscriptionDomainError], tuple[int, str, str | None]] = {
    domain.LevelTooLow: (403, "Password level too low", None),
    domain.AlreadySubscribed: (409, "Already subscribed", None),
    domain.InvalidTransition: (409, "Already decided", None),
    domain.LastAdministrator: (409, "Last administrator", None),
    domain.InvalidExpiry: (422, "Unprocessable Content", "expires_on"),
    domain.NeverAutomatic: (422, "Unprocessable Content", "auto_subscribe"),
    domain.InvalidFilter: (422, "Unprocessable Content", "query"),
    domain.InvalidPagination: (422, "Unprocessable Content", "per_page"),
}


def to_problem(exc: domain.SubscriptionDomainError) -> Problem:
    status, title, field = _STATUS.get(type(exc), (409, "Refused", None))
    extra: dict[str, Any] = {"code": exc.code}
    if isinstance(exc, domain.LevelTooLow):
        extra.update(required_level=exc.required_level, user_level=exc.user_level)
    if isinstance(exc, domain.NeverAutomatic):
        extra.update(service_ids=exc.service_ids)
    errors = {field: [exc.message]} if field else None
    return Problem(status, title, exc.message, errors=errors, **extra)


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(domain.SubscriptionDomainError)
    def _domain(exc: domain.SubscriptionDomainError) -> Response:
        return problem_response(to_problem(exc))

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        return problem_response(Problem(404, "Not Found", exc.message, code=code_of(exc.message)))

    @app.errorhandler(InvalidRequest)
    def _invalid(exc: InvalidRequest) -> Response:
        return problem_response(
            Problem(422, "Unprocessable Content", exc.message, errors=exc.errors)
        )

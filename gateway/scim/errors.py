"""SCIM errors (RFC 7644 3.12): `{"schemas": [Error], "status": "409", "scimType": ..., "detail"}`,
as application/scim+json. `ScimError` is what the SCIM routes raise; the services' problems
(identity, subscriptions) are translated here, so a directory always reads a SCIM error."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response
from pydantic import ValidationError
from scim2_models import Error, SCIMException
from werkzeug.exceptions import HTTPException

from bus.http import Problem
from bus.http_client import ServiceUnavailable

log = logging.getLogger(__name__)

SCIM_JSON = "application/scim+json"


class ScimError(Exception):
    """An answer of the SCIM API that is an error: HTTP status, SCIM keyword, words for a person."""

    def __init__(
        self,
        status: int,
        detail: str,
        scim_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return Error(status=self.status, scim_type=self.scim_type, detail=self.detail).model_dump()


def invalid_syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def invalid_path(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidPath")


def no_target(detail: str) -> ScimError:
    return ScimError(400, detail, "noTarget")


def mutability(detail: str) -> ScimError:
    return ScimError(400, detail, "mutability")


def uniqueness(detail: str) -> ScimError:
    return ScimError(409, detail, "uniqueness")


def too_many(detail: str) -> ScimError:
    return ScimError(400, detail, "tooMany")


def not_found(what: str = "resource") -> ScimError:
    """The one answer for a resource that does not exist and one of another account."""
    return ScimError(404, f"There is no {what} with this id in this account's directory.")


def precondition_failed() -> ScimError:
    return ScimError(
        412,
        "The resource changed since the version given in If-Match; read it again and retry.",
        "invalidVers",
    )


def from_validation(exc: ValidationError) -> ScimError:
    """A body scim2-models refused: the first error, with the keyword the library gives it."""
    errors = Error.from_validation_errors(exc)
    first = errors[0] if errors else Error(status=400, scim_type="invalidValue", detail=str(exc))
    return ScimError(int(first.status or 400), first.detail or str(exc), first.scim_type)


def from_scim_exception(exc: SCIMException) -> ScimError:
    """What scim2-models refused while applying a request (a path it cannot read, a PATCH's
    noTarget or mutability...), with the keyword it gives."""
    error = exc.to_error()
    return ScimError(int(error.status or 400), error.detail or str(exc), error.scim_type)


def from_problem(problem: Problem) -> ScimError:
    """A service's problem+json as a SCIM error: 409 of an address is `uniqueness`, 422 is
    `invalidValue` naming the fields, 404 stays 404 (no enumeration)."""
    status = problem.status
    detail = str(problem.detail or problem.title)
    errors = getattr(problem, "errors", None) or {}
    scim_type = (getattr(problem, "extra", None) or {}).get("scim_type")
    if scim_type or status in (401, 403):
        return ScimError(status, detail, scim_type)
    if errors:
        detail = "; ".join(
            f"{field}: {' '.join(map(str, texts if isinstance(texts, list) else [texts]))}"
            for field, texts in errors.items()
        )
    if status == 404:
        return ScimError(404, detail)
    if status == 409:
        taken = "email" in errors or "address" in detail.lower() or "e-mail" in detail.lower()
        return ScimError(409, detail, "uniqueness" if taken else None)
    if status == 412:
        return ScimError(412, detail, "invalidVers")
    if status in (400, 422):
        # the gateway's input checks refuse a body that is no JSON object before any route
        malformed = set(errors) == {"body"}
        return ScimError(400, detail, "invalidSyntax" if malformed else "invalidValue")
    if status == 429:
        return ScimError(429, detail, None, getattr(problem, "headers", {}))
    return ScimError(status, detail)


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A SCIM answer: JSON as application/scim+json."""
    response = Response(
        json.dumps(body, ensure_ascii=False) if body is not None else "",
        status=status,
        mimetype=SCIM_JSON,
    )
    response.headers.update(headers or {})
    return response


def error_response(exc: ScimError) -> Response:
    return scim_response(exc.body(), exc.status, exc.headers)


def as_scim_error(exc: Exception) -> ScimError:
    """Any failure of a SCIM route as the ScimError a directory reads."""
    if isinstance(exc, ScimError):
        return exc
    if isinstance(exc, ValidationError):
        return from_validation(exc)
    if isinstance(exc, SCIMException):
        return from_scim_exception(exc)
    if isinstance(exc, Problem):
        if exc.status == 413:
            return ScimError(413, exc.detail or "The body is too large.")
        return from_problem(exc)
    if isinstance(exc, ServiceUnavailable):
        log.warning("%s", exc)
        return ScimError(
            503,
            f"The {exc.service} service is not answering at the moment; nothing was changed "
            "by the gateway. Try again in a minute.",
            headers={"Retry-After": "30"},
        )
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        if code == 400:
            return invalid_syntax("The body could not be read as JSON.")
        if code == 413:
            return ScimError(413, "The body is larger than this endpoint accepts.")
        return ScimError(code, exc.description or exc.name)
    log.exception("unexpected error in the SCIM API")
    return ScimError(500, "Something went wrong on our side; it has been logged. Try again later.")

"""Errors of the service layer (the domain's own errors live in domain/errors.py).

Their messages are marked with `bus.i18n._l` (answered in the caller's language); a problem's
`code` is the message's (bus.http.problem_code).
"""

from __future__ import annotations


class NotFound(Exception):
    """Unknown, or not within the account or user named in the request: answered 404."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(Exception):
    """Input that cannot be acted on, field by field: answered 422, nothing changed."""

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors

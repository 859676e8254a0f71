"""Refusals of the identity service; the entrypoints turn them into problem+json answers."""

from __future__ import annotations


class IdentityError(Exception):
    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class NotFound(IdentityError):
    status = 404
    title = "Not Found"


class Conflict(IdentityError):
    status = 409
    title = "Conflict"


class Gone(IdentityError):
    status = 410
    title = "Gone"


class Invalid(IdentityError):
    status = 422
    title = "Unprocessable Entity"

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None) -> None:
        super().__init__(
            detail or "Some fields are not valid; see errors for what to change.", errors=errors
        )


class Locked(IdentityError):
    status = 423
    title = "Locked"


USER_EXISTS = "The user already exists"

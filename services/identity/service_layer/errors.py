"""Refusals of the identity service; the entrypoints turn them into problem+json answers.

A refusal's detail and field messages are marked with `bus.i18n._l` (English msgid, a stable
`code`), so the answer comes in the caller's language; `code` is the detail's unless given.
"""

from __future__ import annotations

from bus.i18n import _l, code_of


class IdentityError(Exception):
    status = 400
    title = "Bad Request"

    def __init__(
        self, detail: str, *, errors: dict[str, list[str]] | None = None, code: str | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.code = code or code_of(detail)


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

    def __init__(
        self, errors: dict[str, list[str]], detail: str | None = None, *, code: str | None = None
    ) -> None:
        super().__init__(
            # No code of its own: the problem takes the one its fields' messages share, else
            # validation.failed (bus.http.problem_code).
            detail or _l("Some fields are not valid; see errors for what to change."),
            errors=errors,
            code=code or code_of(detail),
        )


class Locked(IdentityError):
    status = 423
    title = "Locked"


USER_EXISTS = _l("The user already exists", code="user.email_taken")

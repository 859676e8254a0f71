"""Every status code an operation can answer, in the OpenAPI document, as application/problem+json.

The document has no catch-all `default` answer: each operation lists what it answers. The guards'
answers (401, 403, 404, 429) come from api_docs; this plugin adds what the body and query checks
answer (400, 413, 415, 422), a service not answering (503) and each operation's own refusals
(409 taken, 410 used link, 423 locked, ...), as docs/api.md states them.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec, BasePlugin

from gateway.entrypoints.guards import PATH_VALUE_PATTERN

PROBLEM_JSON = "application/problem+json"
PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}

# status -> when (the description of the shared response)
SHARED = {
    400: "The body is not valid JSON.",
    401: "The e-mail address or the password is not right (one answer for both).",
    404: "Nothing at this address, or an id in the body names nothing within the caller's reach.",
    403: "Signed in, but without the right; `detail` says which and who to ask.",
    409: "The request conflicts with the current state; `detail` says what to do.",
    410: "The link was used, replaced by a newer one, or has expired; `detail` says what to do.",
    413: "The body is larger than this endpoint accepts.",
    415: "The body is not of the type this endpoint reads.",
    422: "Some fields or parameters are not valid; `errors` names each and says what to change.",
    423: "The account is locked; `detail` says how to unlock it.",
    429: "Too many attempts; try again after Retry-After seconds.",
    503: "A service behind the gateway is not answering; nothing was changed. Try again later.",
}

# (method, path) -> the operation's own refusals, beyond the checks every operation shares
OWN = {
    ("post", "/api/v1/operator/accounts"): (404, 409),
    ("post", "/api/v1/operator/accounts/{number}/administrators"): (409,),
    ("post", "/api/v1/session"): (401, 423),
    ("delete", "/api/v1/session"): (403,),
    ("get", "/api/v1/activations/{token}"): (409, 410),
    ("post", "/api/v1/activations/{token}"): (409, 410),
    ("post", "/api/v1/password-resets/{token}"): (410,),
    ("post", "/api/v1/email-changes/{token}"): (409, 410),
    ("patch", "/api/v1/me"): (409,),
    ("post", "/api/v1/me/email-change"): (409, 429),
    ("post", "/api/v1/me/subscriptions"): (403, 404, 409),
    ("delete", "/api/v1/me/subscriptions/{subscription_id}"): (409,),
    ("post", "/api/v1/accounts/{account_id}/users"): (409, 429),
    ("patch", "/api/v1/accounts/{account_id}/users/{user_id}"): (409, 429),
    ("delete", "/api/v1/accounts/{account_id}/users/{user_id}"): (409,),
    ("post", "/api/v1/accounts/{account_id}/users/{user_id}/unlock"): (409,),
    ("post", "/api/v1/accounts/{account_id}/users/{user_id}/subscriptions"): (409,),
    ("delete", "/api/v1/accounts/{account_id}/users/{user_id}/subscriptions/{subscription_id}"): (
        409,
    ),
    ("post", "/api/v1/accounts/{account_id}/subscription-requests/{request_id}/accept"): (409,),
    ("post", "/api/v1/accounts/{account_id}/subscription-requests/{request_id}/refuse"): (409,),
    ("post", "/api/v1/session/mfa"): (401, 410, 423, 429),
    ("post", "/api/v1/session/passkey/options"): (401, 410),
    ("post", "/api/v1/session/passkey"): (401, 410, 423, 429),
    ("post", "/api/v1/me/mfa/totp"): (409,),
    ("post", "/api/v1/me/mfa/totp/confirm"): (409,),
    ("delete", "/api/v1/me/mfa/totp"): (404, 409),
    ("post", "/api/v1/me/mfa/recovery-codes"): (409,),
    ("post", "/api/v1/me/mfa/passkeys"): (409, 410),
    ("delete", "/api/v1/me/mfa/passkeys/{passkey_id}"): (409,),
    ("get", "/api/v1/invoices"): (403,),
    ("get", "/api/v1/products-and-contracts"): (403,),
    ("get", "/api/v1/planning"): (403,),
    ("get", "/api/v1/intervention-reports"): (403,),
}
SIGN_OUT = ("delete", "/api/v1/session")
SERVED_LOCALLY = frozenset({SIGN_OUT, ("get", "/api/v1/accounts")})


class ErrorDocumentation(BasePlugin):
    """Adds to each operation the statuses its checks and its services answer (see module docstring)."""

    def init_spec(self, spec: APISpec) -> None:
        for status, description in SHARED.items():
            spec.components.response(
                f"PROBLEM_{status}",
                {"description": description, "content": {PROBLEM_JSON: PROBLEM}},
            )

    def schema_helper(self, name: str, definition: dict, **kwargs: Any) -> dict | None:
        """A schema's rules that its fields cannot say (`OPENAPI_EXTRA`: minProperties, anyOf)."""
        schema = kwargs.get("schema")
        extra = getattr(schema, "OPENAPI_EXTRA", None)
        return {**definition, **extra} if extra else None

    def path_helper(self, parameters: list | None = None, **_: Any) -> None:
        """Path values are ids, client numbers or link tokens: anything else is 404 at once."""
        for parameter in parameters or []:
            if isinstance(parameter, dict) and parameter.get("in") == "path":
                parameter.setdefault("schema", {}).update(
                    pattern=PATH_VALUE_PATTERN, minLength=1, maxLength=200
                )

    def operation_helper(
        self, path: str | None = None, operations: dict | None = None, **_: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            if (method, path) == SIGN_OUT:  # needs no credentials: it ends the session sent, if any
                operation["security"] = []
            statuses: set[int] = set(OWN.get((method, path or ""), ()))
            if "requestBody" in operation or method in ("post", "put", "patch"):
                statuses.update((400, 413, 415, 422))
            if operation.get("parameters"):  # query parameters (path values are 404 when malformed)
                statuses.add(422)
            if (method, path) not in SERVED_LOCALLY:
                statuses.add(503)
            for status in sorted(statuses):
                responses.setdefault(str(status), f"PROBLEM_{status}")

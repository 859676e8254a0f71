"""/scim/v2/Bulk (RFC 7644 3.7): up to MAX_OPERATIONS operations on Users and Groups in one
request, `bulkId` references, `failOnErrors`.

A request over its limits (operations, payload) is refused whole before anything is written.
Operations are carried out in order. A run of user creations goes to identity as one batch
(`POST /internal/accounts/{id}/scim/users/batch`): one transaction, multi-row inserts, and batch
events (identity.users.created, identity.links.issued), never an event per user. Other
operations go one by one through the same functions as /Users; those on /Groups through
gateway/scim/groups.py's `bulk_operation`. After `failOnErrors` errors, the rest is not done.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

from flask import request
from pydantic import ValidationError

from bus.http_client import segment as q
from gateway.scim import PREFIX, bp, json_body, remember, scim_caller, service_call
from gateway.scim import users as scim_users
from gateway.scim.discovery import MAX_OPERATIONS, ScimUser, max_payload_bytes
from gateway.scim.errors import ScimError, as_scim_error, invalid_syntax, scim_response

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
METHODS = ("POST", "PUT", "PATCH", "DELETE")
_REFERENCE = re.compile(r"^bulkId:(.+)$")
_PATH = re.compile(r"^/(Users|Groups)(?:/([^/]+))?$")


@dataclass
class Run:
    """A Bulk request being carried out: the answers so far, errors, created ids by bulkId."""

    fail_on_errors: int | None
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0
    created: dict[str, str] = field(default_factory=dict)  # bulkId -> resource id

    @property
    def stopped(self) -> bool:
        return self.fail_on_errors is not None and self.errors >= self.fail_on_errors

    def failed(self, operation: dict[str, Any], error: ScimError) -> None:
        self.errors += 1
        self.results.append(_result(operation, error.status, response=error.body(), location=None))

    def done(
        self,
        operation: dict[str, Any],
        status: int,
        resource: dict[str, Any] | None,
        kind: str,
    ) -> None:
        location = version = None
        if resource is not None and resource.get("id"):
            location = f"{request.url_root.rstrip('/')}{PREFIX}/{kind}/{resource['id']}"
            version = resource.get("version") or (resource.get("meta") or {}).get("version")
            if operation.get("bulkId") and str(operation.get("method", "")).upper() == "POST":
                self.created[str(operation["bulkId"])] = str(resource["id"])
        self.results.append(_result(operation, status, location=location, version=version))


def _result(
    operation: dict[str, Any],
    status: int,
    *,
    response: dict[str, Any] | None = None,
    location: str | None = None,
    version: Any = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {"method": operation.get("method"), "status": str(status)}
    if operation.get("bulkId") is not None:
        result["bulkId"] = operation["bulkId"]
    if location:
        result["location"] = location
    if version is not None:
        result["version"] = version if str(version).startswith("W/") else scim_users.etag(version)
    if response is not None:
        result["response"] = response
    return result


def read_request() -> tuple[list[dict[str, Any]], int | None]:
    """The operations and failOnErrors of the request; the whole request refused (nothing
    written) when it is over its limits or not a BulkRequest."""
    if (request.content_length or 0) > max_payload_bytes():
        raise ScimError(
            413, f"A Bulk request holds at most {max_payload_bytes()} bytes (maxPayloadSize)."
        )
    body = json_body()
    if BULK_REQUEST not in (body.get("schemas") or []):
        raise invalid_syntax(f"A Bulk request's schemas name {BULK_REQUEST}.")
    operations = body.get("Operations")
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise invalid_syntax("Operations is a list of operations.")
    if len(operations) > MAX_OPERATIONS:
        raise ScimError(
            413,
            f"A Bulk request holds at most {MAX_OPERATIONS} operations (maxOperations); "
            f"this one has {len(operations)}. Split it.",
            "tooMany",
        )
    fail_on_errors = body.get("failOnErrors")
    if fail_on_errors is not None and (
        not isinstance(fail_on_errors, int)
        or isinstance(fail_on_errors, bool)
        or fail_on_errors < 1
    ):
        raise ScimError(400, "failOnErrors is a whole number of at least 1.", "invalidValue")
    return operations, fail_on_errors


@bp.post("/Bulk")
def bulk() -> Any:
    operations, fail_on_errors = read_request()
    run = Run(fail_on_errors)
    index = 0
    while index < len(operations) and not run.stopped:
        if _is_user_creation(operations[index]):
            end = index
            while end < len(operations) and _is_user_creation(operations[end]):
                end += 1
            create_users(run, operations[index:end])
            index = end
        else:
            carry_out(run, operations[index])
            index += 1
    return scim_response({"schemas": [BULK_RESPONSE], "Operations": run.results})


def _is_user_creation(operation: dict[str, Any]) -> bool:
    return (
        str(operation.get("method", "")).upper() == "POST"
        and operation.get("path") == "/Users"
        and isinstance(operation.get("data"), dict)
        and not _references(operation["data"])
    )


def _references(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_REFERENCE.match(value))
    if isinstance(value, dict):
        return any(_references(v) for v in value.values())
    if isinstance(value, list):
        return any(_references(v) for v in value)
    return False


def _resolve(run: Run, value: Any) -> Any:
    """`value` with every "bulkId:x" replaced by the id created by operation x."""
    if isinstance(value, str):
        found = _REFERENCE.match(value)
        if not found:
            return value
        if found.group(1) not in run.created:
            raise ScimError(
                409,
                f"bulkId {found.group(1)!r} names no resource created earlier in this request.",
                "invalidValue",
            )
        return run.created[found.group(1)]
    if isinstance(value, dict):
        return {k: _resolve(run, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(run, v) for v in value]
    return value


# -- a run of user creations: one identity batch ---------------------------------------------


def create_users(run: Run, operations: list[dict[str, Any]]) -> None:
    """Map each creation (refusing those scim2-models or the mapping refuse), then send the
    mapped ones to identity in batches between the refusals, keeping failOnErrors' order."""
    pending: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for operation in operations:
        if run.stopped:
            return
        try:
            if not operation.get("bulkId"):
                raise ScimError(400, "A POST operation needs a bulkId.", "invalidValue")
            # Checked as a User without the creation context's pass over every attribute's
            # mutability (half of the 1.3 ms scim2-models takes a user): what it would drop
            # (id, meta, groups) is not read by the mapping, and what it would require
            # (userName) the mapping requires too.
            resource = ScimUser.model_validate(operation["data"])
            pending.append((operation, scim_users.to_portal(resource)))
        except (ScimError, ValidationError) as exc:
            _send(run, pending)
            pending = []
            if not run.stopped:
                run.failed(operation, as_scim_error(exc))
    _send(run, pending)


def _send(run: Run, pending: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    if not pending or run.stopped:
        return
    allowed = None if run.fail_on_errors is None else run.fail_on_errors - run.errors
    token = scim_caller()
    send = "true" if token.send_activation else "false"
    answer = service_call("identity").post(
        f"/internal/accounts/{q(token.account_id)}/scim/users/batch?send_activation={send}",
        json={"users": [fields for _, fields in pending], "errors_allowed": allowed},
    )
    remember(answer.get("event_ids") or [], "identity.users.created")
    for result in answer["results"]:
        operation = pending[result["index"]][0]
        if result["status"] == 201:
            run.done(operation, 201, result["user"], "Users")
        else:
            run.failed(
                operation, ScimError(result["status"], result["detail"], result.get("scim_type"))
            )


# -- one operation ---------------------------------------------------------------------------


def carry_out(run: Run, operation: dict[str, Any]) -> None:
    try:
        status, resource, kind = _carry_out(run, operation)
    except Exception as exc:  # noqa: BLE001 - every failure is this operation's answer
        run.failed(operation, as_scim_error(exc))
        return
    run.done(operation, status, resource, kind)


def _carry_out(run: Run, operation: dict[str, Any]) -> tuple[int, dict[str, Any] | None, str]:
    method = str(operation.get("method", "")).upper()
    if method not in METHODS:
        raise ScimError(
            400, f"An operation's method is one of {', '.join(METHODS)}.", "invalidValue"
        )
    path = operation.get("path")
    found = _PATH.match(path) if isinstance(path, str) else None
    if found is None:
        raise ScimError(
            400, "An operation's path is /Users, /Groups or one of theirs.", "invalidPath"
        )
    kind, resource_id = found.group(1), found.group(2)
    if resource_id is not None:
        resource_id = _resolve(run, resource_id)  # /Users/bulkId:x
    if (method == "POST") != (resource_id is None):
        raise ScimError(
            400,
            "POST goes to /Users or /Groups; PUT, PATCH and DELETE to one resource.",
            "invalidPath",
        )
    if method == "POST" and not operation.get("bulkId"):
        raise ScimError(400, "A POST operation needs a bulkId.", "invalidValue")
    data = _resolve(run, operation.get("data"))
    if method != "DELETE" and not isinstance(data, dict):
        raise invalid_syntax("This operation's data is a JSON object.")
    version = operation.get("version")
    if kind == "Groups":
        status, resource, _ = groups_operation(method, resource_id, data)
        return status, resource, kind
    return _user_operation(method, resource_id, data, version)


def _user_operation(
    method: str, user_id: str | None, data: Any, version: str | None
) -> tuple[int, dict[str, Any] | None, str]:
    if method == "POST":
        return 201, scim_users.create(data), "Users"
    assert user_id is not None
    if method == "PUT":
        return 200, scim_users.replace(user_id, data, version), "Users"
    if method == "PATCH":
        return 200, scim_users.patch(user_id, data, version), "Users"
    scim_users.delete(user_id, version)
    return 204, None, "Users"


def groups_operation(
    method: str, group_id: str | None, data: Any
) -> tuple[int, dict[str, Any] | None, str | None]:
    """An operation on /Groups, carried out by gateway/scim/groups.py."""
    try:
        groups = importlib.import_module("gateway.scim.groups")
    except ModuleNotFoundError:
        groups = None
    handler = getattr(groups, "bulk_operation", None)
    if handler is None:
        raise ScimError(501, "Operations on /Groups are not available in Bulk yet.")
    return handler(method, group_id, data)

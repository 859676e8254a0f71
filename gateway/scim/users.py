"""/scim/v2/Users: the account's users as its directory sees them (RFC 7643 4.1, RFC 7644 3).

Mapping (docs/api.md, "SCIM"): userName = the e-mail (also emails[type work]); name.familyName,
givenName, honorificPrefix = last name, first name, title (M, MME, MLE); title = the function;
preferredLanguage = the language; phoneNumbers work / mobile = office / mobile phone; active =
not deactivated; the Portico extension's passwordLevel = weak / moderate / strong. Requests are
read with scim2-models, PATCH is applied by it to the user as read, and the result is written
as a whole (PUT) at the version read, so no concurrent write is lost. Identity filters, sorts
and pages in SQL; the gateway keeps no user data.
"""

from __future__ import annotations

import re
from typing import Any

from flask import request
from pydantic import ValidationError
from scim2_models import Context, PatchOp, Path, ResponseParameters, SCIMException

from bus.contracts.vocabulary import PASSWORD_LEVEL_NAMES
from bus.http import Problem
from bus.http_client import segment as q
from gateway.entrypoints.context import gw
from gateway.scim import PREFIX, bp, json_body, remember, scim_caller, service_call
from gateway.scim.discovery import (
    DEFAULT_COUNT,
    MAX_RESULTS,
    PORTICO_USER_SCHEMA,
    USER_SCHEMA,
    PorticoUser,
    ScimUser,
)
from gateway.scim.errors import (
    ScimError,
    from_scim_exception,
    from_validation,
    invalid_value,
    mutability,
    precondition_failed,
    scim_response,
)
from gateway.scim.sessions import end_sessions

LEVELS = {name: level for level, name in PASSWORD_LEVEL_NAMES.items()}
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
PATCH_ATTEMPTS = 3  # a PATCH without If-Match is applied again on a user changed meanwhile
_ETAG = re.compile(r'^(?:W/)?"(\d+)"$')


# -- mapping -----------------------------------------------------------------------------------


def location(user_id: str) -> str:
    return f"{request.url_root.rstrip('/')}{PREFIX}/Users/{user_id}"


def etag(version: int) -> str:
    return f'W/"{version}"'


def to_scim(user: dict[str, Any]) -> dict[str, Any]:
    """A Portico user (identity's SCIM view) as a SCIM User, every value it has."""
    display = f"{user['first_name']} {user['last_name']}".strip()
    name = {
        "familyName": user["last_name"],
        "givenName": user["first_name"],
        "honorificPrefix": user.get("title"),
    }
    phones = [
        {"value": user.get(column), "type": kind}
        for column, kind in (("office_phone", "work"), ("mobile_phone", "mobile"))
        if user.get(column)
    ]
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA, PORTICO_USER_SCHEMA],
        "id": user["id"],
        "externalId": user.get("external_id"),
        "userName": user.get("email"),
        "name": {key: value for key, value in name.items() if value},
        "displayName": display,
        "title": user.get("function"),
        "preferredLanguage": user.get("language"),
        "active": user.get("active", True),
        "emails": ([{"value": user["email"], "type": "work"}] if user.get("email") else None),
        "phoneNumbers": phones or None,
        PORTICO_USER_SCHEMA: {
            "passwordLevel": PASSWORD_LEVEL_NAMES.get(user.get("password_level") or 1, "weak")
        },
        "meta": {
            "resourceType": "User",
            "created": user.get("created_at"),
            "lastModified": user.get("updated_at"),
            "location": location(user["id"]),
            "version": etag(int(user.get("version") or 1)),
        },
    }
    return {key: value for key, value in body.items() if value is not None}


def read_request(body: dict[str, Any], context: Context) -> Any:
    """A User of a creation or replacement request, checked by scim2-models."""
    try:
        return ScimUser.model_validate(body, scim_ctx=context)
    except ValidationError as exc:
        raise from_validation(exc) from None


def _emails(resource: Any) -> list[str]:
    """The addresses of the user's work e-mails (a type-less one is taken as work)."""
    return [
        str(email.value)
        for email in resource.emails or []
        if email.value and str(email.type or "work") == "work"
    ]


def _email(resource: Any, current: dict[str, Any] | None) -> str:
    """userName is the e-mail, and emails[type eq "work"] says it too: a Portico user has one
    address. On a change, the one that changed wins (a new value of userName, or a new work
    e-mail added or replaced); two different new addresses are refused."""
    user_name = str(resource.user_name or "").strip()
    if not user_name:
        raise invalid_value("userName (the user's e-mail address) is required.")
    old = ((current or {}).get("email") or "").lower()
    name_changed = current is None or user_name.lower() != old
    new_emails = {e.lower(): e for e in _emails(resource) if e.lower() != old}
    if name_changed:
        new_emails.pop(user_name.lower(), None)
        if new_emails:
            raise invalid_value(
                'userName is the user\'s e-mail address: emails[type eq "work"].value, '
                "when given, must be the same address."
            )
        return user_name
    if len(new_emails) > 1:
        raise invalid_value("A user of the portal has one e-mail address; send one work e-mail.")
    return next(iter(new_emails.values()), user_name)


def _phones(resource: Any) -> dict[str, str | None]:
    phones: dict[str, str | None] = {"office_phone": None, "mobile_phone": None}
    for phone in resource.phone_numbers or []:
        kind = str(phone.type or "work")
        column = {"work": "office_phone", "mobile": "mobile_phone"}.get(kind)
        if column is None:
            raise invalid_value(
                f"A phone number's type is work or mobile in this portal, not {kind!r}."
            )
        phones[column] = phone.value
    return phones


def _level(resource: Any) -> int | None:
    extension = resource[PorticoUser]
    text = getattr(extension, "password_level", None) if extension is not None else None
    if text is None:
        return None
    level = LEVELS.get(str(text).lower())
    if level is None:
        raise invalid_value(f"passwordLevel is one of {', '.join(LEVELS)}, not {text!r}.")
    return level


def to_portal(resource: Any, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Portico fields a SCIM User stands for (identity checks each value)."""
    name = resource.name
    fields: dict[str, Any] = {
        "email": _email(resource, current),
        "title": getattr(name, "honorific_prefix", None),
        "last_name": getattr(name, "family_name", None),
        "first_name": getattr(name, "given_name", None),
        "function": resource.title,
        "external_id": resource.external_id,
        "language": resource.preferred_language or (current or {}).get("language"),
        "password_level": _level(resource) or (current or {}).get("password_level"),
        "active": resource.active is not False,
        **_phones(resource),
    }
    return fields


# -- identity ----------------------------------------------------------------------------------


def users_path(user_id: str | None = None) -> str:
    path = f"/internal/accounts/{q(scim_caller().account_id)}/scim/users"
    return f"{path}/{q(user_id)}" if user_id else path


def write_params(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    params = {"send_activation": "true" if scim_caller().send_activation else "false"}
    params.update(extra or {})
    return params


def read_user(user_id: str) -> dict[str, Any]:
    return service_call("identity").get(users_path(user_id))


def create(body: dict[str, Any]) -> dict[str, Any]:
    """Create a user from a SCIM body; identity's view of it."""
    resource = read_request(body, Context.RESOURCE_CREATION_REQUEST)
    fields = to_portal(resource)
    client = service_call("identity")
    user = client.post(
        f"{users_path()}?send_activation={write_params()['send_activation']}", json=fields
    )
    remember([user.pop("event_id", None)], "identity.user.created")
    return user


def replace(user_id: str, body: dict[str, Any], if_match: str | None) -> dict[str, Any]:
    """Replace the user with a SCIM body, at the version If-Match names (if any)."""
    resource = read_request(body, Context.RESOURCE_REPLACEMENT_REQUEST)
    current = read_user(user_id)
    version = wanted_version(if_match, current)
    return put(user_id, to_portal(resource, current), version)


def put(user_id: str, fields: dict[str, Any], version: int | None) -> dict[str, Any]:
    params = write_params({"if_version": version} if version is not None else None)
    query = "&".join(f"{key}={value}" for key, value in params.items())
    user = service_call("identity").put(f"{users_path(user_id)}?{query}", json=fields)
    remember([user.pop("event_id", None)], "identity.user.updated")
    if user.get("active") is False:
        end_sessions(gw().part, user_id)
    return user


def patch(user_id: str, body: dict[str, Any], if_match: str | None) -> dict[str, Any]:
    """Apply a PatchOp to the user as read and write the result at that version."""
    try:
        operations = PatchOp[ScimUser].model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
    except ValidationError as exc:
        raise from_validation(exc) from None
    for attempt in range(1, PATCH_ATTEMPTS + 1):
        current = read_user(user_id)
        version = wanted_version(if_match, current)
        resource = ScimUser.model_validate(
            to_scim(current), scim_ctx=Context.RESOURCE_QUERY_RESPONSE
        )
        kept = _required_values(resource)
        try:
            changed = operations.patch(resource)
        except ValidationError as exc:
            raise from_validation(exc) from None
        except SCIMException as exc:  # noTarget, mutability, invalidValue, ...
            raise from_scim_exception(exc) from None
        if not changed:
            return current
        _refuse_unassigned(kept, _required_values(resource))
        try:
            return put(user_id, to_portal(resource, current), int(current["version"]))
        except Problem as exc:  # changed meanwhile: applied again to what it is now
            if exc.status != 412 or version is not None or attempt == PATCH_ATTEMPTS:
                raise
    raise AssertionError("not reached")


def _extension_value(resource: Any, field: str) -> Any:
    extension = resource[PorticoUser]
    return getattr(extension, field, None) if extension is not None else None


# The attributes the published schema says are required (discovery.REQUIRED, and the
# extension's passwordLevel): a Portico user always has them, so a PATCH cannot remove them.
REQUIRED_VALUES: dict[str, Any] = {
    "userName": lambda user: user.user_name,
    "name.familyName": lambda user: getattr(user.name, "family_name", None),
    "name.givenName": lambda user: getattr(user.name, "given_name", None),
    "preferredLanguage": lambda user: user.preferred_language,
    "active": lambda user: user.active,
    "emails": lambda user: user.emails,
    f"{PORTICO_USER_SCHEMA}:passwordLevel": lambda user: _extension_value(user, "password_level"),
}


def _required_values(resource: Any) -> dict[str, Any]:
    return {name: value_of(resource) for name, value_of in REQUIRED_VALUES.items()}


def _refuse_unassigned(before: dict[str, Any], after: dict[str, Any]) -> None:
    """RFC 7644 3.5.2.2: a required attribute that a PATCH removes or leaves without a value is
    refused with 400 mutability, and nothing is written."""
    for name, value in before.items():
        if value not in (None, "", []) and after.get(name) in (None, "", []):
            raise mutability(
                f"{name} cannot be removed: every user of the portal has one "
                "(the schema publishes it as required); replace it with another value instead."
            )


def wanted_version(if_match: str | None, current: dict[str, Any]) -> int | None:
    """The version If-Match names (None without one, or for *); 412 when it is not the user's."""
    if not if_match or if_match.strip() == "*":
        return None
    versions = {int(m.group(1)) for tag in if_match.split(",") if (m := _ETAG.match(tag.strip()))}
    if int(current["version"]) not in versions:
        raise precondition_failed()
    return int(current["version"])


# -- answers -----------------------------------------------------------------------------------


def response_parameters(values: dict[str, Any] | None = None) -> ResponseParameters | None:
    """attributes / excludedAttributes of the query (or of a search request's body)."""
    given = request.args if values is None else values
    attributes = _listed_names(given.get("attributes"))
    excluded = _listed_names(given.get("excludedAttributes"))
    if not attributes and not excluded:
        return None
    try:
        return ResponseParameters(
            attributes=[Path(name) for name in attributes] or None,
            excluded_attributes=[Path(name) for name in excluded] or None,
        )
    except ValidationError as exc:
        raise from_validation(exc) from None
    except SCIMException as exc:  # a name that is no attribute path (invalidPath)
        raise from_scim_exception(exc) from None


def _listed_names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(name).strip() for name in value if str(name).strip()]
    return _names(value if isinstance(value, str) else None)


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def shown(user: dict[str, Any], parameters: ResponseParameters | None = None) -> dict[str, Any]:
    """The SCIM User answered; `attributes` / `excludedAttributes` are applied by scim2-models
    (without them, the mapping's own output is the answer: a list of 1,000 users is not
    validated again, tests/service/gateway/scim check it against the model)."""
    if parameters is None:
        return to_scim(user)
    resource = ScimUser.model_validate(to_scim(user), scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return resource.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters
    )


def answer(user: dict[str, Any], status: int = 200) -> Any:
    headers = {"ETag": etag(int(user["version"]))}
    if status == 201:
        headers["Location"] = location(user["id"])
    return scim_response(shown(user, response_parameters()), status, headers)


def whole_number(name: str, default: int, given: Any = None) -> int:
    raw = (request.args if given is None else given).get(name)
    if raw in (None, ""):
        return default
    if isinstance(raw, bool):
        raise invalid_value(f"{name} must be a whole number, not {raw!r}.")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise invalid_value(f"{name} must be a whole number, not {raw!r}.") from None


# -- routes ------------------------------------------------------------------------------------


@bp.get("/Users")
def list_users() -> Any:
    """The account's users: filter, sortBy/sortOrder, startIndex/count (capped at maxResults)."""
    return search(request.args)


@bp.post("/Users/.search")
def search_users() -> Any:
    """The same list, asked with a SearchRequest body (RFC 7644 3.4.3)."""
    body = json_body()
    if SEARCH_REQUEST not in (body.get("schemas") or []):
        raise ScimError(400, f"A search request's schemas name {SEARCH_REQUEST}.", "invalidSyntax")
    return search(body)


def search(given: Any) -> Any:
    start = max(whole_number("startIndex", 1, given), 1)
    count = min(max(whole_number("count", DEFAULT_COUNT, given), 0), MAX_RESULTS)
    order = str(given.get("sortOrder") or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise invalid_value("sortOrder is ascending or descending.")
    params = {
        "filter": given.get("filter") or "",
        "sort_by": given.get("sortBy") or "",
        "sort_order": order,
        "start_index": start,
        "count": count,
    }
    found = service_call("identity").get(
        users_path(), params={key: value for key, value in params.items() if value != ""}
    )
    parameters = response_parameters(None if given is request.args else given)
    resources = [shown(user, parameters) for user in found["items"]]
    return scim_response(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": found["total"],
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


@bp.post("/Users")
def create_user() -> Any:
    return answer(create(json_body()), 201)


@bp.get("/Users/<user_id>")
def get_user(user_id: str) -> Any:
    return answer(read_user(user_id))


@bp.put("/Users/<user_id>")
def replace_user(user_id: str) -> Any:
    return answer(replace(user_id, json_body(), request.headers.get("If-Match")))


@bp.patch("/Users/<user_id>")
def patch_user(user_id: str) -> Any:
    return answer(patch(user_id, json_body(), request.headers.get("If-Match")))


@bp.delete("/Users/<user_id>")
def delete_user(user_id: str) -> Any:
    delete(user_id, request.headers.get("If-Match"))
    return scim_response(None, 204)


def delete(user_id: str, if_match: str | None) -> None:
    version = wanted_version(if_match, read_user(user_id)) if if_match else None
    path = users_path(user_id) + (f"?if_version={version}" if version is not None else "")
    answer = service_call("identity").raw("DELETE", path)
    remember([answer.headers.get("X-Portico-Event-Id")], "identity.user.deleted")
    end_sessions(gw().part, user_id, holdings_too=True)

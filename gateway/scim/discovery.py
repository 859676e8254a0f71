"""What the SCIM server says of itself (RFC 7644 4): ServiceProviderConfig, ResourceTypes and
Schemas. It tells the truth: PATCH, Bulk (with its limits), filters (with maxResults), sort and
ETags are supported, password changes are not; the User schema lists only the attributes a
Portico user has (docs/api.md, "SCIM"), and Portico's own extension carries the password level.
"""

from __future__ import annotations

import copy
import functools
from typing import Annotated, Any

from flask import Blueprint, request
from scim2_models import (
    URI,
    Attribute,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    ETag,
    Extension,
    Filter,
    Group,
    Mutability,
    Patch,
    Reference,
    Required,
    ResourceType,
    Schema,
    SchemaExtension,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
    User,
)
from scim2_models.urn import URN

from bus.contracts.vocabulary import LANGUAGES, PASSWORD_LEVEL_NAMES, TITLES
from gateway.entrypoints.context import gw
from gateway.scim.errors import not_found, scim_response

MAX_OPERATIONS = 1000  # Bulk operations per request
MAX_PAYLOAD_BYTES = 1024 * 1024  # a Bulk request's body, at most (and PORTICO_MAX_BODY_BYTES)
MAX_RESULTS = 1000  # resources in one page of a list; a larger `count` is lowered to it
DEFAULT_COUNT = 100

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PORTICO_USER_SCHEMA = "urn:portico:params:scim:schemas:extension:portico:2.0:User"


class PorticoUser(Extension):
    """Portico's extension of a User: the password security level (weak, moderate, strong)."""

    __schema__ = URN(PORTICO_USER_SCHEMA)

    password_level: Annotated[str | None, Mutability.read_write, Required.false] = None
    """The password security level: weak, moderate or strong (default: weak)."""


ScimUser = User[PorticoUser]  # the model requests are read with and answers written with

# The attributes of the core User schema a Portico user has, with their sub-attributes.
USER_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "externalId": (),
    "userName": (),
    "name": ("familyName", "givenName", "honorificPrefix"),
    "displayName": (),
    "title": (),
    "preferredLanguage": (),
    "active": (),
    "emails": ("value", "type"),
    "phoneNumbers": ("value", "type"),
}
CANONICAL = {
    ("name", "honorificPrefix"): list(TITLES),
    ("preferredLanguage", None): list(LANGUAGES),
    ("emails", "type"): ["work"],
    ("phoneNumbers", "type"): ["work", "mobile"],
}
# What a Portico user always has: a last and a first name, a language (e-mails are written in
# it), a state (active or deactivated) and one e-mail address. A creation without a name is
# refused; one without the others gets their default (the account's language, active,
# userName as the work e-mail); a PATCH that removes one, or leaves it without a value, is refused with 400 mutability
# (RFC 7644 3.5.2.2), as a directory's remove cannot make it absent.
REQUIRED = {
    ("name", None),
    ("name", "familyName"),
    ("name", "givenName"),
    ("preferredLanguage", None),
    ("active", None),
    ("emails", None),
}
READ_ONLY = {("displayName", None)}
GROUP_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "displayName": (),
    "members": ("value", "$ref", "display", "type"),
}

bp = Blueprint("scim_discovery", __name__)


def _shaped(attribute: Attribute, parent: str | None = None) -> Attribute:
    name = attribute.name or ""
    key = (parent, name) if parent else (name, None)
    changes: dict[str, Any] = {}
    if key in CANONICAL:
        changes["canonical_values"] = CANONICAL[key]
    if key in READ_ONLY:
        changes["mutability"] = Mutability.read_only
    if key in REQUIRED:
        changes["required"] = Required.true
    if name == "userName":
        changes["uniqueness"] = Uniqueness.server
        changes["description"] = "The user's e-mail address: their login in the portal."
    return attribute.model_copy(update=changes)


def _trimmed(schema: Schema, keep: dict[str, tuple[str, ...]], description: str) -> Schema:
    attributes = []
    for attribute in schema.attributes or []:
        if attribute.name not in keep:
            continue
        subs = keep[attribute.name]
        shaped = _shaped(attribute)
        if attribute.sub_attributes:
            shaped = shaped.model_copy(
                update={
                    "sub_attributes": [
                        _shaped(sub, attribute.name)
                        for sub in attribute.sub_attributes
                        if sub.name in subs
                    ]
                }
            )
        attributes.append(shaped)
    return schema.model_copy(update={"attributes": attributes, "description": description})


def user_schema() -> Schema:
    return _trimmed(User.to_schema(), USER_ATTRIBUTES, "A user of the portal.")


def portico_user_schema() -> Schema:
    schema = PorticoUser.to_schema()
    attributes = [
        attribute.model_copy(
            update={
                "canonical_values": list(PASSWORD_LEVEL_NAMES.values()),
                "description": "The password security level: weak, moderate or strong "
                "(weak when a creation leaves it out). Every user has one: it cannot be removed.",
                "required": Required.true,
            }
        )
        for attribute in schema.attributes or []
    ]
    return schema.model_copy(
        update={
            "attributes": attributes,
            "name": "PorticoUser",
            "description": "What Portico keeps of a user besides the core schema.",
        }
    )


def group_schema() -> Schema:
    return _trimmed(
        Group.to_schema(), GROUP_ATTRIBUTES, "A service of the account's catalog; members hold it."
    )


def schemas() -> list[Schema]:
    return [user_schema(), portico_user_schema(), group_schema()]


def resource_types() -> list[ResourceType]:
    return [
        ResourceType(
            id="User",
            name="User",
            endpoint=Reference[URI]("/Users"),
            description="The users of the account",
            schema=Reference[URI](USER_SCHEMA),
            schema_extensions=[
                SchemaExtension(schema=Reference[URI](PORTICO_USER_SCHEMA), required=True)
            ],
        ),
        ResourceType(
            id="Group",
            name="Group",
            endpoint=Reference[URI]("/Groups"),
            description="The services of the account's catalog",
            schema=Reference[URI](GROUP_SCHEMA),
        ),
    ]


def max_payload_bytes() -> int:
    """The largest Bulk body taken: MAX_PAYLOAD_BYTES, or the gateway's body cap if smaller."""
    return min(MAX_PAYLOAD_BYTES, gw().config.max_body_bytes)


def service_provider_config() -> ServiceProviderConfig:
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(
            supported=True, max_operations=MAX_OPERATIONS, max_payload_size=max_payload_bytes()
        ),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="A SCIM token issued by an administrator of the account "
                "(POST /api/v1/accounts/{account_id}/scim-tokens), as Authorization: Bearer.",
                primary=True,
            )
        ],
    )


def _located(resource: Any, path: str) -> dict[str, Any]:
    body = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    body.setdefault("meta", {})["location"] = f"{request.url_root.rstrip('/')}/scim/v2{path}"
    return body


def _listed(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


@bp.get("/ServiceProviderConfig")
def get_service_provider_config():
    body = copy.deepcopy(_config_body(max_payload_bytes()))
    body.setdefault("meta", {})["location"] = (
        f"{request.url_root.rstrip('/')}/scim/v2/ServiceProviderConfig"
    )
    body["meta"]["resourceType"] = "ServiceProviderConfig"
    return scim_response(body)


@functools.lru_cache(maxsize=4)
def _config_body(max_payload: int) -> dict[str, Any]:
    """The configuration as answered, dumped once (it changes only with the body cap), not
    validated and dumped by scim2-models on each request."""
    return service_provider_config().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


@bp.get("/ResourceTypes")
def list_resource_types():
    return scim_response(
        _listed([_typed(r, f"/ResourceTypes/{r.id}", "ResourceType") for r in resource_types()])
    )


@bp.get("/ResourceTypes/<type_id>")
def get_resource_type(type_id: str):
    for resource_type in resource_types():
        if resource_type.id == type_id:
            return scim_response(_typed(resource_type, f"/ResourceTypes/{type_id}", "ResourceType"))
    raise not_found("resource type")


@bp.get("/Schemas")
def list_schemas():
    return scim_response(_listed([_typed(s, f"/Schemas/{s.id}", "Schema") for s in schemas()]))


@bp.get("/Schemas/<path:schema_id>")
def get_schema(schema_id: str):
    for schema in schemas():
        if schema.id == schema_id:
            return scim_response(_typed(schema, f"/Schemas/{schema_id}", "Schema"))
    raise not_found("schema")


def _typed(resource: Any, path: str, kind: str) -> dict[str, Any]:
    body = _located(resource, path)
    body["meta"]["resourceType"] = kind
    return body

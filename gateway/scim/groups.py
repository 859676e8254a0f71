"""SCIM Groups (RFC 7643 4.2, RFC 7644 3): the account's catalog services, served from
subscriptions' internal API; members are the users who hold the service.

A group is read, listed (filter, sort, startIndex/count, attributes), and its members changed
by PATCH (add, remove, replace; paths such as `members[value eq "…"]`, applied with
scim2-models to the members as they are, then sent as one change) or PUT (the whole list).
Adding a member grants the service without validation; removing one removes it; the account's
last administrator cannot leave its administration group (409). A group cannot be created,
renamed or deleted here: the account's catalog is the vendor's contracts (403 `mutability`
for a new name, 405 for POST and DELETE, with the reason). The catalog is tens of services,
so a filter is matched on it with scim2-models' evaluator; members are read by subscriptions
in one query. Who joined or left a group is then written to the account's audit trail
(identity, `group_member_added` / `group_member_removed`, source `scim:<token name>`).

`bulk_operation` is what /Bulk calls for an operation on /Groups.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import request
from flask.typing import ResponseReturnValue
from pydantic import ValidationError
from scim2_models import (
    Context,
    Group,
    GroupMember,
    ListResponse,
    Meta,
    PatchOp,
    ResponseParameters,
    SCIMException,
    SearchRequest,
)

from bus.http import Problem
from bus.http_client import ServiceUnavailable, segment
from gateway.entrypoints.context import gw
from gateway.scim import actor_headers, bp, json_body, scim_caller, service_call
from gateway.scim.discovery import DEFAULT_COUNT, MAX_RESULTS
from gateway.scim.errors import (
    ScimError,
    from_scim_exception,
    from_validation,
    invalid_value,
    not_found,
    precondition_failed,
    scim_response,
)
from gateway.service_layer import read_your_writes

log = logging.getLogger(__name__)


# -- reading ----------------------------------------------------------------------------------


def _base() -> str:
    return f"{request.url_root.rstrip('/')}/scim/v2"


def _groups_path() -> str:
    return f"/internal/accounts/{segment(scim_caller().account_id)}/groups"


def _version(members: list[dict[str, Any]]) -> str:
    """A weak ETag of the group's state: who its members are (the name is the catalog's)."""
    digest = hashlib.sha256(",".join(sorted(m["value"] for m in members)).encode()).hexdigest()
    return f'W/"{digest[:20]}"'


def _resource(item: dict[str, Any]) -> Group:
    """A group of subscriptions' answer as a SCIM Group; with its members when it has them."""
    members = item.get("members")
    base = _base()
    return Group(
        id=item["id"],
        display_name=item["display_name"],
        members=[
            GroupMember(value=m["value"], display=m["display"], type="User", ref=None)
            for m in members
        ]
        if members is not None
        else None,
        meta=Meta(
            resource_type="Group",
            location=f"{base}/Groups/{item['id']}",
            version=_version(members) if members is not None else None,
        ),
    )


def _member_refs(body: dict[str, Any]) -> dict[str, Any]:
    """$ref of each member (scim2-models keeps a reference as given: it is filled in here)."""
    for member in body.get("members") or []:
        member["$ref"] = f"{_base()}/Users/{member['value']}"
    return body


def read_groups(ids: list[str] | None = None, *, members: bool = True) -> list[dict[str, Any]]:
    """The account's groups (those of `ids` when given) as subscriptions answers them."""
    params: dict[str, Any] = {"members": "true" if members else "false"}
    if ids is not None:
        params["ids"] = ",".join(ids)
    return service_call("subscriptions").get(_groups_path(), params=params)["items"]


def read_group(group_id: str) -> dict[str, Any]:
    """One group with all its members, or the SCIM 404 (another account's group is unknown)."""
    found = read_groups([group_id]) if _plausible_id(group_id) else []
    if not found:
        raise not_found("group")
    return found[0]


def _plausible_id(value: str) -> bool:
    return 0 < len(value) <= 64 and "," not in value


def _dumped(
    group: Group, parameters: ResponseParameters[Any] | None, ctx: Context
) -> dict[str, Any]:
    body = group.model_dump(scim_ctx=ctx, response_parameters=parameters)
    return _member_refs(body)


def _parameters(model: Any, values: dict[str, Any]) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise from_validation(exc) from None


def _wants_members(parameters: ResponseParameters[Any]) -> bool:
    """Whether the answer shows members (read them only then: a group may have thousands)."""
    named = [str(path).lower() for path in parameters.attributes or []]
    excluded = [str(path).lower() for path in parameters.excluded_attributes or []]
    if named:
        return any(name.endswith("members") or ".members." in f".{name}." for name in named)
    return not any(name.endswith("members") for name in excluded)


@bp.get("/Groups/<group_id>", endpoint="get_group")
def get_group(group_id: str) -> ResponseReturnValue:
    parameters = _parameters(ResponseParameters[Group], request.args.to_dict())
    item = read_group(group_id)
    group = _resource(item)
    headers = {"ETag": group.meta.version} if group.meta and group.meta.version else {}
    if _if_none_match(group):
        return scim_response(None, 304, headers)
    return scim_response(_dumped(group, parameters, Context.RESOURCE_QUERY_RESPONSE), 200, headers)


def _if_none_match(group: Group) -> bool:
    wanted = request.headers.get("If-None-Match")
    return bool(wanted and group.meta and wanted in (group.meta.version, "*"))


@bp.get("/Groups", endpoint="list_groups")
def list_groups() -> ResponseReturnValue:
    return _search(request.args.to_dict())


@bp.post("/Groups/.search", endpoint="search_groups")
def search_groups() -> ResponseReturnValue:
    return _search(json_body())


def _search(values: dict[str, Any]) -> ResponseReturnValue:
    values = {k: v for k, v in values.items() if k != "schemas"}
    search = _parameters(SearchRequest[Group], values)
    count = min(search.count if search.count is not None else DEFAULT_COUNT, MAX_RESULTS)
    filter_text = str(search.filter or "")
    # the filter and the sort may name members: then every group is read with its members
    needs_members = "members" in filter_text.lower() or "members" in str(search.sort_by or "")
    groups = [_resource(item) for item in read_groups(members=needs_members)]
    if search.filter is not None:
        groups = [group for group in groups if search.filter.match(group)]
    groups = search.sort(groups)
    start = search.start_index_0 or 0
    page = groups[start : start + count]
    if page and not needs_members and _wants_members(search):
        with_members = {item["id"]: item for item in read_groups([g.id for g in page])}
        page = [_resource(with_members[g.id]) for g in page if g.id in with_members]
    answer = ListResponse[Group](
        total_results=len(groups),
        start_index=start + 1,
        items_per_page=len(page),
        resources=page,
    )
    body = answer.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=search)
    for resource in body.get("Resources", []):
        _member_refs(resource)
    return scim_response(body)


# -- changing ---------------------------------------------------------------------------------


def _check_version(group: Group, if_match: str | None) -> None:
    if if_match and if_match != "*" and group.meta and if_match != group.meta.version:
        raise precondition_failed()


def change_members(
    group: Group,
    *,
    add: set[str] | None = None,
    remove: set[str] | None = None,
    replace: list[str] | None = None,
) -> None:
    """One change of the group's members in subscriptions (a grant for each new member, a
    removal for each one leaving), all or nothing; a member that is no user of the account is
    400 `invalidValue`, the last administrator leaving is 409. Who joined and who left then goes
    to the account's audit trail in identity, the token's name as source."""
    group_id = group.id or ""
    change: dict[str, Any] = {
        "group_id": group_id,
        "add": sorted(add or ()),
        "remove": sorted(remove or ()),
    }
    if replace is not None:
        change["replace"] = replace
    await_directory_writes()
    try:
        done = service_call("subscriptions").post(
            f"{_groups_path()}/members", json={"changes": [change]}
        )
    except Problem as exc:
        raise _membership_error(exc, group_id) from None
    _audit(group, done.get("groups", []))


def _audit(group: Group, changed: list[dict[str, Any]]) -> None:
    """The change in the account's audit trail (identity). Subscriptions has made it already:
    a failure here is logged, not answered (the directory would send the change again)."""
    moves = [
        {"display_name": group.display_name, "joined": c["joined"], "left": c["left"]}
        for c in changed
        if c["joined"] or c["left"]
    ]
    if not moves:
        return
    path = f"/internal/accounts/{segment(scim_caller().account_id)}/scim/group-members"
    try:
        service_call("identity").post(path, json={"groups": moves})
    except (Problem, ServiceUnavailable):
        log.error("group %s changed but not audited: %s", group.id, moves, exc_info=True)


def await_directory_writes() -> None:
    """Read-your-writes for a directory: a user it has just created may still be on its way to
    subscriptions. Wait (bounded) until subscriptions applied the events remembered for this
    token (`X-Portico-Actor`, `scim:<token id>`), as the API's calls wait for a session's."""
    client = gw().clients.get("subscriptions")
    if client is None:
        return
    headers = actor_headers()
    read_your_writes.await_events(
        gw().part,
        headers["X-Portico-Actor"],
        "subscriptions",
        read_your_writes.applied_at(client, headers),
        gw().config.own_events_wait,
        gw().now(),
    )


def _membership_error(problem: Problem, group_id: str) -> ScimError:
    detail = problem.detail or problem.title
    if problem.status == 404 and "Not a user" in detail:
        return invalid_value(
            "Every member must be a user of this account (their SCIM id); "
            f"{detail.replace('Not a user of this account: ', 'unknown: ')}"
        )
    if problem.status == 404:
        return not_found("group")
    if problem.status == 403:  # the password level rule
        return ScimError(403, detail)
    if problem.status == 409:
        return ScimError(409, detail)
    if problem.status == 422:
        return invalid_value(detail)
    return ScimError(problem.status, detail)


def _member_ids(group: Group) -> list[str]:
    ids = []
    for member in group.members or []:
        if not member.value:
            raise invalid_value("Every member needs a value: the user's SCIM id.")
        if member.type not in (None, "User"):
            raise invalid_value("Only users are members of a group here; groups do not nest.")
        ids.append(member.value)
    return ids


def _same_name(current: Group, wanted: str | None) -> None:
    if wanted is not None and wanted != current.display_name:
        raise ScimError(
            400,
            f"A group's displayName is the name of the service in the account's catalog "
            f"(“{current.display_name}”); it cannot be changed.",
            "mutability",
        )


def patch_group(group_id: str, body: dict[str, Any], if_match: str | None) -> Group:
    """Apply a PatchOp to the group's members (scim2-models resolves the paths), then send the
    difference to subscriptions as one change; the group as it is afterwards."""
    current = _resource(read_group(group_id))
    _check_version(current, if_match)
    try:
        patch = PatchOp[Group].model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        patched = current.model_copy(deep=True)
        patch.patch(patched)
    except ValidationError as exc:
        raise from_validation(exc) from None
    except SCIMException as exc:  # noTarget, mutability, invalidValue, ...
        raise from_scim_exception(exc) from None
    _same_name(current, patched.display_name)
    before, after = set(_member_ids(current)), set(_member_ids(patched))
    if before != after:
        change_members(current, add=after - before, remove=before - after)
    return _resource(read_group(group_id))


def replace_group(group_id: str, body: dict[str, Any], if_match: str | None) -> Group:
    """PUT: the group's members become the list given (the name must stay the catalog's)."""
    current = _resource(read_group(group_id))
    _check_version(current, if_match)
    try:
        wanted = Group.model_validate(body, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    except ValidationError as exc:
        raise from_validation(exc) from None
    _same_name(current, wanted.display_name)
    members = _member_ids(wanted)
    if set(members) != set(_member_ids(current)):
        change_members(current, replace=sorted(set(members)))
    return _resource(read_group(group_id))


def _answer(group: Group, ctx: Context) -> ResponseReturnValue:
    parameters = _parameters(ResponseParameters[Group], request.args.to_dict())
    headers = {"ETag": group.meta.version} if group.meta and group.meta.version else {}
    return scim_response(_dumped(group, parameters, ctx), 200, headers)


@bp.patch("/Groups/<group_id>", endpoint="patch_group")
def patch_group_route(group_id: str) -> ResponseReturnValue:
    group = patch_group(group_id, json_body(), request.headers.get("If-Match"))
    return _answer(group, Context.RESOURCE_PATCH_RESPONSE)


@bp.put("/Groups/<group_id>", endpoint="replace_group")
def replace_group_route(group_id: str) -> ResponseReturnValue:
    group = replace_group(group_id, json_body(), request.headers.get("If-Match"))
    return _answer(group, Context.RESOURCE_REPLACEMENT_RESPONSE)


CATALOG_ONLY = (
    "Groups are the services of the account's catalog, which follows the account's contracts "
    "with the vendor: a group cannot be {verb} through SCIM. Add or remove its members instead "
    "(PATCH or PUT of the group)."
)


@bp.post("/Groups", endpoint="create_group")
def create_group() -> ResponseReturnValue:
    raise ScimError(405, CATALOG_ONLY.format(verb="created"), headers={"Allow": "GET"})


@bp.delete("/Groups/<group_id>", endpoint="delete_group")
def delete_group(group_id: str) -> ResponseReturnValue:
    read_group(group_id)  # an unknown group stays 404
    raise ScimError(405, CATALOG_ONLY.format(verb="deleted"), headers={"Allow": "GET, PUT, PATCH"})


# -- /Bulk ------------------------------------------------------------------------------------


def bulk_operation(
    method: str, group_id: str | None, data: dict[str, Any] | None
) -> tuple[int, dict[str, Any] | None, str | None]:
    """One /Bulk operation on /Groups: (status, the group as answered, its version); raises
    ScimError as the route would."""
    method = method.upper()
    if method == "POST" or group_id is None:
        raise ScimError(405, CATALOG_ONLY.format(verb="created"))
    if method == "DELETE":
        read_group(group_id)
        raise ScimError(405, CATALOG_ONLY.format(verb="deleted"))
    if method == "PATCH":
        group = patch_group(group_id, data or {}, None)
        ctx = Context.RESOURCE_PATCH_RESPONSE
    elif method == "PUT":
        group = replace_group(group_id, data or {}, None)
        ctx = Context.RESOURCE_REPLACEMENT_RESPONSE
    else:
        raise ScimError(400, f"A Bulk operation cannot {method} a group.", "invalidValue")
    version = group.meta.version if group.meta else None
    return 200, _dumped(group, None, ctx), version

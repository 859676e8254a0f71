"""/internal/accounts/{account_id}/scim/users: the account's users as the gateway's SCIM server
carries them out (list with a SCIM filter, read, create one or a Bulk's many, replace, delete).

The actor is the SCIM token (`X-Portico-Actor: scim:<token id>`), the audit trail's source its
name (`X-Portico-Source: scim:<name>`). Refusals carry `scim_type` (RFC 7644 3.12).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from bus.http import Problem, problem_response
from services.identity.entrypoints.common import actor, created, no_content, run
from services.identity.service_layer import scim_users
from services.identity.service_layer.common import Actor
from services.identity.service_layer.scim_users import ScimRefused, Write

bp = Blueprint("scim_users", __name__, url_prefix="/internal/accounts/<account_id>/scim")

MAX_COUNT = 1000
MAX_BATCH = 1000
TITLES = {400: "Bad Request", 404: "Not Found", 409: "Conflict", 412: "Precondition Failed"}


@bp.errorhandler(ScimRefused)
def _refused(exc: ScimRefused) -> ResponseReturnValue:
    return problem_response(
        Problem(
            exc.status, TITLES.get(exc.status, "Bad Request"), exc.detail, scim_type=exc.scim_type
        )
    )


def write() -> Write:
    """The SCIM token acting: its id as actor, its name as the audit trail's source."""
    actor = (request.headers.get("X-Portico-Actor") or "").strip()[:64]
    source = (request.headers.get("X-Portico-Source") or "").strip()[:120]
    if not actor.startswith("scim:") or not source.startswith("scim:"):
        raise ScimRefused(400, "A SCIM write names its token (X-Portico-Actor, X-Portico-Source).")
    send = request.args.get("send_activation", "true") != "false"
    return Write(Actor(actor, source), send_activation=send)


def _int(name: str, default: int, lowest: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        return max(int(raw), lowest)
    except ValueError:
        raise ScimRefused(400, f"{name} must be a whole number.", "invalidValue") from None


def _if_version() -> int | None:
    raw = request.args.get("if_version")
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise ScimRefused(412, "This version is not one of this user's.", "invalidVers") from None


def _body() -> Any:
    body = request.get_json(silent=True, force=True)
    if body is None:
        raise ScimRefused(400, "The body is not valid JSON.", "invalidSyntax")
    return body


@bp.get("/users")
def list_users(account_id: str) -> ResponseReturnValue:
    return jsonify(
        run(
            scim_users.list_users,
            account_id,
            filter_text=request.args.get("filter") or None,
            sort_by=request.args.get("sort_by") or None,
            descending=request.args.get("sort_order", "ascending") == "descending",
            start_index=_int("start_index", 1, 1),
            count=min(_int("count", 100, 0), MAX_COUNT),
        )
    )


@bp.post("/users")
def create_user(account_id: str) -> ResponseReturnValue:
    body = _body()
    if not isinstance(body, dict):
        raise ScimRefused(400, "The body must be a JSON object.", "invalidSyntax")
    return created(*run(scim_users.create_user, account_id, body, write=write()))


@bp.post("/users/batch")
def create_users(account_id: str) -> ResponseReturnValue:
    body = _body()
    entries = body.get("users") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ScimRefused(400, 'Send {"users": [user fields, ...]}.', "invalidSyntax")
    if len(entries) > MAX_BATCH:
        raise ScimRefused(413, f"At most {MAX_BATCH} users at a time.", "tooMany")
    allowed = body.get("errors_allowed")
    if allowed is not None and (not isinstance(allowed, int) or allowed < 1):
        raise ScimRefused(400, "errors_allowed is a whole number of at least 1.", "invalidValue")
    answer = run(
        scim_users.create_users, account_id, entries, write=write(), errors_allowed=allowed
    )
    return jsonify(answer), 200


@bp.get("/users/<user_id>")
def get_user(account_id: str, user_id: str) -> ResponseReturnValue:
    return jsonify(run(scim_users.get_user, account_id, user_id))


@bp.put("/users/<user_id>")
def replace_user(account_id: str, user_id: str) -> ResponseReturnValue:
    body = _body()
    if not isinstance(body, dict):
        raise ScimRefused(400, "The body must be a JSON object.", "invalidSyntax")
    view, event = run(
        scim_users.replace_user,
        account_id,
        user_id,
        body,
        write=write(),
        if_version=_if_version(),
    )
    return created(view, event, 200)


@bp.delete("/users/<user_id>")
def delete_user(account_id: str, user_id: str) -> ResponseReturnValue:
    return no_content(
        run(scim_users.delete_user, account_id, user_id, write=write(), if_version=_if_version())
    )


@bp.post("/group-members")
def audit_memberships(account_id: str) -> ResponseReturnValue:
    """The gateway's record of a directory's changes of group members (subscriptions did them):
    `{"groups": [{"display_name", "joined": [user id], "left": [user id]}]}`."""
    body = _body()
    groups = body.get("groups") if isinstance(body, dict) else None
    if not isinstance(groups, list) or not all(_membership(group) for group in groups):
        raise ScimRefused(
            400, 'Send {"groups": [{"display_name", "joined": [...], "left": [...]}]}.'
        )
    written = run(scim_users.audit_memberships, account_id, groups, write=write())
    return jsonify({"audited": written}), 200


@bp.post("/token-changes")
def audit_token(account_id: str) -> ResponseReturnValue:
    """The gateway's record of an administrator issuing or revoking a SCIM token (the gateway
    keeps the tokens): `{"action": "issued" | "revoked", "token": {"id", "name"}}`; the
    administrator is X-Portico-Actor."""
    body = _body()
    token = body.get("token") if isinstance(body, dict) else None
    if (
        not isinstance(body, dict)
        or body.get("action") not in scim_users.TOKEN_ACTIONS
        or not isinstance(token, dict)
        or not all(isinstance(token.get(key), str) and token[key] for key in ("id", "name"))
    ):
        raise ScimRefused(
            400, 'Send {"action": "issued" or "revoked", "token": {"id": ..., "name": ...}}.'
        )
    run(scim_users.audit_token, account_id, body["action"], token, actor=actor())
    return no_content()


def _membership(group: Any) -> bool:
    return (
        isinstance(group, dict)
        and isinstance(group.get("display_name"), str)
        and all(
            isinstance(group.get(key), list) and all(isinstance(u, str) for u in group[key])
            for key in ("joined", "left")
        )
    )

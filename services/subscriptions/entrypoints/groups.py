"""/internal/accounts/{a}/groups: the account's catalog as a directory's groups (SCIM), their
members, and changes of members (one or many groups, one transaction)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import EXCLUDE, Schema, fields, pre_load, validate

from bus.http import current_part
from bus.pagination import MAX_PAGE
from services.subscriptions.domain.groups import MemberChange
from services.subscriptions.service_layer import groups

from . import schemas

bp = Blueprint("groups", __name__, url_prefix="/internal/accounts")

MAX_MEMBERS = 10_000  # users named by one change (a Bulk request of 1,000 operations fits)
MAX_MEMBERS_PER_PAGE = 1_000


class GroupsQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    ids = fields.String(load_default=None, validate=validate.Length(max=20_000))
    members = fields.Boolean(load_default=False)

    @pre_load
    def _blank_is_unset(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {k: v for k, v in data.items() if v != ""}


class MembersQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(
        load_default=100, validate=validate.Range(min=1, max=MAX_MEMBERS_PER_PAGE)
    )


def _user_ids(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(validate=schemas.ID), validate=validate.Length(max=MAX_MEMBERS), **kwargs
    )


class ChangeBody(Schema):
    group_id = fields.String(required=True, validate=schemas.ID)
    add = _user_ids(load_default=list)
    remove = _user_ids(load_default=list)
    replace = _user_ids(load_default=None, allow_none=True)


class MembersBody(Schema):
    changes = fields.List(
        fields.Nested(ChangeBody), required=True, validate=validate.Length(min=1, max=1_000)
    )


def _member_json(member: Any) -> dict[str, Any]:
    return {"value": member.user_id, "display": member.display}


def _group_json(group: groups.Group) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "id": group.id,
        "display_name": group.display_name,
        "code": group.code,
    }
    if group.members is not None:
        shaped["members"] = [_member_json(m) for m in group.members]
    return shaped


@bp.get("/<account_id>/groups")
def list_groups(account_id: str) -> ResponseReturnValue:
    query = schemas.query(GroupsQuery)
    ids = [i for i in (query["ids"] or "").split(",") if i] if query["ids"] is not None else None
    found = groups.account_groups(
        current_part().uow(), account_id, ids=ids, with_members=query["members"]
    )
    return jsonify({"items": [_group_json(g) for g in found], "total": len(found)})


@bp.get("/<account_id>/groups/<group_id>/members")
def list_members(account_id: str, group_id: str) -> ResponseReturnValue:
    query = schemas.query(MembersQuery)
    page = groups.group_members(
        current_part().uow(), account_id, group_id, query["page"], query["per_page"]
    )
    page["items"] = [_member_json(m) for m in page["items"]]
    return jsonify(page)


@bp.post("/<account_id>/groups/members")
def change_members(account_id: str) -> ResponseReturnValue:
    data = schemas.body(MembersBody)
    changes = [
        MemberChange(
            service_id=c["group_id"],
            add=tuple(c["add"]),
            remove=tuple(c["remove"]),
            replace=tuple(c["replace"]) if c["replace"] is not None else None,
        )
        for c in data["changes"]
    ]
    done = groups.change_members(current_part().uow(), account_id, changes, schemas.actor())
    return jsonify(
        {
            "groups": [
                {"id": p.service_id, "joined": p.joining, "left": p.leaving} for p in done.groups
            ],
            "event_ids": done.event_ids,
        }
    )

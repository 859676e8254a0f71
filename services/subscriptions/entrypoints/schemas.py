"""What the internal API accepts: one marshmallow schema per body and per list query."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from bus.clock import as_utc
from bus.contracts.vocabulary import FAMILIES, SUBSCRIPTION_STATUSES
from bus.http import Problem
from bus.i18n import _l
from bus.pagination import MAX_PAGE
from services.subscriptions.domain.catalog import DEFAULT_PER_PAGE, MAX_PER_PAGE

ID = validate.Length(min=1, max=64)


def _ids(max_items: int = 200) -> fields.List:
    return fields.List(
        fields.String(validate=ID),
        required=True,
        validate=validate.Length(min=1, max=max_items, error="Give from {min} to {max} ids."),
    )


class RequestBody(Schema):
    service_id = fields.String(required=True, validate=ID)


class GrantBody(Schema):
    service_ids = _ids()
    expires_on = fields.Date(load_default=None, allow_none=True)


class AcceptBody(Schema):
    expires_on = fields.Date(load_default=None, allow_none=True)


class RefuseBody(Schema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class SettingsBody(Schema):
    service_ids = _ids()
    requires_validation = fields.Boolean(load_default=None, allow_none=True)
    auto_subscribe = fields.Boolean(load_default=None, allow_none=True)

    @validates_schema
    def _one_flag(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("requires_validation") is None and data.get("auto_subscribe") is None:
            raise ValidationError(
                _l("Set requires_validation, auto_subscribe or both.", code="settings.nothing_set"),
                field_name="requires_validation",
            )


class CatalogBody(Schema):
    services = fields.List(
        fields.String(validate=validate.Length(min=1, max=120)),
        required=True,
        validate=validate.Length(max=1000),
    )


class ExpireBody(Schema):
    today = fields.Date(load_default=None, allow_none=True)


class ListQuery(Schema):
    """Filters and page of a list; unknown query parameters are ignored."""

    class Meta:
        unknown = EXCLUDE

    family = fields.String(load_default=None, validate=validate.OneOf(FAMILIES))
    status = fields.String(load_default=None, validate=validate.OneOf(SUBSCRIPTION_STATUSES))
    title = fields.String(load_default=None, validate=validate.Length(max=200))
    q = fields.String(load_default=None, validate=validate.Length(max=200))
    name = fields.String(load_default=None, validate=validate.Length(max=200))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(
        load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE)
    )

    @pre_load
    def _blank_is_unset(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {k: v for k, v in data.items() if v != ""}


class DashboardQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    since = fields.DateTime(load_default=None, allow_none=True)

    @post_load
    def _utc(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["since"] = as_utc(data.get("since"))
        return data


def invalid(errors: dict[str, Any]) -> Problem:
    flat = {
        name: (value if isinstance(value, list) else [str(value)]) for name, value in errors.items()
    }
    return Problem(
        422,
        "Unprocessable Content",
        _l("Some fields are not valid; see errors for what to change."),
        errors=flat,
    )


def body(schema: type[Schema], *, optional: bool = False) -> dict[str, Any]:
    """The JSON body loaded with `schema`, or a 422 problem naming each bad field."""
    data = request.get_json(silent=True)
    if data is None and optional and not request.get_data():
        data = {}
    if not isinstance(data, dict):
        raise invalid({"body": [_l("Send a JSON object.", code="request.not_an_object")]})
    try:
        return schema().load(data)
    except ValidationError as exc:
        raise invalid(
            exc.messages if isinstance(exc.messages, dict) else {"body": exc.messages}
        ) from None


def query(schema: type[Schema]) -> dict[str, Any]:
    """The query string loaded with `schema`, or a 422 problem naming each bad parameter."""
    try:
        return schema().load(request.args.to_dict())
    except ValidationError as exc:
        raise invalid(
            exc.messages if isinstance(exc.messages, dict) else {"query": exc.messages}
        ) from None


def actor() -> str | None:
    """Who acts, as the gateway says (`X-Portico-Actor`: a user id, or `operator`)."""
    value = request.headers.get("X-Portico-Actor", "").strip()
    if len(value) > 64:
        raise invalid({"X-Portico-Actor": [_l("An actor is a user id or `operator`.")]})
    return value or None

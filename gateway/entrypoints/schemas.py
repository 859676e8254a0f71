"""Marshmallow schemas of the public API (docs/api.md): what is validated in, and documented out."""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from bus.contracts import vocabulary as v
from bus.i18n import _l, remember
from bus.pagination import MAX_PAGE, MAX_PER_PAGE

# --- building blocks --------------------------------------------------------------------------


def instant(**kwargs) -> fields.String:
    return fields.String(allow_none=True, metadata={"format": "date-time"}, **kwargs)


def name_field(required: bool = True) -> fields.String:
    """A name: 1 to 100 characters, not only spaces (the same rule in the document and here)."""
    return fields.String(required=required, validate=[validate.Length(min=1, max=100), NOT_BLANK])


NOT_BLANK = validate.Regexp(
    r"^\s*\S",
    error=remember(
        _l("Write at least one letter or digit, not only spaces.", code="validation.blank")
    ),
)


def phone_field() -> fields.String:
    return fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))


class ProblemSchema(Schema):
    """RFC 9457: the five members, plus extension members that some answers add."""

    class Meta:
        unknown = INCLUDE  # documented as additionalProperties: extension members may follow

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "422: the fields or parameters refused, each with what to change"},
    )
    code = fields.String(
        metadata={
            "description": "every answer: the stable, machine-readable code of the refusal (a"
            " contract; docs/api.md lists them); detail and errors are in the caller's language"
            " (the profile's, else Accept-Language: en or fr)",
            "example": "validation.phone_invalid",
        }
    )
    retry_after = fields.Integer(
        metadata={"description": "429: seconds to wait (also the Retry-After header)"}
    )
    service = fields.String(
        metadata={"description": "503: the service not answering; 403: the service to ask for"}
    )


class PropagationSchema(Schema):
    status = fields.String(metadata={"enum": ["pending", "applied"]})
    event_id = fields.String(allow_none=True)


class PageArgs(Schema):
    class Meta:
        unknown = RAISE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=10, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class AtLeastOneField(Schema):
    """A PATCH body: an empty one changes nothing and is refused, naming the fields it may hold."""

    OPENAPI_EXTRA = {"minProperties": 1}

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError(
                _l(
                    "Send at least one field to change: {fields}.",
                    code="validation.nothing_to_change",
                    fields=", ".join(sorted(self.fields)),
                ),
                field_name="body",
            )


def page_of(item: type[Schema] | Schema | fields.Field, name: str) -> type[Schema]:
    """The list shape of docs/api.md: {items, page, per_page, total}."""
    items = fields.List(item if isinstance(item, fields.Field) else fields.Nested(item))
    return type(
        name,
        (Schema,),
        {
            "items": items,
            "page": fields.Integer(),
            "per_page": fields.Integer(),
            "total": fields.Integer(),
        },
    )


# --- accounts and users -----------------------------------------------------------------------


class AccountSchema(Schema):
    id = fields.String()
    number = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    parent_id = fields.String(allow_none=True)
    relation = fields.String(allow_none=True)


class AccountCreated(AccountSchema):
    propagation = fields.Nested(PropagationSchema)


class AccountInReach(AccountSchema):
    role = fields.String(metadata={"enum": ["administrator", "supervisor"]})


class UserSchema(Schema):
    id = fields.String()
    account_id = fields.String()
    email = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    last_name = fields.String()
    first_name = fields.String()
    language = fields.String()
    function = fields.String(allow_none=True)
    office_phone = fields.String(allow_none=True)
    mobile_phone = fields.String(allow_none=True)
    password_level = fields.Integer()
    status = fields.String(metadata={"enum": list(v.USER_STATUSES)})
    is_administrator = fields.Boolean()
    created_at = instant()
    activated_at = instant()
    last_sign_in_at = instant()


class UserWritten(UserSchema):
    propagation = fields.Nested(PropagationSchema)


class MeSchema(UserSchema):
    account = fields.Nested(AccountSchema)
    password_change_required = fields.Boolean()
    mfa_enrolment_required = fields.Boolean(
        metadata={
            "description": "the account's policy requires a second factor the caller has not "
            "set up: only /api/v1/me/mfa… is open until one is",
            "example": False,
        }
    )
    administers = fields.List(fields.String())
    supervises = fields.List(fields.String())


class UserIn(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    title = fields.String(required=True, validate=validate.OneOf(v.TITLES))
    last_name = name_field()
    first_name = name_field()
    office_phone = phone_field()
    mobile_phone = phone_field()
    language = fields.String(required=True, validate=validate.OneOf(v.LANGUAGES))
    function = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    password_level = fields.Integer(required=True, validate=validate.OneOf(v.PASSWORD_LEVELS))


class UserPatch(AtLeastOneField):
    email = fields.Email(validate=validate.Length(max=320))
    title = fields.String(validate=validate.OneOf(v.TITLES))
    last_name = name_field(required=False)
    first_name = name_field(required=False)
    office_phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    mobile_phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    language = fields.String(validate=validate.OneOf(v.LANGUAGES))
    function = fields.String(allow_none=True, validate=validate.Length(max=100))
    password_level = fields.Integer(validate=validate.OneOf(v.PASSWORD_LEVELS))


class ProfilePatch(AtLeastOneField):
    title = fields.String(validate=validate.OneOf(v.TITLES))
    last_name = name_field(required=False)
    first_name = name_field(required=False)
    language = fields.String(validate=validate.OneOf(v.LANGUAGES))
    function = fields.String(allow_none=True, validate=validate.Length(max=100))
    office_phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    mobile_phone = fields.String(allow_none=True, validate=validate.Length(max=40))


class UsersQuery(PageArgs):
    name = fields.String(validate=validate.Length(max=100))
    email = fields.String(validate=validate.Length(max=320))
    function = fields.String(validate=validate.Length(max=100))
    status = fields.String(validate=validate.OneOf(v.USER_STATUSES))
    administrators_only = fields.Boolean()


class UserIds(Schema):
    # No count bound: the body cap (PORTICO_MAX_BODY_BYTES, 1 MiB: some 25,000 ids) is the bound.
    user_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1),
    )


class SentSkipped(Schema):
    sent = fields.Raw(
        metadata={"description": "the users e-mailed (ids or a count, as identity answers)"}
    )
    skipped = fields.Raw(metadata={"description": "the users skipped, not pending activation"})
    propagation = fields.Nested(PropagationSchema)


# --- services and subscriptions ---------------------------------------------------------------

SEARCH_MAX = 200  # what the subscriptions service accepts for `q` and `title`


class ServiceSchema(Schema):
    id = fields.String()
    code = fields.String()
    family = fields.String(metadata={"enum": list(v.FAMILIES)})
    title = fields.String()
    description = fields.String(allow_none=True)
    requires_validation = fields.Boolean()
    auto_subscribe = fields.Boolean()
    min_password_level = fields.Integer()
    subscriber_count = fields.Integer(allow_none=True)


class SubscriptionSchema(Schema):
    id = fields.String()
    user_id = fields.String()
    service = fields.Nested(ServiceSchema)
    status = fields.String(metadata={"enum": list(v.SUBSCRIPTION_STATUSES)})
    requested_at = instant()
    decided_at = instant()
    decided_by = fields.String(allow_none=True)
    expires_on = fields.String(allow_none=True, metadata={"format": "date"})
    reason = fields.String(allow_none=True)
    user = fields.Nested(
        UserSchema, metadata={"description": "the requester (subscription requests)"}
    )
    effective = fields.Boolean(
        metadata={"description": "accepted, unexpired and already applied by the portal"}
    )


class SubscriptionWritten(SubscriptionSchema):
    propagation = fields.Nested(PropagationSchema)


class SubscriptionsWritten(Schema):
    items = fields.List(fields.Nested(SubscriptionSchema))
    propagation = fields.Nested(PropagationSchema)


class SubscriberSchema(UserSchema):
    user_id = fields.String()
    subscription_id = fields.String()
    subscription_status = fields.String()
    expires_on = fields.String(allow_none=True)
    effective = fields.Boolean()


class ServiceFilters(PageArgs):
    family = fields.String(validate=validate.OneOf(v.FAMILIES))
    title = fields.String(validate=validate.Length(max=SEARCH_MAX))
    q = fields.String(validate=validate.Length(max=SEARCH_MAX))


class SubscriptionFilters(PageArgs):
    family = fields.String(validate=validate.OneOf(v.FAMILIES))
    status = fields.String(validate=validate.OneOf(v.SUBSCRIPTION_STATUSES))
    q = fields.String(validate=validate.Length(max=SEARCH_MAX))


class RequestFilters(PageArgs):
    name = fields.String(validate=validate.Length(max=100))


class SubscribeIn(Schema):
    service_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class GrantIn(Schema):
    service_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=200),
    )
    expires_on = fields.Date(load_default=None, allow_none=True)


class ServicesPatch(Schema):
    service_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=200),
    )
    requires_validation = fields.Boolean()
    auto_subscribe = fields.Boolean()

    OPENAPI_EXTRA = {
        "anyOf": [{"required": ["requires_validation"]}, {"required": ["auto_subscribe"]}]
    }

    @validates_schema
    def _one_flag(self, data: dict[str, Any], **_: Any) -> None:
        if "requires_validation" not in data and "auto_subscribe" not in data:
            raise ValidationError(
                _l("Set requires_validation, auto_subscribe or both.", code="settings.nothing_set"),
                field_name="body",
            )


class ServicesWritten(Schema):
    items = fields.List(fields.Nested(ServiceSchema))
    propagation = fields.Nested(PropagationSchema)


class AcceptIn(Schema):
    expires_on = fields.Date(load_default=None, allow_none=True)


class RefuseIn(Schema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


# --- audits, imports, documents ---------------------------------------------------------------

AuditEntry = fields.Dict(
    metadata={"description": "one audited action: when, who, what, from where"}
)


class Anomaly(Schema):
    line = fields.Integer(allow_none=True)
    field = fields.String(allow_none=True)
    message = fields.String(metadata={"description": "the anomaly in the caller's language"})
    code = fields.String(
        metadata={
            "description": "stable: import.* or validation.* (docs/api.md, Import anomalies);"
            " import.anomaly for one recorded before anomalies had codes"
        }
    )
    params = fields.Dict(metadata={"description": "the values the message names, by name"})


class ImportJob(Schema):
    id = fields.String()
    status = fields.String(metadata={"enum": ["queued", "running", "done", "failed", "checked"]})
    dry_run = fields.Boolean()
    filename = fields.String(allow_none=True)
    rows = fields.Integer(allow_none=True)
    processed = fields.Integer(allow_none=True)
    created = fields.Integer(allow_none=True)
    rejected = fields.Integer(allow_none=True)
    would_create = fields.Integer(
        allow_none=True, metadata={"description": "dry run: users it would create"}
    )
    anomalies_total = fields.Integer(allow_none=True)
    anomalies = fields.List(fields.Nested(Anomaly))
    reason = fields.String(
        allow_none=True,
        metadata={"description": "why a failed job failed, in the caller's language"},
    )
    reason_code = fields.String(
        allow_none=True,
        metadata={
            "description": "stable: import.* (docs/api.md, Import anomalies); import.failed for"
            " a reason recorded before reasons had codes"
        },
    )
    reason_params = fields.Dict(
        allow_none=True, metadata={"description": "the values the reason names, by name"}
    )
    report_url = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)


class ImportArgs(Schema):
    class Meta:
        unknown = RAISE

    dry_run = fields.Boolean(load_default=False)


class ImportJobArgs(Schema):
    class Meta:
        unknown = RAISE

    anomalies_limit = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=100_000),
        metadata={"description": "at most this many anomalies in the answer"},
    )


class DocumentsPage(Schema):
    items = fields.List(fields.Dict())
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    account = fields.Nested(AccountSchema)
    service = fields.String(
        metadata={"description": "the service that gives access to these documents"}
    )

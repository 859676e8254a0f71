"""Request bodies of the internal API: shapes only (unknown fields refused, types, sizes).

A user's person-facing fields are left to the domain's checks (service_layer.fields), which
write the messages a person reads; the schemas take them as they come.
"""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from bus.contracts import vocabulary as v
from bus.i18n import Message, _l, remember
from services.identity.domain.validation import REQUIRED_FIELDS, validate_user_fields
from services.identity.service_layer.errors import Invalid
from services.identity.service_layer.fields import CREATE_FIELDS, PROFILE_FIELDS

MAX_SECRET = 4096  # the policy refuses passwords over 128 characters; this bounds the body


def _text(label: Message, **options: Any) -> fields.String:
    """A text field whose refusals name it (marshmallow formats them: they are remembered)."""
    required = remember(_l("The {label} is required.", code="validation.required", label=label))
    return fields.String(
        error_messages={
            "required": required,
            "invalid": remember(
                _l("The {label} must be text.", code="validation.not_text", label=label)
            ),
            "null": required,
        },
        **options,
    )


class Strict(Schema):
    class Meta:
        unknown = RAISE

    error_messages = {
        "unknown": remember(
            _l("This field is not accepted here; remove it.", code="validation.unknown_field")
        ),
        "type": remember(_l("The body must be a JSON object.", code="request.not_an_object")),
    }


class UserFieldsIn(Strict):
    """A body of user fields: their values are checked here with the domain's rules, so that one
    answer names every wrong field, unknown ones included."""

    domain_required: tuple[str, ...] = ()
    domain_partial = False

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def check_with_domain(self, data: Any, original: Any, **kwargs: Any) -> None:
        if not isinstance(original, dict):
            return
        present = {name: value for name, value in original.items() if name in self.fields}
        errors = validate_user_fields(
            present, partial=self.domain_partial, required=self.domain_required
        )
        if self.domain_partial and "language" not in present:
            # National numbers are read in the user's country: the service layer knows it.
            errors.pop("office_phone", None)
            errors.pop("mobile_phone", None)
        if errors:
            raise ValidationError(errors)


def _user_schema(
    name: str,
    names: tuple[str, ...],
    required: tuple[str, ...],
    partial: bool = False,
    **extra: fields.Field,
) -> type[Schema]:
    declared: dict[str, Any] = {field: fields.Raw(allow_none=True) for field in names}
    declared.update(extra, domain_required=required, domain_partial=partial)
    return type(name, (UserFieldsIn,), declared)


_CREATE_REQUIRED = ("title", "last_name", "first_name", "language", "password_level")
UserCreateIn = _user_schema("UserCreateIn", CREATE_FIELDS, _CREATE_REQUIRED)
OperatorAdministratorIn = _user_schema(
    "OperatorAdministratorIn",
    CREATE_FIELDS,
    ("email", "title", "last_name", "first_name", "language"),
)
AdminUserPatchIn = _user_schema("AdminUserPatchIn", CREATE_FIELDS, REQUIRED_FIELDS, partial=True)
ProfileIn = _user_schema("ProfileIn", PROFILE_FIELDS, REQUIRED_FIELDS, partial=True)
ActivationIn = _user_schema(
    "ActivationIn",
    PROFILE_FIELDS,
    ("title", "last_name", "first_name", "language"),
    password=_text(_l("password"), required=True, validate=validate.Length(max=MAX_SECRET)),
)


class AccountIn(Strict):
    number = _text(
        _l("client number"),
        required=True,
        validate=validate.Regexp(
            r"^[0-9A-Za-z-]{1,32}$",
            error=remember(
                _l(
                    "The client number has 1 to 32 letters, digits or dashes.",
                    code="validation.client_number",
                )
            ),
        ),
    )
    name = _text(
        _l("name"),
        required=True,
        validate=validate.Length(
            min=1,
            max=200,
            error=remember(_l("The name has 1 to 200 characters.", code="validation.length")),
        ),
    )
    parent_number = _text(_l("parent client number"), load_default=None, allow_none=True)
    relation = _text(
        _l("relation"),
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(
            v.RELATIONS,
            error=remember(
                _l(
                    "The relation must be one of {choices}.",
                    code="validation.not_a_choice",
                    choices=", ".join(v.RELATIONS),
                )
            ),
        ),
    )


class SignInIn(Strict):
    email = _text(_l("e-mail address"), required=True, validate=validate.Length(max=1000))
    password = _text(_l("password"), required=True, validate=validate.Length(max=MAX_SECRET))
    ip = _text(_l("ip"), load_default=None, allow_none=True)
    user_agent = _text(_l("user agent"), load_default=None, allow_none=True)


class ResetRequestIn(Strict):
    email = _text(_l("e-mail address"), required=True, validate=validate.Length(max=1000))
    ip = _text(_l("ip"), load_default=None, allow_none=True)
    user_agent = _text(_l("user agent"), load_default=None, allow_none=True)


class PasswordIn(Strict):
    password = _text(_l("password"), required=True, validate=validate.Length(max=MAX_SECRET))


class PasswordChangeIn(Strict):
    current_password = _text(
        _l("current password"), required=True, validate=validate.Length(max=MAX_SECRET)
    )
    new_password = _text(
        _l("new password"), required=True, validate=validate.Length(max=MAX_SECRET)
    )


class EmailChangeIn(Strict):
    new_email = fields.Raw(
        required=True,
        allow_none=True,
        error_messages={
            "required": remember(
                _l("The new e-mail address is required.", code="validation.required")
            )
        },
    )


class UserIdsIn(Strict):
    user_ids = fields.List(
        fields.String(),
        required=True,
        validate=validate.Length(
            min=1,
            max=1000,
            error=remember(_l("Select between 1 and 1000 users.", code="validation.length")),
        ),
    )


class EmailsIn(Strict):
    emails = fields.List(
        fields.Raw(),
        required=True,
        validate=validate.Length(
            max=1000,
            error=remember(
                _l("Ask about at most {n} addresses at a time.", code="validation.too_many", n=1000)
            ),
        ),
    )


def load(schema: type[Schema]) -> dict[str, Any]:
    """The request's JSON body through `schema`, or Invalid with a message per field."""
    if not request.get_data():
        body: Any = {}
    else:
        body = request.get_json(silent=True, force=True)
        if body is None:
            unreadable = _l(
                "The body is not valid JSON; send a JSON object.", code="request.invalid_json"
            )
            raise Invalid({"body": [unreadable]}, unreadable)
    if not isinstance(body, dict):
        not_object = _l("The body must be a JSON object.", code="request.not_an_object")
        raise Invalid({"body": [not_object]}, not_object)
    try:
        return schema().load(body)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"body": error.messages}
        raise Invalid(
            {
                str(key): [
                    m if isinstance(m, str) else str(m)
                    for m in (value if isinstance(value, list) else [value])
                ]
                for key, value in messages.items()
            }
        ) from None

"""Field helpers shared by the contract modules."""

from marshmallow import Schema, fields, validate

from bus.contracts import vocabulary as v

Id = fields.String  # UUIDs travel as strings


def required_id() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=64))


def optional_id() -> fields.String:
    return fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


def language() -> fields.String:
    return fields.String(required=True, validate=validate.OneOf(v.LANGUAGES))


class Contract(Schema):
    """Base of every message schema."""


__all__ = ["Contract", "Id", "fields", "language", "optional_id", "required_id", "v", "validate"]

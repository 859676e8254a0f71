"""A short path for contract validation: vouches for the common message, never refuses one.

`compile_schema(Schema)` turns a contract made only of the field kinds and validators our
contracts use (String, Integer, Boolean, Raw, Dict, List, Nested; Length, OneOf) into a plain
function answering True when marshmallow's `Schema.validate` would certainly find no error: each
value is already of the type the field loads (a str for a String, an int that is no bool for an
Integer, a bool for a Boolean), passes the field's validators, and no key is unknown where that
would be an error. When it answers False, marshmallow decides (and says why). A contract with
anything else (another field kind or validator, a data_key, hooks) gets no short path (None).

Publishing 2 events per imported user and consuming a 500-row command: marshmallow's full load
costs ≈ 100 µs per event; this check ≈ 5 µs. tests/unit/bus/test_contracts_fast.py compares
both verdicts on every registered contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

Check = Callable[[Any], bool]


class _Unsupported(Exception):
    pass


def compile_schema(schema: type[Schema], *, strict: bool) -> Check | None:
    """The short check of `schema` loaded with unknown=RAISE (strict) or EXCLUDE; None if unsure."""
    try:
        return _schema_check(schema(), allow_unknown=not strict)
    except _Unsupported:
        return None


def _schema_check(instance: Schema, *, allow_unknown: bool) -> Check:
    if any(instance._hooks.values()) or instance.many:  # type: ignore[attr-defined]
        raise _Unsupported("hooks")
    declared = instance.load_fields
    checks: list[tuple[str, bool, bool, Check]] = []
    for name, field in declared.items():
        if field.data_key not in (None, name) or field.attribute not in (None, name):
            raise _Unsupported("renamed field")
        checks.append((name, field.required, field.allow_none, _field_check(field)))
    names = frozenset(declared)

    def check(data: Any) -> bool:
        if type(data) is not dict:
            return False
        if not allow_unknown and not names.issuperset(data):
            return False
        for name, required, allow_none, value_check in checks:
            if name not in data:
                if required:
                    return False
                continue
            value = data[name]
            if value is None:
                if not allow_none:
                    return False
                continue
            if not value_check(value):
                return False
        return True

    return check


def _field_check(field: Any) -> Check:  # a marshmallow field; its kind is checked below
    if field.pre_load or field.post_load:
        raise _Unsupported("field hooks")
    kind = type(field)
    if kind is fields.String:
        type_check: Check = lambda value: type(value) is str  # noqa: E731
    elif kind is fields.Integer and not field.strict:
        type_check = lambda value: type(value) is int  # noqa: E731 - a bool is not an int here
    elif kind is fields.Boolean:
        type_check = lambda value: type(value) is bool  # noqa: E731
    elif kind is fields.Raw:
        type_check = lambda value: True  # noqa: E731
    elif kind is fields.Dict and field.key_field is None and field.value_field is None:
        type_check = lambda value: type(value) is dict  # noqa: E731
    elif kind is fields.List:
        inner = field.inner
        if inner.validators or inner.pre_load or inner.post_load:
            raise _Unsupported("list item validators")
        item = _field_check(inner)

        def type_check(value: Any) -> bool:
            # None items go to marshmallow (whether the inner field allows them is its call).
            return type(value) is list and all(v is not None and item(v) for v in value)
    elif kind is fields.Nested and not field.many and field.only is None and field.exclude == ():
        if field.unknown not in (None, RAISE):
            raise _Unsupported("nested unknown")
        nested = field.schema
        # A nested schema keeps its own `unknown` (RAISE by default): unknown keys inside
        # go to marshmallow, whatever the outer mode.
        if nested.unknown != RAISE:
            raise _Unsupported("nested schema unknown")
        type_check = _schema_check(nested, allow_unknown=False)
    else:
        raise _Unsupported(kind.__name__)
    validators = [_validator_check(v) for v in field.validators]
    if not validators:
        return type_check

    def check(value: Any) -> bool:
        return type_check(value) and all(v(value) for v in validators)

    return check


def _validator_check(validator: Any) -> Check:
    kind = type(validator)
    if kind is validate.OneOf:
        choices = validator.choices

        def one_of(value: Any) -> bool:
            try:
                return value in choices
            except TypeError:
                return False

        return one_of
    if kind is validate.Length and validator.equal is None:
        low, high = validator.min, validator.max
        return lambda value: (
            (low is None or len(value) >= low) and (high is None or len(value) <= high)
        )
    raise _Unsupported(kind.__name__)

"""The contract registry: one marshmallow schema per message type and version.

Every message is validated against its schema when it is published (through the outbox)
and when it is consumed. Schemas live in one module per producer; importing this package
registers them all. A field declared with `metadata={"secret": True}` (a link with its raw
token) is blanked by `without_secrets` wherever a message is kept after it was delivered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, fields

_REGISTRY: dict[tuple[str, int], type[Schema]] = {}
REDACTED = "[redacted]"


class ContractError(ValueError):
    """A message that breaks its contract; the text says which fields and why."""


def register(type_: str, version: int = 1) -> Callable[[type[Schema]], type[Schema]]:
    """Class decorator: make `schema` the contract of message `type_` at `version`."""

    def decorate(schema: type[Schema]) -> type[Schema]:
        key = (type_, version)
        if key in _REGISTRY and _REGISTRY[key] is not schema:
            raise RuntimeError(f"message type {type_} v{version} is registered twice")
        _REGISTRY[key] = schema
        return schema

    return decorate


def known_types() -> list[str]:
    return sorted({type_ for type_, _ in _REGISTRY})


def schema_for(type_: str, version: int = 1) -> type[Schema]:
    try:
        return _REGISTRY[(type_, version)]
    except KeyError:
        raise ContractError(f"unknown message type {type_!r} version {version}") from None


def validate(type_: str, version: int, data: dict[str, Any], *, strict: bool) -> None:
    """Raise ContractError unless `data` fits the schema.

    strict (publishing): unknown fields are an error, so producers keep the contract exact.
    Not strict (consuming): unknown fields are ignored, so a newer producer can add fields.

    The common message takes a short path (`bus.contracts.fast`): plain values whose types
    and validators marshmallow would accept as they are. Whatever the short path cannot vouch
    for goes through marshmallow, which gives the verdict and the error text.
    """
    check = _fast_check(type_, version, strict)
    if check is not None and check(data):
        return
    errors = _instance(type_, version, strict).validate(data)
    if errors:
        raise ContractError(f"{type_} v{version} breaks its contract: {_flatten(errors)}")


@functools.cache
def _fast_check(type_: str, version: int, strict: bool) -> Callable[[Any], bool] | None:
    from bus.contracts.fast import compile_schema

    return compile_schema(schema_for(type_, version), strict=strict)


@functools.cache
def _instance(type_: str, version: int, strict: bool) -> Schema:
    """Schemas hold no per-call state: build each once."""
    return schema_for(type_, version)(unknown=RAISE if strict else EXCLUDE)


def has_secrets(type_: str, version: int | None = None) -> bool:
    """Whether messages of this type (at `version`, or at any version) carry a field marked
    secret, at any depth."""
    if version is None:
        return type_ in _types_with_secrets(len(_REGISTRY))  # the relay asks for every row
    return (type_, version) in _REGISTRY and _has_secrets(_REGISTRY[(type_, version)])


@functools.cache
def _types_with_secrets(registered: int) -> frozenset[str]:
    """(Cached per size of the registry, which only grows.)"""
    return frozenset(name for (name, _), schema in _REGISTRY.items() if _has_secrets(schema))


@functools.cache
def _has_secrets(schema: type[Schema]) -> bool:
    return any(
        _is_secret(field) or _nested(field) is not None and _has_secrets(_nested(field))
        for field in schema._declared_fields.values()
    )


def without_secrets(type_: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of `data` whose secret fields hold REDACTED (`data` itself when it has none)."""
    if not has_secrets(type_, version):
        return data
    return _blank(schema_for(type_, version), data)


def _blank(schema: type[Schema], data: Any) -> Any:
    if isinstance(data, list):
        return [_blank(schema, item) for item in data]
    if not isinstance(data, dict):
        return data
    clean = dict(data)
    for name, field in schema._declared_fields.items():
        key = field.data_key or name
        if key not in clean or clean[key] is None:
            continue
        nested = _nested(field)
        if _is_secret(field):
            clean[key] = REDACTED
        elif nested is not None and _has_secrets(nested):
            clean[key] = _blank(nested, clean[key])
    return clean


def _is_secret(field: fields.Field) -> bool:
    return bool(field.metadata.get("secret"))


def _nested(field: fields.Field) -> type[Schema] | None:
    """The schema class inside a Nested field or a List of Nested, if any."""
    if isinstance(field, fields.List):
        field = field.inner
    if isinstance(field, fields.Nested):
        nested = field.nested
        if isinstance(nested, Schema):
            return type(nested)
        if isinstance(nested, type) and issubclass(nested, Schema):
            return nested
    return None


def _flatten(errors: dict[str, Any], prefix: str = "") -> str:
    parts = []
    for name, value in sorted(errors.items(), key=lambda item: str(item[0])):
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            parts.append(_flatten(value, f"{path}."))
        else:
            parts.append(f"{path}: {' '.join(map(str, value))}")
    return "; ".join(parts)


def _load_all() -> None:
    from bus.contracts import content, identity, importer, subscriptions  # noqa: F401


_load_all()

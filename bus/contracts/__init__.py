"""The contract registry: one marshmallow schema per message type and version.

Every message is validated against its schema when it is published (through the outbox)
and when it is consumed. Schemas live in one module per producer; importing this package
registers them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema

_REGISTRY: dict[tuple[str, int], type[Schema]] = {}


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

"""The contracts' short path vouches only for what marshmallow accepts, and takes the common case."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from marshmallow import EXCLUDE, RAISE, fields

from bus import contracts
from bus.contracts import _fast_check, known_types, schema_for
from bus.contracts.fast import compile_schema


def _candidates(field: fields.Field, rng: random.Random, depth: int = 0) -> list[Any]:
    """Values around what `field` accepts: good ones, wrong types, out of choices or lengths."""
    values: list[Any] = [
        None,
        True,
        False,
        0,
        1,
        7,
        -1,
        2.0,
        "",
        "x",
        "1",
        "M",
        b"M",
        [],
        {},
        "a" * 70,
    ]
    for validator in field.validators:
        choices = getattr(validator, "choices", None)
        if choices:
            values += list(choices) + [str(c) for c in choices]
    if isinstance(field, fields.List) and depth < 2:
        inner = _candidates(field.inner, rng, depth + 1)
        values += [[rng.choice(inner) for _ in range(rng.randint(0, 3))] for _ in range(6)]
    if isinstance(field, fields.Nested) and depth < 2:
        values += [_payload(field.schema.__class__, rng, depth + 1) for _ in range(6)]
    values.append(str(uuid.uuid4()))
    return values


def _payload(schema: type, rng: random.Random, depth: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, field in schema().load_fields.items():
        roll = rng.random()
        if roll < 0.1:
            continue  # missing
        good = _good(field, rng, depth)
        data[name] = good if roll < 0.75 else rng.choice(_candidates(field, rng, depth))
    if rng.random() < 0.1:
        data["unexpected"] = "x"
    return data


def _good(field: fields.Field, rng: random.Random, depth: int) -> Any:
    for validator in field.validators:
        choices = getattr(validator, "choices", None)
        if choices:
            return rng.choice(list(choices))
    if isinstance(field, fields.Integer):
        return rng.randint(0, 100000)
    if isinstance(field, fields.Boolean):
        return rng.choice((True, False))
    if isinstance(field, fields.List):
        return (
            [_good(field.inner, rng, depth + 1) for _ in range(rng.randint(0, 3))]
            if depth < 2
            else []
        )
    if isinstance(field, fields.Nested):
        return {n: _good(f, rng, depth + 1) for n, f in field.schema.load_fields.items()}
    if isinstance(field, fields.Dict):
        return {"line": 3}
    return str(uuid.uuid4())


# content.published has a Url field, which the short path does not know: marshmallow alone.
WITHOUT_SHORT_PATH = {"content.published"}


def test_contracts_with_a_field_kind_the_short_path_does_not_know_have_none() -> None:
    for type_ in known_types():
        for strict in (True, False):
            assert (compile_schema(schema_for(type_), strict=strict) is None) == (
                type_ in WITHOUT_SHORT_PATH
            )


@pytest.mark.parametrize("type_", sorted(set(known_types()) - WITHOUT_SHORT_PATH))
@pytest.mark.parametrize("strict", [True, False])
def test_the_short_path_never_vouches_for_what_marshmallow_refuses(
    type_: str, strict: bool
) -> None:
    schema = schema_for(type_)(unknown=RAISE if strict else EXCLUDE)
    check = compile_schema(schema_for(type_), strict=strict)
    assert check is not None
    rng = random.Random(type_)
    vouched = 0
    for _ in range(1000):
        data = _payload(schema_for(type_), rng)
        if check(data):
            vouched += 1
            assert schema.validate(data) == {}, data
    assert vouched > 0  # the generator does produce valid payloads


def _user_created() -> dict[str, Any]:
    return {
        "user_id": str(uuid.uuid4()),
        "account_id": str(uuid.uuid4()),
        "status": "pending_activation",
        "email": "claire.martin1@example.com",
        "title": "MME",
        "last_name": "Martin1",
        "first_name": "Claire1",
        "language": "fr-FR",
        "function": None,
        "password_level": 2,
        "source": "import",
        "created_by": None,
        "grant_administration": False,
        "import_job_id": str(uuid.uuid4()),
        "import_line": 3,
        "created_at": "2026-11-30T05:00:00+00:00",
    }


def test_the_common_messages_take_the_short_path() -> None:
    row = {
        "line": 2,
        "title": "M",
        "last_name": "Martin",
        "first_name": "Claire",
        "email": "c@example.com",
        "office_phone": None,
        "mobile_phone": None,
        "language": "fr-FR",
        "password_level": 1,
    }
    command = {
        "account_id": str(uuid.uuid4()),
        "import_job_id": str(uuid.uuid4()),
        "batch": 1,
        "requested_by": None,
        "rows": [row] * 3,
    }
    for type_, data in (
        ("identity.user.created", _user_created()),
        ("identity.create_users", command),
    ):
        for strict in (True, False):
            check = _fast_check(type_, 1, strict)
            assert check is not None and check(data)


def test_a_message_the_short_path_cannot_vouch_for_still_gets_marshmallows_verdict() -> None:
    data = _user_created()
    contracts.validate(
        "identity.user.created", 1, {**data, "password_level": "2"}, strict=False
    )  # loads
    with pytest.raises(contracts.ContractError, match="password_level"):
        contracts.validate(
            "identity.user.created", 1, {**data, "password_level": True}, strict=True
        )
    with pytest.raises(contracts.ContractError, match="extra"):
        contracts.validate("identity.user.created", 1, {**data, "extra": 1}, strict=True)
    contracts.validate("identity.user.created", 1, {**data, "extra": 1}, strict=False)
    with pytest.raises(contracts.ContractError, match="rows.0.extra"):
        contracts.validate(
            "identity.create_users",
            1,
            {
                "account_id": "a",
                "import_job_id": "j",
                "batch": 1,
                "rows": [{"line": 2, "extra": 1}],
            },
            strict=False,
        )  # a nested row keeps its own strictness, as with marshmallow alone

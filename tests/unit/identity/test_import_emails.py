"""An import row's check takes the e-mail short path, and answers exactly what check_user_fields does."""

from __future__ import annotations

import random

import pytest

from services.identity.service_layer.fields import check_user_fields
from services.identity.service_layer.imports import IMPORT_FIELDS, REQUIRED, check_row, plain_email

ADDRESSES = [
    "claire.martin@example.com",
    "Claire.Martin@Example.COM",
    "  padded@example.com ",
    "POSTMASTER@example.com",
    "a@b.c",
    "a@b",
    "a@localhost",
    "a@example.local",
    "a@example.test",
    "a@example.invalid",
    "a@123.45",
    "a@-example.com",
    "a@exa_mple.com",
    "a@example..com",
    "a@example.com.",
    ".a@example.com",
    "a..b@example.com",
    "a@xn--bcher-kva.example",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "a@" + "b" * 64 + ".com",
    "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".com",
    "a" * 60 + "@" + ".".join(["b" * 61] * 3) + ".fr",
    "o'brien+tag@example.ie",
    "x!#$%&'*+/=?^_`{|}~-y@example.com",
    "a@b@example.com",
    "@example.com",
    "a@",
    "a",
    "a b@example.com",
    '"a"@example.com',
    "Name <a@example.com>",
    "a@[127.0.0.1]",
    "a@example.com\n",
    "ülle@example.com",
    "a@exämple.com",
    "a@ｅxample.com",
    "",
    "   ",
    None,
    42,
]


def _row(email: object) -> dict[str, object]:
    return {
        "line": 2,
        "title": "MME",
        "last_name": "Martin",
        "first_name": "Claire",
        "email": email,
        "office_phone": None,
        "mobile_phone": None,
        "language": "fr-FR",
        "password_level": 2,
    }


def _reference(row: dict[str, object]) -> tuple[dict, dict]:
    return check_user_fields({name: row.get(name) for name in IMPORT_FIELDS}, required=REQUIRED)


@pytest.mark.parametrize("email", ADDRESSES)
def test_each_address_gets_check_user_fields_answer(email: object) -> None:
    assert check_row(_row(email)) == _reference(_row(email))


def test_generated_addresses_get_check_user_fields_answer() -> None:
    rng = random.Random(7)
    local_chars = "abcXYZ019.-_+'!#~" + '@" <>'
    domain_chars = "abcXYZ019.-_"
    tlds = ["com", "fr", "c", "123", "local", "test", "xn--p1ai", "co.uk", ""]
    short = 0
    for _ in range(3000):
        local = "".join(
            rng.choice(local_chars) for _ in range(rng.choice([1, 2, 5, 20, 63, 64, 65]))
        )
        label = "".join(rng.choice(domain_chars) for _ in range(rng.choice([1, 3, 10, 62, 63, 64])))
        domain = f"{label}.{rng.choice(tlds)}".rstrip(".") if rng.random() < 0.9 else label
        if rng.random() < 0.3:  # an everyday address, in any case
            local = (
                "".join(rng.choice("abcXYZ019.") for _ in range(rng.randint(1, 30))).strip(".")
                or "a"
            )
            domain = rng.choice(["example.com", "Example.FR", "mail.example.co.uk"])
        row = _row(f"{local}@{domain}")
        short += plain_email(row["email"]) is not None
        assert check_row(row) == _reference(row), row["email"]
    assert short > 500  # the short path is taken, not only the reference


def test_the_other_fields_are_still_checked_beside_a_plain_address() -> None:
    row = {**_row("claire@example.com"), "title": "X", "password_level": 9, "last_name": " "}
    values, errors = check_row(row)
    assert set(errors) == {"title", "password_level", "last_name"}
    assert (values, errors) == _reference(row)

"""Duplicates inside one import file are found by login key: two spellings of one address are one
user, so the second line is refused and names the first."""

from __future__ import annotations

import pytest

from services.importer.domain import RowChecker

FIRST = "olivier.laurent@retail-it.example"


@pytest.mark.parametrize(
    "spelling",
    [
        "ｏlivier.laurent@retail-it.example",  # a full-width letter (email-validator keeps it)
        "OLIVIER.ＬAURENT@Retail-IT.example",
        "olivier.laurent@ｒｅｔａｉｌ-it.example",
    ],
)
def test_a_spelling_of_an_earlier_lines_address_is_a_duplicate(user_line, spelling) -> None:
    checker = RowChecker()
    first = checker.check(2, user_line(1, email=FIRST).split(";"))
    again = checker.check(5, user_line(2, email=spelling).split(";"))
    assert first.ok
    assert not again.ok
    assert [a.field for a in again.anomalies] == ["email"]
    assert "is already used on line 2 of this file" in again.anomalies[0].message


def test_an_idn_domain_and_its_ascii_form_are_one_address(user_line) -> None:
    checker = RowChecker()
    assert checker.check(2, user_line(1, email="anna@bücher.example").split(";")).ok
    again = checker.check(3, user_line(2, email="ANNA@xn--bcher-kva.example").split(";"))
    assert "is already used on line 2 of this file" in again.anomalies[0].message


def test_different_addresses_are_no_duplicates(user_line) -> None:
    checker = RowChecker()
    assert checker.check(2, user_line(1, email=FIRST).split(";")).ok
    assert checker.check(3, user_line(2, email="olivier.laurent2@retail-it.example").split(";")).ok

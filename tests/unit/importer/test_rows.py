"""Row checks: what each column accepts, how it is normalised, and what the anomaly says."""

from __future__ import annotations

import pytest

from services.importer.domain import RowChecker


def check(line: int, text: str, checker: RowChecker | None = None):
    return (checker or RowChecker()).check(line, text.split(";"))


def test_a_valid_line_gives_the_identity_services_fields(user_line) -> None:
    result = check(7, user_line(1, phone="01 23 45 67 89", mobile="+33 6 12 34 56 78"))
    assert result.ok and result.anomalies == []
    assert result.values == {
        "title": "MME",
        "last_name": "Martin1",
        "first_name": "Claire1",
        "email": "claire.martin1@example.com",
        "office_phone": "+33123456789",
        "mobile_phone": "+33612345678",
        "language": "fr-FR",
        "password_level": 2,
    }


def test_empty_phones_are_sent_as_none(user_line) -> None:
    result = check(7, user_line(1))
    assert result.values["office_phone"] is None and result.values["mobile_phone"] is None


@pytest.mark.parametrize(
    ("written", "title"),
    [
        ("M", "M"), ("m", "M"), ("Mr", "M"), ("MR.", "M"), ("Mister", "M"), ("monsieur", "M"),
        ("MME", "MME"), ("Mme", "MME"), ("Mrs", "MME"), ("Ms.", "MME"), ("MADAME", "MME"),
        ("MLE", "MLE"), ("Mlle", "MLE"), ("miss", "MLE"), ("Mademoiselle", "MLE"),
    ],
)  # fmt: skip
def test_civility_variants_are_normalised(user_line, written, title) -> None:
    assert check(1, user_line(1, civility=written)).values["title"] == title


@pytest.mark.parametrize(
    ("written", "tag"),
    [("en-US", "en-US"), ("en-us", "en-US"), ("EN_US", "en-US"), ("fr_fr", "fr-FR"),
     ("Fr-Ca", "fr-CA"), (" de-DE ", "de-DE")],
)  # fmt: skip
def test_language_case_and_underscore_variants_are_accepted(user_line, written, tag) -> None:
    assert check(1, user_line(1, language=written)).values["language"] == tag


def test_national_phone_numbers_are_read_in_the_languages_country(user_line) -> None:
    us = check(1, user_line(1, phone="(212) 555-0123", language="en-US"))
    gb = check(2, user_line(2, phone="020 7946 0958", language="en-GB"))
    abroad = check(3, user_line(3, mobile="+1 212 555 0123", language="fr-FR"))
    assert us.values["office_phone"] == "+12125550123"
    assert gb.values["office_phone"] == "+442079460958"
    assert abroad.values["mobile_phone"] == "+12125550123"


def test_a_national_number_needs_a_known_language(user_line) -> None:
    result = check(4, user_line(4, phone="01 23 45 67 89", language="Klingon"))
    assert [(a.field) for a in result.anomalies] == ["phone", "language"]


def test_manual_sample_phones_are_anomalies_with_advice() -> None:
    result = check(2, "MME;Dupont;Lovana;ldupont@company.ws;+685 XX XX XX;+685 XX XX XX;en-US;3")
    assert [a.field for a in result.anomalies] == ["phone", "mobile"]
    assert result.anomalies[0].message == (
        "The phone number '+685 XX XX XX' is not a phone number. Write it with digits, "
        "starting with + and the country code (e.g. +33 1 23 45 67 89)."
    )
    assert result.anomalies[1].message.startswith("The mobile number '+685 XX XX XX'")


def test_email_is_normalised_to_lower_case(user_line) -> None:
    assert check(1, user_line(1, email=" Jean.Dupont@Example.COM ")).values["email"] == (
        "jean.dupont@example.com"
    )


def test_duplicate_emails_name_the_first_line_even_when_that_line_had_anomalies(
    user_line,
) -> None:
    checker = RowChecker()
    first = check(3, user_line(1, civility="Dr", email="a@example.com"), checker)
    again = check(9, user_line(2, email="A@Example.com"), checker)
    assert [a.field for a in first.anomalies] == ["civility"]
    assert not again.ok
    assert again.anomalies[0].message == (
        "The e-mail address a@example.com is already used on line 3 of this file; "
        "each user needs their own address."
    )


def test_every_problem_of_a_line_is_reported_in_column_order(user_line) -> None:
    result = check(
        5,
        user_line(1, civility="", last_name="", first_name="F" * 101, email="x@",
                  phone="12", mobile="abc", language="", password_level="9"),
    )  # fmt: skip
    assert [a.field for a in result.anomalies] == [
        "civility", "last_name", "first_name", "email", "phone", "mobile", "language",
        "password_level",
    ]  # fmt: skip
    assert all(a.line == 5 for a in result.anomalies)
    assert result.values is None


@pytest.mark.parametrize(
    ("fields", "hint"),
    [
        (["M", "Martin", "Paul"], "has 3 columns; 8 are expected"),
        (["x"] * 500, "has 500 columns; 8 are expected"),
        (["M,Martin,Paul,p@example.com,,,en-US,1"], "It seems to use ',' as separator"),
        (
            ["M", "Martin", "Paul", "p@example.com", "", "", "en-US", "1", "extra"],
            "extra separator",
        ),
    ],
)
def test_wrong_number_of_columns_is_a_line_anomaly(fields, hint) -> None:
    result = RowChecker().check(2, fields)
    [anomaly] = result.anomalies
    assert (anomaly.line, anomaly.field) == (2, "line")
    assert hint in anomaly.message


def test_trailing_empty_columns_are_ignored(user_line) -> None:
    assert check(1, user_line(1) + ";;  ;").ok


def test_names_keep_their_text_but_control_characters_are_refused(user_line) -> None:
    kept = check(1, user_line(1, last_name="=cmd|' /C calc'!A0", first_name="-2+3"))
    assert kept.values["last_name"] == "=cmd|' /C calc'!A0"
    assert kept.values["first_name"] == "-2+3"
    for bad in ["Pa\x00ul", "Pa\nul", "Pa\u202eul", "Pa\x1bul"]:
        result = check(1, user_line(1, first_name=bad))
        assert [a.field for a in result.anomalies] == ["first_name"]


def test_names_are_stored_in_composed_unicode(user_line) -> None:
    decomposed = "Le\u0301a"  # e + combining acute accent
    assert check(1, user_line(1, first_name=decomposed)).values["first_name"] == "L\u00e9a"


def test_messages_show_long_values_shortened(user_line) -> None:
    [anomaly] = check(1, user_line(1, civility="X" * 1000)).anomalies
    assert len(anomaly.message) < 120
    assert "XXXX…'" in anomaly.message


@pytest.mark.parametrize("level", ["0", "4", "x", "", "2.0", "-1"])
def test_security_level_must_be_1_2_or_3(user_line, level) -> None:
    [anomaly] = check(1, user_line(1, password_level=level)).anomalies
    assert anomaly.field == "password_level"
    assert "Use 1 (weak), 2 (moderate) or 3 (strong)." in anomaly.message

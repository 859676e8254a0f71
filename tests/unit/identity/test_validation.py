"""Unit tests of user field validation and of e-mail and phone normal forms."""

import pytest

from services.identity.domain.validation import (
    InvalidField,
    normalise_email,
    normalise_phone,
    region_of,
    validate_user_fields,
)


def make_user(**overrides):
    user = {
        "title": "M",
        "last_name": "Marks",
        "first_name": "Steven",
        "email": "steven.marks@example.com",
        "language": "fr-FR",
        "password_level": 2,
        "function": "Retail Operations Manager",
        "office_phone": "+33 8 26 88 84 88",
        "mobile_phone": None,
    }
    return {**user, **overrides}


def test_a_complete_user_is_valid():
    assert validate_user_fields(make_user()) == {}


@pytest.mark.parametrize(
    "field, label",
    [
        ("last_name", "last name"),
        ("first_name", "first name"),
        ("email", "e-mail address"),
        ("title", "title"),
        ("language", "language"),
    ],
)
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_required_fields(field, label, blank):
    assert validate_user_fields(make_user(**{field: blank})) == {
        field: [f"The {label} is required."]
    }
    missing = make_user()
    del missing[field]
    assert validate_user_fields(missing) == {field: [f"The {label} is required."]}


def test_required_fields_can_be_chosen():
    activation = make_user()
    del activation["email"]
    assert validate_user_fields(activation, required=("last_name", "first_name")) == {}


def test_names_are_at_most_100_characters():
    assert validate_user_fields(make_user(last_name="é" * 100)) == {}
    assert validate_user_fields(make_user(last_name="é" * 101, function="x" * 101)) == {
        "last_name": ["The last name must be at most 100 characters long."],
        "function": ["The function must be at most 100 characters long."],
    }


def test_partial_checks_only_the_fields_given():
    assert validate_user_fields({"function": "Buyer"}, partial=True) == {}
    assert validate_user_fields({"first_name": " "}, partial=True) == {
        "first_name": ["The first name is required."]
    }
    assert validate_user_fields({"office_phone": ""}, partial=True) == {}  # clearing is fine


def test_title_language_and_level_must_be_known():
    errors = validate_user_fields(make_user(title="DR", language="pt-BR", password_level=4))
    assert errors == {
        "title": ["The title must be one of M, MME, MLE."],
        "language": [
            "The language must be one of en-US, en-GB, fr-FR, fr-BE, fr-CH, fr-CA, de-DE, es-ES,"
            " it-IT, nl-NL."
        ],
        "password_level": [
            "The password security level must be one of 1 (weak), 2 (moderate), 3 (strong)."
        ],
    }


@pytest.mark.parametrize("level", [1, 3, "2", " 3 "])
def test_levels_may_come_as_numbers_or_text(level):
    assert validate_user_fields(make_user(password_level=level)) == {}


@pytest.mark.parametrize("level", [0, True, "two", 2.5])
def test_other_levels_are_refused(level):
    assert "password_level" in validate_user_fields(make_user(password_level=level))


def test_a_malformed_email_is_explained():
    [message] = validate_user_fields(make_user(email="steven.marks@@example.com"))["email"]
    assert message.startswith("This is not an e-mail address we can use: ")
    assert message.endswith(" Check it and try again.")


def test_an_email_longer_than_254_characters_is_refused():
    email = "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "c" * 7 + ".com"
    assert len(email) > 254
    assert validate_user_fields(make_user(email=email)) == {
        "email": ["The e-mail address must be at most 254 characters long."]
    }


def test_emails_are_normalised_lower_case_for_uniqueness():
    assert normalise_email("  Steven.Marks@EXAMPLE.com ") == "steven.marks@example.com"
    assert normalise_email("Zoë@Exämple.fr") == "zoë@exämple.fr"
    with pytest.raises(InvalidField) as invalid:
        normalise_email("no-at-sign")
    assert invalid.value.field == "email"


@pytest.mark.parametrize(
    "language, region", [("fr-FR", "FR"), ("en-GB", "GB"), ("fr-CA", "CA"), (None, None)]
)
def test_the_default_region_is_the_language_country(language, region):
    assert region_of(language) == region


@pytest.mark.parametrize(
    "number, language, e164",
    [
        ("08 26 88 84 88", "fr-FR", "+33826888488"),
        ("01 23 45 67 89", "fr-FR", "+33123456789"),
        ("(202) 555-0143", "en-US", "+12025550143"),
        ("020 7946 0018", "en-GB", "+442079460018"),
        ("+33 1 23 45 67 89", "en-US", "+33123456789"),  # a +code wins over the language
        ("+32 12 34 56 78", None, "+3212345678"),
    ],
)
def test_phones_are_normalised_to_e164(number, language, e164):
    assert normalise_phone(number, language) == e164


@pytest.mark.parametrize(
    "number, language",
    [("082688488", "fr-FR"), ("call me", "fr-FR"), ("01 23 45 67 89", None)],
)
def test_unreadable_phones_are_refused(number, language):
    with pytest.raises(InvalidField):
        normalise_phone(number, language)


def test_phones_without_country_code_are_read_in_the_language_country():
    assert validate_user_fields(make_user(office_phone="08 26 88 84 88")) == {}
    assert validate_user_fields(make_user(office_phone="(202) 555-0143", language="en-US")) == {}
    # with no usable language, only a number with its +code can be read
    assert "office_phone" in validate_user_fields(
        make_user(office_phone="08 26 88 84 88", language="pt-BR")
    )


def test_phone_errors_give_an_example_from_the_language_country():
    errors = validate_user_fields(make_user(office_phone="082688488", mobile_phone="12"))
    expected = (
        "This is not a phone number we can read; write it with its country code,"
        " e.g. +33 1 23 45 67 89."
    )
    assert errors == {"office_phone": [expected], "mobile_phone": [expected]}
    german = validate_user_fields(make_user(language="de-DE", mobile_phone="12"))
    assert german["mobile_phone"][0].endswith("e.g. +49 30 123456.")


def test_non_text_values_are_refused():
    errors = validate_user_fields(make_user(last_name=42, email=["x"], office_phone=33123))
    assert errors == {
        "last_name": ["The last name must be text."],
        "email": ["The e-mail address must be text."],
        "office_phone": ["The phone number must be text."],
    }

"""Checks of a user's fields with messages a person can act on, and the normal forms of e-mails and
phone numbers."""

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bus.contracts.vocabulary import LANGUAGES, PASSWORD_LEVEL_NAMES, PASSWORD_LEVELS, TITLES
from bus.i18n import _l
from bus.login import NotAnAddress, login_key
from services.identity.domain.model import DomainError

MAX_NAME_LENGTH = 100
MAX_FUNCTION_LENGTH = 100
MAX_EMAIL_LENGTH = 254
REQUIRED_FIELDS = ("title", "last_name", "first_name", "email", "language")
LABELS = {
    "title": _l("title"),
    "last_name": _l("last name"),
    "first_name": _l("first name"),
    "email": _l("e-mail address"),
    "language": _l("language"),
    "password_level": _l("password security level"),
    "function": _l("function"),
    "office_phone": _l("office phone"),
    "mobile_phone": _l("mobile phone"),
}


# A check takes the field's value and the whole record; it answers a message or None.
FieldCheck = Callable[[Any, Mapping[str, Any]], str | None]


class InvalidField(DomainError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__("invalid_" + field, message)
        self.field = field


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@lru_cache(maxsize=4096)
def normalise_email(email: str) -> str:
    """The address as stored and shown: checked, normalised, lower-cased. It is compared through
    its login key (login_key_of), which every stored address has.

    Cached: checking a field and then storing it parse it once (an import batch does both)."""
    email = email.strip()
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidField(
            "email",
            _l(
                "The e-mail address must be at most {limit} characters long.",
                code="validation.email_too_long",
                limit=MAX_EMAIL_LENGTH,
            ),
        )
    try:
        checked = validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidField(
            "email",
            _l(
                "This is not an e-mail address we can use: {error} Check it and try again.",
                code="validation.email_invalid",
                error=str(error),
            ),
        ) from None
    stored = checked.normalized.lower()
    login_key_of(stored)  # an address whose spellings cannot be told apart is not stored
    return stored


def login_key_of(email: str) -> str:
    """The login key of an e-mail (bus.login.login_key), or InvalidField saying what is wrong."""
    try:
        return login_key(email)
    except NotAnAddress as refusal:
        raise InvalidField("email", refusal.message) from None


def region_of(language: str | None) -> str | None:
    """The country of a language tag (fr-FR → FR), the default for numbers without a +code."""
    if language and "-" in language:
        return language.rsplit("-", 1)[1].upper()
    return None


@lru_cache(maxsize=4096)
def normalise_phone(number: str, language: str | None = None) -> str:
    """The number in E.164 (+33123456789). Without a +country code, the language's country is
    assumed. Cached like normalise_email."""
    region = region_of(language)
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise InvalidField(
            "phone",
            _l(
                "This is not a phone number we can read; write it with its country code,"
                " e.g. {example}.",
                code="validation.phone_invalid",
                example=_example_number(region),
            ),
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _example_number(region: str | None) -> str:
    example = phonenumbers.example_number(region or "FR")
    if example is None:
        return "+33 1 23 45 67 89"
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _check_text(label: str, limit: int) -> FieldCheck:
    def check(value: Any, data: Mapping[str, Any]) -> str | None:
        if not isinstance(value, str):
            return _l("The {label} must be text.", code="validation.not_text", label=label)
        if len(unicodedata.normalize("NFC", value.strip())) > limit:
            return _l(
                "The {label} must be at most {limit} characters long.",
                code="validation.too_long",
                label=label,
                limit=limit,
            )
        return None

    return check


def _check_choice(label: str, choices: Iterable[str]) -> FieldCheck:
    choices = tuple(choices)

    def check(value: Any, data: Mapping[str, Any]) -> str | None:
        if value not in choices:
            return _l(
                "The {label} must be one of {choices}.",
                code="validation.not_a_choice",
                label=label,
                choices=", ".join(choices),
            )
        return None

    return check


def _check_email(value: Any, data: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return _l("The {label} must be text.", code="validation.not_text", label=LABELS["email"])
    try:
        normalise_email(value)
    except InvalidField as error:
        return error.message
    return None


def _check_level(value: Any, data: Mapping[str, Any]) -> str | None:
    level = value.strip() if isinstance(value, str) else value
    if isinstance(level, str) and level.isdecimal():
        level = int(level)
    if isinstance(level, bool) or level not in PASSWORD_LEVELS:
        choices = ", ".join(f"{n} ({PASSWORD_LEVEL_NAMES[n]})" for n in PASSWORD_LEVELS)
        return _l(
            "The {label} must be one of {choices}.",
            code="validation.not_a_choice",
            label=LABELS["password_level"],
            choices=choices,
        )
    return None


def _check_phone(value: Any, data: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return _l("The phone number must be text.", code="validation.not_text")
    language = data.get("language")
    try:
        normalise_phone(value, language if language in LANGUAGES else None)
    except InvalidField as error:
        return error.message
    return None


CHECKS: dict[str, FieldCheck] = {
    "title": _check_choice(LABELS["title"], TITLES),
    "last_name": _check_text(LABELS["last_name"], MAX_NAME_LENGTH),
    "first_name": _check_text(LABELS["first_name"], MAX_NAME_LENGTH),
    "email": _check_email,
    "language": _check_choice(LABELS["language"], LANGUAGES),
    "password_level": _check_level,
    "function": _check_text(LABELS["function"], MAX_FUNCTION_LENGTH),
    "office_phone": _check_phone,
    "mobile_phone": _check_phone,
}


def validate_user_fields(
    data: Mapping[str, Any],
    *,
    partial: bool = False,
    required: Iterable[str] = REQUIRED_FIELDS,
) -> dict[str, list[str]]:
    """Messages per field that is wrong; empty when all is well. Fields not in `CHECKS` are left
    to the caller.

    With `partial` (an update), only the fields present are checked, and a required field that
    is present must still not be blank. Phones without a +country code are read in the country
    of `data["language"]`: for an update, pass the user's language along.
    """
    required = set(required)
    errors: dict[str, list[str]] = {}
    for field, check in CHECKS.items():
        if field not in data and partial:
            continue
        value = data.get(field)
        if _blank(value):
            if field in required:
                errors[field] = [
                    _l("The {label} is required.", code="validation.required", label=LABELS[field])
                ]
            continue
        message = check(value, data)
        if message:
            errors[field] = [message]
    return errors

"""A user's person-facing fields: checked with the domain's rules, then put in their stored form."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from bus.contracts.vocabulary import LANGUAGES
from services.identity.domain.validation import (
    REQUIRED_FIELDS,
    normalise_email,
    normalise_phone,
    validate_user_fields,
)
from services.identity.service_layer.errors import Invalid

PROFILE_FIELDS = (
    "title",
    "last_name",
    "first_name",
    "language",
    "function",
    "office_phone",
    "mobile_phone",
)
ADMIN_FIELDS = (*PROFILE_FIELDS, "password_level")
CREATE_FIELDS = ("email", *ADMIN_FIELDS)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value)).strip()
    return text or None


def check_user_fields(
    data: Mapping[str, Any],
    *,
    partial: bool = False,
    required: Iterable[str] = REQUIRED_FIELDS,
    language: str | None = None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(stored values, errors per field) of the fields present in `data`.

    `language` is the user's current one, for reading national phone numbers in an update.
    """
    context = dict(data)
    if partial and "language" not in context and language:
        context["language"] = language
    errors = validate_user_fields(context, partial=partial, required=required)
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in errors:
            continue
        text = _text(value) if not isinstance(value, int) or isinstance(value, bool) else value
        if name == "email":
            values[name] = normalise_email(text) if text else None
        elif name in ("office_phone", "mobile_phone"):
            region_language = (
                context.get("language") if context.get("language") in LANGUAGES else None
            )
            values[name] = normalise_phone(text, region_language) if text else None
        elif name == "password_level":
            values[name] = int(text) if text is not None else None
        else:
            values[name] = text
    return values, errors


def clean_user_fields(data: Mapping[str, Any], **options: Any) -> dict[str, Any]:
    """The stored values of `data`, or Invalid naming every field that is wrong."""
    values, errors = check_user_fields(data, **options)
    if errors:
        raise Invalid(errors)
    return values

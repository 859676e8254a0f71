"""Check and normalise one data line: civility, names, e-mail, phones, language, security level."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from functools import partial
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError

from bus.contracts.emails import validate_address
from bus.contracts.vocabulary import LANGUAGES, PASSWORD_LEVEL_NAMES, PASSWORD_LEVELS
from bus.login import counting_key

from .model import COLUMNS, LINE, Anomaly, RowResult
from .seen import SeenEmails

MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 254
_MAX_PHONE_CHARS = 40

_TITLE_ALIASES = {
    "M": ("m", "mr", "mister", "monsieur"),
    "MME": ("mme", "mrs", "ms", "madame"),
    "MLE": ("mle", "mlle", "miss", "mademoiselle"),
}
_TITLES = {alias: title for title, aliases in _TITLE_ALIASES.items() for alias in aliases}
_LANGUAGES = {tag.casefold(): tag for tag in LANGUAGES}
_REGIONS = {tag: tag.split("-")[1] for tag in LANGUAGES}
_LEVELS = {str(level): level for level in PASSWORD_LEVELS}
_LEVEL_NAMES = [f"{level} ({PASSWORD_LEVEL_NAMES[level]})" for level in PASSWORD_LEVELS]
_LEVEL_HINT = ", ".join(_LEVEL_NAMES[:-1]) + " or " + _LEVEL_NAMES[-1]

# C0 controls, DEL, and the bidirectional overrides that can disguise a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_PHONE_CHARS = re.compile(r"[+0-9 ().\-/\u00a0]+")

_LABELS = {
    "civility": "civility",
    "last_name": "last name",
    "first_name": "first name",
    "email": "e-mail address",
    "phone": "phone number",
    "mobile": "mobile number",
    "language": "language code",
    "password_level": "security level",
}


class InvalidValue(ValueError):
    """A cell's value is not acceptable; the message says why, for a person."""


def normalise_title(text: str) -> str:
    """'Mrs', 'mme', 'Madame' -> 'MME'."""
    if not text:
        raise InvalidValue("The civility is missing. Use M (Mr), MME (Mrs) or MLE (Miss).")
    title = _TITLES.get(text.casefold()) or _TITLES.get(_fold(text))
    if title is None:
        raise InvalidValue(
            f"The civility {_show(text)} is not one we know. Use M (Mr), MME (Mrs) or MLE (Miss)."
        )
    return title


def normalise_name(text: str, label: str = "name") -> str:
    """A required name of at most MAX_NAME_CHARS characters, in Unicode NFC form."""
    if not text:
        raise InvalidValue(f"The {label} is missing.")
    name = text if text.isascii() else unicodedata.normalize("NFC", text)
    if len(name) > MAX_NAME_CHARS:
        raise InvalidValue(
            f"The {label} is {len(name):,} characters long; at most {MAX_NAME_CHARS} are allowed."
        )
    return name


def normalise_email(text: str) -> str:
    """A syntactically valid address (no DNS lookup), normalised and in lower case."""
    if not text:
        raise InvalidValue("The e-mail address is missing.")
    if len(text) > MAX_EMAIL_CHARS:
        raise InvalidValue(
            f"The e-mail address is {len(text):,} characters long; "
            f"at most {MAX_EMAIL_CHARS} are allowed."
        )
    try:
        normalised = validate_address(text)
    except EmailNotValidError as exc:
        raise InvalidValue(f"The e-mail address {_show(text)} is not valid: {exc}") from exc
    return normalised.lower()


def normalise_language(text: str) -> str:
    """'en_us', 'EN-US' -> 'en-US'."""
    if not text:
        raise InvalidValue(f"The language code is missing. Use one of: {', '.join(LANGUAGES)}.")
    tag = _LANGUAGES.get(text.replace("_", "-").casefold())
    if tag is None:
        raise InvalidValue(
            f"The language code {_show(text)} is not one we support. "
            f"Use one of: {', '.join(LANGUAGES)}."
        )
    return tag


def normalise_level(text: str) -> int:
    """'1', '2' or '3' -> the password security level."""
    if not text:
        raise InvalidValue(f"The security level is missing. Use {_LEVEL_HINT}.")
    level = _LEVELS.get(text)
    if level is None:
        raise InvalidValue(f"The security level {_show(text)} is not valid. Use {_LEVEL_HINT}.")
    return level


def normalise_phone(text: str, region: str | None, label: str = "phone number") -> str | None:
    """An optional phone number in E.164 form; national numbers are read in `region`."""
    if not text:
        return None
    advice = "Write it with digits, starting with + and the country code (e.g. +33 1 23 45 67 89)."
    if len(text) > _MAX_PHONE_CHARS or not _PHONE_CHARS.fullmatch(text):
        raise InvalidValue(f"The {label} {_show(text)} is not a phone number. {advice}")
    e164 = _e164(text, region)
    if e164 is None:
        where = f" in {region}" if region and not text.startswith(("+", "00")) else ""
        raise InvalidValue(f"The {label} {_show(text)} is not a valid number{where}. {advice}")
    return e164


@functools.lru_cache(maxsize=4096)
def _e164(text: str, region: str | None) -> str | None:
    """The number in E.164 form, or None when it is not valid (cached: the rows of one
    company often share a switchboard number, and phonenumbers is slow)."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class RowChecker:
    """Checks the data lines of one file in order; remembers e-mails to report duplicates (by
    login key, bus.login: two spellings of one address are one user).

    `check_email(text) -> normalised address` raises InvalidValue for a bad address; the
    default uses email-validator (syntax only, no DNS).
    """

    def __init__(
        self,
        separator: str = ";",
        check_email: Callable[[str], str] = normalise_email,
    ) -> None:
        self._separator = separator
        self._check_email = check_email
        self._seen = SeenEmails()

    def check(self, line: int, fields: list[str]) -> RowResult:
        """The result of one line, whose first physical line is `line`."""
        cells = fields if len(fields) == len(COLUMNS) else without_trailing_empty(fields)
        if len(cells) != len(COLUMNS):
            return RowResult(line, None, [Anomaly(line, LINE, self._count_message(cells))])
        texts: list[str | None] = [cell.strip() for cell in cells]
        anomalies: list[Anomaly] = []
        if _CONTROL.search("".join(cells)):
            for index, (name, text) in enumerate(zip(COLUMNS, cells, strict=True)):
                if _CONTROL.search(text.strip()):
                    anomalies.append(Anomaly(line, name, _control_message(name, text)))
                    texts[index] = None
        civility, last_name, first_name, email, phone, mobile, language, level = texts
        read = partial(_read, line, anomalies)
        language = read("language", normalise_language, language)
        region = _REGIONS.get(language)
        values = {
            "title": read("civility", normalise_title, civility),
            "last_name": read("last_name", normalise_name, last_name, "last name"),
            "first_name": read("first_name", normalise_name, first_name, "first name"),
            "email": read("email", self._check_email, email),
            "office_phone": read("phone", normalise_phone, phone, region) if phone else None,
            "mobile_phone": (
                read("mobile", normalise_phone, mobile, region, "mobile number") if mobile else None
            ),
            "language": language,
            "password_level": read("password_level", normalise_level, level),
        }
        if values["email"] is not None:
            first = self._seen.first_line(counting_key(values["email"]), line)
            if first is not None:
                anomalies.append(Anomaly(line, "email", _duplicate_message(values["email"], first)))
        if anomalies:
            anomalies.sort(key=lambda anomaly: COLUMNS.index(anomaly.field))
            return RowResult(line, None, anomalies)
        return RowResult(line, values, [])

    def _count_message(self, cells: list[str]) -> str:
        expected = ";".join(_LABELS[name] for name in COLUMNS)
        message = (
            f"This line has {len(cells)} column{'s' if len(cells) != 1 else ''}; "
            f"{len(COLUMNS)} are expected: {expected}."
        )
        if len(cells) == 1 and self._separator == ";" and cells[0].count(",") >= len(COLUMNS) - 1:
            return message + " It seems to use ',' as separator: use ';' as on the other lines."
        if len(cells) < len(COLUMNS):
            return message + " Leave empty columns in place (;;) rather than removing them."
        return message + " Check for an extra separator in a name, or put that name in quotes."


def _read(
    line: int,
    anomalies: list[Anomaly],
    field: str,
    normalise: Callable[..., Any],
    text: str | None,
    *args: Any,
) -> Any:
    """normalise(text, *args), or None with an anomaly; None text was already reported."""
    if text is None:
        return None
    try:
        return normalise(text, *args)
    except InvalidValue as exc:
        anomalies.append(Anomaly(line, field, str(exc)))
        return None


def _duplicate_message(email: str, first: int) -> str:
    return (
        f"The e-mail address {email} is already used on line {first} of this file; "
        "each user needs their own address."
    )


def without_trailing_empty(fields: list[str]) -> list[str]:
    """Drop empty cells after the last expected column (as spreadsheets often add)."""
    end = len(fields)
    while end > len(COLUMNS) and not fields[end - 1].strip():
        end -= 1
    return fields[:end] if end != len(fields) else fields


def _control_message(name: str, text: str) -> str:
    if "\x00" in text:
        what = "a NUL character"
    elif "\n" in text or "\r" in text:
        what = "a line break"
    else:
        what = "an invisible control character"
    return f"The {_LABELS[name]} contains {what}. Remove it and import the line again."


def _fold(text: str) -> str:
    """'Mlle.' -> 'mlle', 'Mádame' -> 'madame'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def _show(text: str, limit: int = 40) -> str:
    """A value quoted for a message: shortened, control characters made visible."""
    shown = _CONTROL.sub("?", text[: limit + 1])
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return f"'{shown}'"

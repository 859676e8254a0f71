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
from bus.contracts.vocabulary import LANGUAGES, PASSWORD_LEVELS
from bus.i18n import _l, joined
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
# The levels of bus.contracts.vocabulary.PASSWORD_LEVEL_NAMES, as a person reads them.
_LEVEL_HINT = _l("1 (weak), 2 (moderate) or 3 (strong)")
_LANGUAGE_HINT = ", ".join(LANGUAGES)

# C0 controls, DEL, and the bidirectional overrides that can disguise a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_PHONE_CHARS = re.compile(r"[+0-9 ().\-/\u00a0]+")

# Every message of a line is marked with _l and a stable code (import.*): the importer keeps
# it in English and French with its code and params (docs/api.md, "Import anomalies").
_LABELS = {
    "civility": _l("civility"),
    "last_name": _l("last name"),
    "first_name": _l("first name"),
    "email": _l("e-mail address"),
    "phone": _l("phone number"),
    "mobile": _l("mobile number"),
    "language": _l("language code"),
    "password_level": _l("security level"),
}


class InvalidValue(ValueError):
    """A cell's value is not acceptable; the message says why, for a person."""

    @property
    def message(self) -> str:
        """The message as raised (a bus.i18n.Message, with its code and params)."""
        return self.args[0]


def normalise_title(text: str) -> str:
    """'Mrs', 'mme', 'Madame' -> 'MME'."""
    if not text:
        raise InvalidValue(
            _l(
                "The civility is missing. Use M (Mr), MME (Mrs) or MLE (Miss).",
                code="import.civility_missing",
            )
        )
    title = _TITLES.get(text.casefold()) or _TITLES.get(_fold(text))
    if title is None:
        raise InvalidValue(
            _l(
                "The civility {value} is not one we know. Use M (Mr), MME (Mrs) or MLE (Miss).",
                code="import.civility_unknown",
                value=_show(text),
            )
        )
    return title


def normalise_name(text: str, label: str = _l("name")) -> str:
    """A required name of at most MAX_NAME_CHARS characters, in Unicode NFC form."""
    if not text:
        raise InvalidValue(_l("The {label} is missing.", code="import.name_missing", label=label))
    name = text if text.isascii() else unicodedata.normalize("NFC", text)
    if len(name) > MAX_NAME_CHARS:
        raise InvalidValue(
            _l(
                "The {label} is {length} characters long; at most {limit} are allowed.",
                code="import.name_too_long",
                label=label,
                length=len(name),
                limit=MAX_NAME_CHARS,
            )
        )
    return name


def normalise_email(text: str) -> str:
    """A syntactically valid address (no DNS lookup), normalised and in lower case."""
    if not text:
        raise InvalidValue(_l("The e-mail address is missing.", code="import.email_missing"))
    if len(text) > MAX_EMAIL_CHARS:
        raise InvalidValue(
            _l(
                "The e-mail address is {length} characters long; at most {limit} are allowed.",
                code="import.email_too_long",
                length=len(text),
                limit=MAX_EMAIL_CHARS,
            )
        )
    try:
        normalised = validate_address(text)
    except EmailNotValidError as exc:
        raise InvalidValue(
            _l(
                "The e-mail address {value} is not valid: {error}",
                code="import.email_invalid",
                value=_show(text),
                error=str(exc),
            )
        ) from exc
    return normalised.lower()


def normalise_language(text: str) -> str:
    """'en_us', 'EN-US' -> 'en-US'."""
    if not text:
        raise InvalidValue(
            _l(
                "The language code is missing. Use one of: {choices}.",
                code="import.language_missing",
                choices=_LANGUAGE_HINT,
            )
        )
    tag = _LANGUAGES.get(text.replace("_", "-").casefold())
    if tag is None:
        raise InvalidValue(
            _l(
                "The language code {value} is not one we support. Use one of: {choices}.",
                code="import.language_unknown",
                value=_show(text),
                choices=_LANGUAGE_HINT,
            )
        )
    return tag


def normalise_level(text: str) -> int:
    """'1', '2' or '3' -> the password security level."""
    if not text:
        raise InvalidValue(
            _l(
                "The security level is missing. Use {choices}.",
                code="import.level_missing",
                choices=_LEVEL_HINT,
            )
        )
    level = _LEVELS.get(text)
    if level is None:
        raise InvalidValue(
            _l(
                "The security level {value} is not valid. Use {choices}.",
                code="import.level_invalid",
                value=_show(text),
                choices=_LEVEL_HINT,
            )
        )
    return level


def normalise_phone(text: str, region: str | None, label: str = _LABELS["phone"]) -> str | None:
    """An optional phone number in E.164 form; national numbers are read in `region`."""
    if not text:
        return None
    if len(text) > _MAX_PHONE_CHARS or not _PHONE_CHARS.fullmatch(text):
        raise InvalidValue(
            _l(
                "The {label} {value} is not a phone number. Write it with digits, starting with"
                " + and the country code (e.g. +33 1 23 45 67 89).",
                code="import.phone_not_a_number",
                label=label,
                value=_show(text),
            )
        )
    e164 = _e164(text, region)
    if e164 is None:
        if region and not text.startswith(("+", "00")):
            raise InvalidValue(
                _l(
                    "The {label} {value} is not a valid number in {region}. Write it with digits,"
                    " starting with + and the country code (e.g. +33 1 23 45 67 89).",
                    code="import.phone_invalid",
                    label=label,
                    value=_show(text),
                    region=region,
                )
            )
        raise InvalidValue(
            _l(
                "The {label} {value} is not a valid number. Write it with digits, starting with"
                " + and the country code (e.g. +33 1 23 45 67 89).",
                code="import.phone_invalid",
                label=label,
                value=_show(text),
            )
        )
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
            "last_name": read("last_name", normalise_name, last_name, _LABELS["last_name"]),
            "first_name": read("first_name", normalise_name, first_name, _LABELS["first_name"]),
            "email": read("email", self._check_email, email),
            "office_phone": read("phone", normalise_phone, phone, region) if phone else None,
            "mobile_phone": (
                read("mobile", normalise_phone, mobile, region, _LABELS["mobile"])
                if mobile
                else None
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
        expected = joined((_LABELS[name] for name in COLUMNS), ";")
        count = len(cells)
        message = (
            _l(
                "This line has 1 column; {expected} are expected: {columns}.",
                expected=len(COLUMNS),
                columns=expected,
            )
            if count == 1
            else _l(
                "This line has {count} columns; {expected} are expected: {columns}.",
                count=count,
                expected=len(COLUMNS),
                columns=expected,
            )
        )
        if count == 1 and self._separator == ";" and cells[0].count(",") >= len(COLUMNS) - 1:
            hint = _l("It seems to use ',' as separator: use ';' as on the other lines.")
        elif count < len(COLUMNS):
            hint = _l("Leave empty columns in place (;;) rather than removing them.")
        else:
            hint = _l("Check for an extra separator in a name, or put that name in quotes.")
        return joined((message, hint), code="import.column_count")


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
        anomalies.append(Anomaly(line, field, exc.message))
        return None


def _duplicate_message(email: str, first: int) -> str:
    return _l(
        "The e-mail address {email} is already used on line {first} of this file;"
        " each user needs their own address.",
        code="import.email_repeated",
        email=email,
        first=first,
    )


def without_trailing_empty(fields: list[str]) -> list[str]:
    """Drop empty cells after the last expected column (as spreadsheets often add)."""
    end = len(fields)
    while end > len(COLUMNS) and not fields[end - 1].strip():
        end -= 1
    return fields[:end] if end != len(fields) else fields


def _control_message(name: str, text: str) -> str:
    label = _LABELS[name]
    code = "import.control_character"
    if "\x00" in text:
        return _l(
            "The {label} contains a NUL character. Remove it and import the line again.",
            code=code,
            label=label,
        )
    if "\n" in text or "\r" in text:
        return _l(
            "The {label} contains a line break. Remove it and import the line again.",
            code=code,
            label=label,
        )
    return _l(
        "The {label} contains an invisible control character. Remove it and import the line again.",
        code=code,
        label=label,
    )


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

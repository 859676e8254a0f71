"""Recognise the optional header line, in English or French, matched loosely."""

from __future__ import annotations

import re
import unicodedata

from .model import COLUMNS

# Accepted labels per column, as folded by `_fold` (lower case, no accents, letters/digits only).
_LABELS: dict[str, frozenset[str]] = {
    column: frozenset(labels.split())
    for column, labels in {
        "civility": "civility civilite title salutation",
        "last_name": "lastname nom surname familyname nomdefamille",
        "first_name": "firstname prenom givenname",
        "email": "email emailaddress mail courriel adresseemail adressemail adressecourriel "
        "adresseelectronique",
        "phone": "phone phonenumber officephone telephone tel telfixe",
        "mobile": "mobile mobilephone cellphone portable telephonemobile telephoneportable "
        "telmobile",
        "language": "language languagecode langue codelangue codedelangue",
        "password_level": "securitylevel niveaudesecurite niveausecurite passwordlevel "
        "passwordsecuritylevel level niveau",
    }.items()
}

_PARENTHESISED = re.compile(r"\([^)]*\)")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")

# A first line is a header when at least this many of its cells are column labels.
_MIN_LABELS = 4


def _fold(cell: str) -> str:
    """'Adresse e-mail (Optional)' -> 'adresseemail'."""
    text = _PARENTHESISED.sub("", cell)
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub("", text)


def column_of(cell: str) -> str | None:
    """The column a header cell names, or None."""
    folded = _fold(cell[:200])
    for column, labels in _LABELS.items():
        if folded in labels:
            return column
    return None


class HeaderVerdict:
    """Whether a first record is a header, and whether its columns are in the expected order."""

    def __init__(self, fields: list[str]) -> None:
        named = [column_of(cell) for cell in fields[: len(COLUMNS) + 2]]
        recognised = [(i, col) for i, col in enumerate(named) if col is not None]
        self.is_header = len(recognised) >= _MIN_LABELS
        self.misplaced = [col for i, col in recognised if i >= len(COLUMNS) or COLUMNS[i] != col]

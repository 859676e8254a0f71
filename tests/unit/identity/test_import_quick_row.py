"""An import row's short path (quick_row) vouches only for what check_row accepts, with the same
stored values, and the login key bus.login gives; the common row takes it."""

from __future__ import annotations

import itertools
import random

from services.identity.domain.validation import login_key_of
from services.identity.service_layer.imports import check_row, quick_row

TITLES = ["M", "MME", "MLE", " M", "Mme", "X", "", None, 3]
NAMES = ["Martin", "  Dupont ", "Éloïse", "e\u0301lo", "", "   ", None, "x" * 100, "x" * 101, 12]
EMAILS = [
    "claire.martin@example.com",
    "Claire.Martin@Example.COM",
    " padded@example.com ",
    "POSTMASTER@example.com",
    "ANNA@xn--bcher-kva.example",
    "anna@bücher.example",
    "a@localhost",
    "bad",
    "",
    None,
]
PHONES = [
    None,
    "",
    "   ",
    "+33 1 23 45 67 89",
    "01 23 45 67 89",
    " +44 20 7946 0958 ",
    "+44 20 7946 0958",
    "123",
    "+33 1 23 45 67 8",
    "０１ ２３ ４５ ６７ ８９",
    5,
]
LANGUAGES = ["fr-FR", "en-GB", "de-DE", "fr", "", None]
LEVELS = ["1", "2", "3", 1, 2, 3, " 2", "02", "4", 0, "", None, True, 2.0]


def _rows(count: int) -> list[dict[str, object]]:
    """Rows whose every field is most often the plain case (the first), else any case."""
    chance = random.Random(14)

    def pick(options: list[object]) -> object:
        return options[0] if chance.random() < 0.75 else chance.choice(options)

    return [
        {
            "line": line,
            "title": pick(TITLES),
            "last_name": pick(NAMES),
            "first_name": pick(NAMES),
            "email": pick(EMAILS),
            "office_phone": pick(PHONES),
            "mobile_phone": pick(PHONES),
            "language": pick(LANGUAGES),
            "password_level": pick(LEVELS),
        }
        for line in range(2, count + 2)
    ]


def test_the_short_path_answers_what_the_long_one_does_whenever_it_answers() -> None:
    vouched = 0
    for row in _rows(4000):
        quick = quick_row(row)
        if quick is None:
            continue
        vouched += 1
        values, key = quick
        expected, errors = check_row(row)
        assert not errors, (row, errors)
        assert values == expected, row
        assert key == login_key_of(expected["email"]), row
    assert vouched > 100  # the generator gives the short path something to vouch for


def test_a_common_row_takes_the_short_path() -> None:
    for phone, level in itertools.product(("+33 1 23 45 67 89", "", None), ("2", 2)):
        row = {
            "line": 2,
            "title": "MME",
            "last_name": "Martin",
            "first_name": "Claire",
            "email": "Claire.Martin@Example.com",
            "office_phone": phone,
            "mobile_phone": None,
            "language": "fr-FR",
            "password_level": level,
        }
        quick = quick_row(row)
        assert quick is not None, row
        assert quick[0]["email"] == "claire.martin@example.com"
        assert quick[0]["office_phone"] == ("+33123456789" if phone else None)
        assert quick[0]["password_level"] == 2

"""A generated import file with planted anomalies, and the (line, field) pairs it must give.

Shared by the domain test (test_planted.py) and the service test of the importer
(tests/service/importer/test_planted_service.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

HEADER = "Civilité;Nom;Prénom;Adresse e-mail;Téléphone;Mobile;Code langue;Niveau de sécurité"

# field -> how to spoil a line for it (each returns the cells to replace)
PLANTS: dict[str, Callable[[int], dict[str, str]] | None] = {
    "civility": lambda n: {"civility": "Dr"},
    "last_name": lambda n: {"last_name": ""},
    "first_name": lambda n: {"first_name": "F" * 101},
    "email": lambda n: {"email": f"user{n}.example.com"},
    "phone": lambda n: {"phone": "+685 XX XX XX"},
    "mobile": lambda n: {"mobile": "12"},
    "language": lambda n: {"language": "klingon"},
    "password_level": lambda n: {"password_level": "4"},
    "line": None,  # three columns only
    "duplicate": None,  # the e-mail of an earlier valid line
}


def user_line(n: int, **cells: str) -> str:
    """A valid `;`-separated line for user n, with some cells replaced (by column name)."""
    row = {
        "civility": "MME" if n % 2 else "M",
        "last_name": f"Martin{n}",
        "first_name": f"Claire{n}",
        "email": f"claire.martin{n}@example.com",
        "phone": "",
        "mobile": "",
        "language": "fr-FR",
        "password_level": "2",
    }
    row.update(cells)
    return ";".join(row.values())


@dataclass
class PlantedFile:
    """The file's bytes (cp1252, CRLF, French header) and what it must give."""

    content: bytes
    expected: list[tuple[int, str]]  # (physical line, field) of every planted anomaly
    first_line_of_row: dict[int, int]  # data row -> its physical line
    rows: int
    valid: int


def planted_file(rows: int = 1000, plants: int = 50, seed: int = 20240531) -> PlantedFile:
    """`rows` user lines (blank lines among them) of which `plants` are spoilt, one per kind
    in turn; every other line is valid (some with phone numbers)."""
    rng = random.Random(seed)
    planted_rows = sorted(rng.sample(range(10, rows), plants))
    kinds = [list(PLANTS)[i % len(PLANTS)] for i in range(plants)]
    rng.shuffle(kinds)
    plant = dict(zip(planted_rows, kinds, strict=True))

    lines = [HEADER]
    expected: list[tuple[int, str]] = []
    first_line_of_row: dict[int, int] = {}
    for row in range(rows):
        if rng.random() < 0.05:
            lines.append("")  # blank lines are skipped but still count as physical lines
        physical = len(lines) + 1
        first_line_of_row[row] = physical
        kind = plant.get(row)
        spoil = PLANTS.get(kind) if kind else None
        if kind == "line":
            lines.append("M;Martin;Paul")
            expected.append((physical, "line"))
        elif kind == "duplicate":
            earlier = rng.choice([r for r in range(row) if r not in plant])
            lines.append(user_line(rows + row, email=f"claire.martin{earlier}@example.com"))
            expected.append((physical, "email"))
        elif kind is not None and spoil is not None:
            lines.append(user_line(row, **spoil(row)))
            expected.append((physical, kind))
        else:
            phone = "01 23 45 67 89" if row % 3 == 0 else ""
            lines.append(user_line(row, phone=phone, mobile=phone and "06 12 34 56 78"))
    content = ("\r\n".join(lines) + "\r\n").encode("cp1252")
    return PlantedFile(content, expected, first_line_of_row, rows, rows - plants)

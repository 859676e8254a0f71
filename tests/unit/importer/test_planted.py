"""A generated 1,000-row file with 50 planted anomalies: exactly those are reported."""

from __future__ import annotations

import io
import random

from services.importer.domain import parse_upload

HEADER = "Civilité;Nom;Prénom;Adresse e-mail;Téléphone;Mobile;Code langue;Niveau de sécurité"

# field -> how to spoil a line for it (each returns the cells to replace)
PLANTS = {
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


def test_exactly_the_planted_anomalies_are_reported(user_line) -> None:
    rng = random.Random(20240531)
    planted_rows = sorted(rng.sample(range(10, 1000), 50))
    kinds = [list(PLANTS)[i % len(PLANTS)] for i in range(50)]
    rng.shuffle(kinds)
    plant = dict(zip(planted_rows, kinds, strict=True))

    lines = [HEADER]
    expected: list[tuple[int, str]] = []
    first_line_of_row: dict[int, int] = {}
    for row in range(1000):
        if rng.random() < 0.05:
            lines.append("")  # blank lines are skipped but still count as physical lines
        physical = len(lines) + 1
        first_line_of_row[row] = physical
        kind = plant.get(row)
        if kind == "line":
            lines.append("M;Martin;Paul")
            expected.append((physical, "line"))
        elif kind == "duplicate":
            earlier = rng.choice([r for r in range(row) if r not in plant])
            lines.append(user_line(1000 + row, email=f"claire.martin{earlier}@example.com"))
            expected.append((physical, "email"))
        elif kind is not None:
            lines.append(user_line(row, **PLANTS[kind](row)))
            expected.append((physical, kind))
        else:
            phone = "01 23 45 67 89" if row % 3 == 0 else ""
            lines.append(user_line(row, phone=phone, mobile=phone and "06 12 34 56 78"))
    assert len(expected) == 50
    upload = io.BytesIO(("\r\n".join(lines) + "\r\n").encode("cp1252"))

    parsed = parse_upload(upload, "planted.csv")
    results = list(parsed.rows())

    reported = [(a.line, a.field) for result in results for a in result.anomalies]
    assert reported == expected
    assert len(results) == 1000 == parsed.count_rows()
    assert sum(result.ok for result in results) == 950
    assert parsed.encoding == "cp1252" and parsed.has_header
    duplicates = [a for r in results for a in r.anomalies if "already used" in a.message]
    for anomaly in duplicates:
        row = int(anomaly.message.split("claire.martin")[1].split("@")[0])
        assert f"on line {first_line_of_row[row]} " in anomaly.message

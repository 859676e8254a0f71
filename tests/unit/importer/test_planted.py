"""A generated 1,000-row file with 50 planted anomalies: exactly those are reported."""

from __future__ import annotations

import io

from services.importer.domain import parse_upload
from tests.unit.importer.planted import planted_file


def test_exactly_the_planted_anomalies_are_reported() -> None:
    planted = planted_file(rows=1000, plants=50)
    assert len(planted.expected) == 50

    parsed = parse_upload(io.BytesIO(planted.content), "planted.csv")
    results = list(parsed.rows())

    reported = [(a.line, a.field) for result in results for a in result.anomalies]
    assert reported == planted.expected
    assert len(results) == 1000 == parsed.count_rows()
    assert sum(result.ok for result in results) == 950
    assert parsed.encoding == "cp1252" and parsed.has_header
    duplicates = [a for r in results for a in r.anomalies if "already used" in a.message]
    for anomaly in duplicates:
        row = int(anomaly.message.split("claire.martin")[1].split("@")[0])
        assert f"on line {planted.first_line_of_row[row]} " in anomaly.message

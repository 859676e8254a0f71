"""Odd files never crash the importer: each is refused as a whole or read line by line."""

from __future__ import annotations

import io
import random

import pytest

from services.importer.domain import FileRejected, parse_upload, write_report

CELLS = [
    "M", "Mme", "", " ", '"', 'a"b', '"q;uoted"', '"multi\nline"', "x@y.com", "X@Y.COM", "é",
    "\x00", "+33 1 23 45 67 89", "fr-FR", "en_us", "2", "4", "Dupont", "=1+1", ";", ",", "\r",
    "Civility", "z" * 200, "\ufeff", "\u2028", "\x81",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(300))
def test_random_csv_like_files_are_refused_or_read_line_by_line(seed: int) -> None:
    rng = random.Random(seed)
    lines = [
        ";".join(rng.choice(CELLS) for _ in range(rng.choice([8, 8, 8, 7, 9, 1, 3, 40])))
        for _ in range(rng.randint(0, 25))
    ]
    newline = rng.choice(["\n", "\r\n", "\r"])
    data = newline.join(lines).encode(rng.choice(["utf-8", "cp1252"]), errors="ignore")
    if rng.random() < 0.1:
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 200))) + data
    try:
        parsed = parse_upload(io.BytesIO(data), "random.csv")
    except FileRejected as rejected:
        assert rejected.code and len(rejected.messages) == 2
        return
    results = list(parsed.rows())
    assert len(results) == parsed.count_rows()
    lines_seen = [result.line for result in results]
    assert lines_seen == sorted(set(lines_seen))
    for result in results:
        assert (result.values is None) == bool(result.anomalies)
    write_report([a for result in results for a in result.anomalies], io.StringIO())

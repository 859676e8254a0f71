"""Every file of tests/data/import against the outcome declared in its expected.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.importer.domain import FileRejected, parse_upload

CORPUS = Path(__file__).resolve().parents[2] / "data" / "import"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))


def test_corpus_is_large_enough_and_complete() -> None:
    on_disk = {path.name for path in CORPUS.iterdir()} - {"expected.json", "make_corpus.py"}
    assert len(EXPECTED) >= 30
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_file_gives_its_expected_outcome(name: str) -> None:
    expected = EXPECTED[name]
    with (CORPUS / name).open("rb") as stream:
        if "file_error" in expected:
            with pytest.raises(FileRejected) as caught:
                parse_upload(stream, name)
            assert expected["file_error"] in " ".join(caught.value.messages)
            return
        parsed = parse_upload(stream, name)
        results = list(parsed.rows())
    anomalies = [[a.line, a.field] for result in results for a in result.anomalies]
    assert anomalies == expected["anomalies"]
    assert len(results) == expected["rows"] == parsed.count_rows()
    assert sum(result.ok for result in results) == expected["valid"]
    for result in results:
        assert (result.values is None) == bool(result.anomalies)
        assert all(a.message and a.line == result.line for a in result.anomalies)

"""docs/security.md keeps its promise: one row per OWASP ASVS 4.0.3 requirement of levels 1 and 2 in
chapters V2, V3, V4, V5, V7, V8 and V13, each met with a test that exists, or n/a or not met with
a reason; and its summary counts the rows as they are.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "security.md"

# id:level of every level 1 and 2 requirement of the seven chapters (ASVS 4.0.3, its flat JSON export)
REQUIREMENTS = dict(
    item.split(":")
    for item in """
V2.1.1:1 V2.1.2:1 V2.1.3:1 V2.1.4:1 V2.1.5:1 V2.1.6:1 V2.1.7:1 V2.1.8:1 V2.1.9:1 V2.1.10:1
V2.1.11:1 V2.1.12:1 V2.2.1:1 V2.2.2:1 V2.2.3:1 V2.3.1:1 V2.3.2:2 V2.3.3:2 V2.4.1:2 V2.4.2:2
V2.4.3:2 V2.4.4:2 V2.4.5:2 V2.5.1:1 V2.5.2:1 V2.5.3:1 V2.5.4:1 V2.5.5:1 V2.5.6:1 V2.5.7:2 V2.6.1:2
V2.6.2:2 V2.6.3:2 V2.7.1:1 V2.7.2:1 V2.7.3:1 V2.7.4:1 V2.7.5:2 V2.7.6:2 V2.8.1:1 V2.8.2:2 V2.8.3:2
V2.8.4:2 V2.8.5:2 V2.8.6:2 V2.8.7:2 V2.9.1:2 V2.9.2:2 V2.9.3:2 V2.10.1:2 V2.10.2:2 V2.10.3:2
V2.10.4:2 V3.1.1:1 V3.2.1:1 V3.2.2:1 V3.2.3:1 V3.2.4:2 V3.3.1:1 V3.3.2:1 V3.3.3:2 V3.3.4:2 V3.4.1:1
V3.4.2:1 V3.4.3:1 V3.4.4:1 V3.4.5:1 V3.5.1:2 V3.5.2:2 V3.5.3:2 V3.7.1:1 V4.1.1:1 V4.1.2:1 V4.1.3:1
V4.1.5:1 V4.2.1:1 V4.2.2:1 V4.3.1:1 V4.3.2:1 V4.3.3:2 V5.1.1:1 V5.1.2:1 V5.1.3:1 V5.1.4:1 V5.1.5:1
V5.2.1:1 V5.2.2:1 V5.2.3:1 V5.2.4:1 V5.2.5:1 V5.2.6:1 V5.2.7:1 V5.2.8:1 V5.3.1:1 V5.3.2:1 V5.3.3:1
V5.3.4:1 V5.3.5:1 V5.3.6:1 V5.3.7:1 V5.3.8:1 V5.3.9:1 V5.3.10:1 V5.4.1:2 V5.4.2:2 V5.4.3:2 V5.5.1:1
V5.5.2:1 V5.5.3:1 V5.5.4:1 V7.1.1:1 V7.1.2:1 V7.1.3:2 V7.1.4:2 V7.2.1:2 V7.2.2:2 V7.3.1:2 V7.3.3:2
V7.3.4:2 V7.4.1:1 V7.4.2:2 V7.4.3:2 V8.1.1:2 V8.1.2:2 V8.1.3:2 V8.1.4:2 V8.2.1:1 V8.2.2:1 V8.2.3:1
V8.3.1:1 V8.3.2:1 V8.3.3:1 V8.3.4:1 V8.3.5:2 V8.3.6:2 V8.3.7:2 V8.3.8:2 V13.1.1:1 V13.1.3:1
V13.1.4:2 V13.1.5:2 V13.2.1:1 V13.2.2:1 V13.2.3:1 V13.2.5:2 V13.2.6:2 V13.3.1:1 V13.3.2:2 V13.4.1:2
V13.4.2:2
""".split()
)
STATUSES = ("met", "n/a", "not met")
CITATION = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def rows() -> list[dict[str, str]]:
    found = []
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        if re.match(r"\| V\d+\.\d+\.\d+ ", line):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            assert len(cells) == 5, line
            found.append(
                {
                    "id": cells[0].split()[0],
                    "level": cells[1],
                    "status": cells[2],
                    "how": cells[3],
                    "tests": cells[4],
                }
            )
    return found


def test_one_row_per_requirement_at_its_level():
    ids = [row["id"] for row in rows()]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert sorted(set(REQUIREMENTS) - set(ids)) == [], "requirements without a row"
    assert sorted(set(ids) - set(REQUIREMENTS)) == [], "rows of no level 1-2 requirement"
    assert [row["id"] for row in rows() if row["level"] != REQUIREMENTS[row["id"]]] == []


def test_every_row_is_met_with_a_test_or_says_why_not():
    for row in rows():
        assert row["status"] in STATUSES, row
        assert len(row["how"]) >= 20, row
        if row["status"] == "met":
            assert CITATION.search(row["tests"]), f"{row['id']} is met without a test"
        if row["status"] == "not met":
            assert "Missing" in row["how"] or "planned" in row["how"], (
                f"{row['id']} does not say what is missing"
            )


def test_every_test_named_exists():
    missing = []
    for row in rows():
        for path, name in CITATION.findall(row["tests"]):
            source = ROOT / path
            if not source.is_file():
                missing.append(f"{row['id']}: {path}")
            elif name and not re.search(
                rf"^(async )?def {name}\(", source.read_text(encoding="utf-8"), re.M
            ):
                missing.append(f"{row['id']}: {path}::{name}")
    assert missing == []


def test_the_summary_counts_the_rows():
    text = PAGE.read_text(encoding="utf-8")
    counted = Counter((row["id"].split(".")[0], row["status"]) for row in rows())
    for chapter in ("V2", "V3", "V4", "V5", "V7", "V8", "V13"):
        line = re.search(rf"^\| {chapter} [^|]+\| (\d+) \| (\d+) \| (\d+) \|$", text, re.M)
        assert line, f"no summary line for {chapter}"
        assert tuple(map(int, line.groups())) == tuple(counted[(chapter, s)] for s in STATUSES), (
            chapter
        )

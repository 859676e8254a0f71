"""deploy/README.md's configuration reference lists every PORTICO_* variable the code reads, and no other."""

from __future__ import annotations

import re

from portico import parts
from tests.unit.deploy.sources import ROOT, code_variables, deploy_variables, expand

README = ROOT / "deploy" / "README.md"


def documented() -> set[str]:
    """The names in the first column of the table under "## Configuration reference"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(PORTICO_[A-Z0-9_<>]+)` \|", section, re.M))


def covered(names: set[str]) -> set[str]:
    return set().union(*(expand(name, parts.PARTS) for name in names)) if names else set()


def test_every_variable_the_code_reads_is_documented():
    read = {**code_variables(), **deploy_variables()}
    table = covered(documented())
    missing = {name: sorted(files) for name, files in read.items() if not covered({name}) <= table}
    assert not missing, f"add these to the configuration reference of deploy/README.md: {missing}"


def test_every_documented_variable_is_read_somewhere():
    read = covered(set(code_variables()) | set(deploy_variables()))
    stale = sorted(name for name in documented() if not covered({name}) & read)
    assert not stale, f"deploy/README.md documents variables nothing reads: {stale}"


def test_the_table_has_a_default_and_a_meaning_for_each_row():
    section = (
        README.read_text(encoding="utf-8")
        .split("## Configuration reference", 1)[1]
        .split("\n## ", 1)[0]
    )
    rows = [line for line in section.splitlines() if line.startswith("| `PORTICO_")]
    assert len(rows) == len(documented())
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) >= 4 and all(cells[:4]), f"incomplete row: {row}"

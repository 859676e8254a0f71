"""The repository's docs point inside the repository: no file names a document kept elsewhere,
and every document path a Markdown page names exists (a reader of a clean clone can open it)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Design notes kept beside the repository once, under these names; the repository has its own
# (docs/api.md, docs/architecture.md). Spelt in two halves so this file does not name them.
OUTSIDE = re.compile(
    r"(?<![\w/-])(" + "API|DESIGN|STYLE" + r")\.md\b|\.\./" + "shared/|\\bshared/" + "(API|DESIGN)"
)
NEVER_COMMITTED = {
    ".git",
    ".venv",
    "var",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "portico.egg-info",
    "screenshots",
}
DOC_PATH = re.compile(r"`((?:[\w.-]+/)*[\w.-]+\.md)`")


def tracked_files() -> list[Path]:
    """The repository's files: git's list in a clone, else the tree less what is never committed."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        return [ROOT / name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        return [
            path
            for path in ROOT.rglob("*")
            if path.is_file() and not NEVER_COMMITTED & set(path.parts)
        ]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None


def test_no_file_names_a_document_outside_the_repository():
    offenders = []
    for path in tracked_files():
        text = text_of(path)
        for number, line in enumerate((text or "").splitlines(), start=1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_every_document_a_markdown_page_names_exists():
    missing = []
    pages = [path for path in tracked_files() if path.suffix == ".md"]
    assert ROOT / "docs" / "api.md" in pages and ROOT / "docs" / "architecture.md" in pages
    for page in pages:
        for named in DOC_PATH.findall(text_of(page) or ""):
            if not ((ROOT / named).exists() or (page.parent / named).exists()):
                missing.append(f"{page.relative_to(ROOT)} names {named}")
    assert missing == []


def test_the_pattern_finds_what_a_reader_would_call_an_outside_document():
    # Each spelt in pieces, so that this file does not name them itself.
    assert OUTSIDE.search("The public contract is `../" + "sha" + "red/AP" + "I.md`.")
    assert OUTSIDE.search('"""Settings (' + "AP" + 'I.md, "Starting it")."""')
    assert OUTSIDE.search("# the policy of " + "DES" + "IGN.md")
    assert not OUTSIDE.search("The public API is `docs/api.md`; see docs/internal-api.md.")

"""Every message a person can meet exists in French, and the catalogs say what the code says.

- the catalogs are up to date with the code: `pybabel extract` run again (with the Makefile's
  options) finds exactly the msgids of each catalog (else: run `make messages`);
- every msgid of every catalog has a French translation (and the pages' keys an English one),
  none fuzzy, with the same {placeholders} as the msgid;
- the compiled .mo files the parts load hold what the .po files say (else: `make messages`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.support import Translations

ROOT = Path(__file__).resolve().parents[3]
# The catalog folders of the Makefile's `messages` target, and the pages' catalog.
API_CATALOGS = (
    "bus",
    "gateway",
    "services/identity",
    "services/subscriptions",
    "services/notifications",
    "services/importer",
)
# (folder, domain, languages, pybabel keywords, the paths extracted)
CATALOGS = [(folder, "messages", ("fr",), ("_l",), (folder,)) for folder in API_CATALOGS] + [
    (
        "gateway",
        "pages",
        ("en", "fr"),
        ("_", "translate", "N_"),
        ("gateway/web", "gateway/templates"),
    )
]
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def pybabel() -> str:
    found = Path(sys.executable).with_name("pybabel")
    return str(found) if found.exists() else (shutil.which("pybabel") or "pybabel")


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def ids(catalog: Catalog) -> set[str]:
    return {message.id for message in catalog if message.id and isinstance(message.id, str)}


@pytest.mark.parametrize(("folder", "domain", "languages", "keywords", "paths"), CATALOGS)
def test_the_catalog_holds_every_message_of_the_code(
    tmp_path, folder, domain, languages, keywords, paths
):
    extracted = tmp_path / f"{domain}.pot"
    command = [pybabel(), "-q", "extract", "-F", "babel.cfg", "--no-default-keywords"]
    for keyword in keywords:
        command += ["-k", keyword]
    command += ["--no-location", "--omit-header", "-o", str(extracted), *paths]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
    in_code = ids(read(extracted))
    for lang in languages:
        in_catalog = ids(
            read(ROOT / folder / "translations" / lang / "LC_MESSAGES" / f"{domain}.po")
        )
        assert in_code - in_catalog == set(), f"{folder} {lang}: new messages; run make messages"
        assert in_catalog - in_code == set(), f"{folder} {lang}: messages gone; run make messages"


@pytest.mark.parametrize(("folder", "domain", "languages", "keywords", "paths"), CATALOGS)
def test_every_message_has_its_translation(folder, domain, languages, keywords, paths):
    for lang in languages:
        catalog = read(ROOT / folder / "translations" / lang / "LC_MESSAGES" / f"{domain}.po", lang)
        untranslated = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
        assert untranslated == [], f"{folder} {domain} {lang}: write these: {untranslated}"
        for message in catalog:
            if not message.id or domain == "pages":
                continue
            assert set(PLACEHOLDER.findall(message.string)) <= set(
                PLACEHOLDER.findall(message.id)
            ), f"{folder} {lang}: a placeholder the English text lacks in {message.string!r}"


@pytest.mark.parametrize(("folder", "domain", "languages", "keywords", "paths"), CATALOGS)
def test_the_compiled_catalog_is_the_written_one(folder, domain, languages, keywords, paths):
    for lang in languages:
        directory = ROOT / folder / "translations"
        written = read(directory / lang / "LC_MESSAGES" / f"{domain}.po", lang)
        compiled = Translations.load(str(directory), [lang], domain)
        stale = [m.id for m in written if m.id and compiled.gettext(m.id) != m.string]
        assert stale == [], f"{folder} {domain} {lang}: the .mo is older; run make messages"

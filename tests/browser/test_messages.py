"""The pages' catalogs (gateway/translations/{en,fr}/LC_MESSAGES/pages.po): the same keys in
English and French, and every key the pages use exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bus.contracts import vocabulary as v
from gateway.web.i18n import catalog
from gateway.web.pages.content import CONTENT

pytestmark = pytest.mark.browser

EN, FR = catalog("en"), catalog("fr")

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
QUOTED = re.compile(r"""["']([a-z_]+\.[a-z_.]+)["']""")
LITERAL = re.compile(r"""(?:\b_|translate)\(\s*["']([a-z0-9_.-]+)["']\s*[,)]""")


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*GATEWAY.glob("templates/web/*.html"), *GATEWAY.glob("web/**/*.py")]:
        keys.update(key for key in LITERAL.findall(path.read_text(encoding="utf-8")) if "." in key)
    groups = {key.split(".", 1)[0] for key in EN}
    for path in GATEWAY.glob("web/pages/*.py"):
        for key in QUOTED.findall(path.read_text(encoding="utf-8")):
            if key.split(".", 1)[0] in groups and not key.endswith((".", ".html", ".csv")):
                keys.add(key)
    keys.update(
        f"error.{code}.{part}"
        for code in (400, 403, 404, 409, 410, 413, 429, 500, 503)
        for part in ("title", "text")
    )
    keys.update(f"link.{state}.title" for state in ("used", "unknown"))
    keys.update(
        f"link.{kind}.{state}"
        for kind in ("activation", "reset", "email")
        for state in ("used", "unknown")
    )
    keys.update(f"content.{name}" for name in CONTENT)
    keys.update(f"import.col{n}{suffix}" for n in range(1, 9) for suffix in ("", "_text"))
    for group, values in (
        ("title", v.TITLES),
        ("language", v.LANGUAGES),
        ("family", v.FAMILIES),
        ("subscription_status", v.SUBSCRIPTION_STATUSES),
        ("user_status", v.USER_STATUSES),
        ("level", v.PASSWORD_LEVELS),
        ("relation", v.RELATIONS),
    ):
        keys.update(f"{group}.{value}" for value in values)
    return keys


def test_english_and_french_have_the_same_keys() -> None:
    assert sorted(set(EN) - set(FR)) == []
    assert sorted(set(FR) - set(EN)) == []


def test_every_key_the_pages_use_is_in_the_catalog() -> None:
    assert sorted(used_keys() - set(EN)) == []


def test_placeholders_match_between_languages() -> None:
    fields = re.compile(r"\{(\w+)\}")
    for key, text in EN.items():
        assert set(fields.findall(text)) == set(fields.findall(FR[key])), key
        assert '"' not in text and '"' not in FR[key], (
            f"{key}: a straight double quote breaks attributes"
        )

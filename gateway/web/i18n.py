"""The pages in English and French: which language a request gets, and how words and dates read.

The language is the signed-in user's `language`, else the one the browser prefers
(Accept-Language), else English. The pages' texts are Babel catalogs,
`gateway/translations/{en,fr}/LC_MESSAGES/pages.po` (compiled to `.mo` by `make messages`): the
msgids are keys (`nav.skip`), the English and the French texts their translations. Placeholders
are str.format fields ({n}, {title}), escaped when filled; texts avoid straight double quotes so
that they can sit in an HTML attribute. docs/developing.md, "A message in English and French".
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import Translations
from flask import g, request
from markupsafe import Markup, escape

from bus import i18n as bus_i18n

SUPPORTED = ("en", "fr")
DEFAULT = "en"
CATALOGS = Path(__file__).resolve().parents[1] / "translations"
DOMAIN = "pages"


def N_(key: str) -> str:
    """Mark a key the code builds at run time (gateway/web/page_keys.py): `make messages` keeps it."""
    return key


@cache
def catalog(lang: str) -> dict[str, str]:
    """The page texts of `lang`, by key (read once from the compiled catalog)."""
    translations = Translations.load(str(CATALOGS), [lang], DOMAIN)
    texts = getattr(translations, "_catalog", {})
    return {key: text for key, text in texts.items() if isinstance(key, str) and key and text}


def has(key: str) -> bool:
    """Whether `key` is a page text (in English, which has every key)."""
    return key in catalog(DEFAULT)


def primary(tag: str | None) -> str | None:
    """'fr-FR' -> 'fr' when French or English is meant; None for any other language."""
    if not tag:
        return None
    base = tag.replace("_", "-").split("-", 1)[0].lower()
    return base if base in SUPPORTED else None


def choose(user_language: str | None = None) -> str:
    """The page language: the user's own, else the browser's preference, else English."""
    return (
        primary(user_language)
        or request.accept_languages.best_match(SUPPORTED, default=DEFAULT)
        or DEFAULT
    )


def set_language(lang: str, tag: str | None = None) -> None:
    g.web_lang = lang if lang in SUPPORTED else DEFAULT
    bus_i18n.choose_language(g.web_lang)  # a problem this request answers speaks it too
    g.web_lang_tag = (
        tag if primary(tag) == g.web_lang else ("fr-FR" if g.web_lang == "fr" else "en-GB")
    )


def current() -> str:
    if "web_lang" not in g:
        set_language(choose())
    return g.web_lang


def current_tag() -> str:
    current()
    return g.web_lang_tag


def translate(key: str, **params: Any) -> str:
    """The message `key` in the page language (English when French lacks it), filled with params.

    Params are escaped when the result is used in a template; the message itself is trusted text.
    """
    text = catalog(current()).get(key) or catalog(DEFAULT).get(key) or key
    if params:
        safe = {
            name: escape(value) if isinstance(value, str) else value
            for name, value in params.items()
        }
        return Markup(text).format(**safe)
    return text


def format_date(value: Any) -> str:
    """YYYY-MM-DD or an ISO instant as the language writes a day: 2/21/2019 (en-US), 21/02/2019."""
    day = _as_date(value)
    if day is None:
        return "" if value in (None, "") else str(value)
    if current_tag() == "en-US":
        return f"{day.month}/{day.day}/{day.year}"
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def format_instant(value: Any) -> str:
    """An ISO instant as date and time (UTC, said so): 2/21/2019 3:34 PM UTC, 21/02/2019 15:34 UTC."""
    moment = _as_datetime(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    day = format_date(moment.date())
    if current_tag() == "en-US":
        hour = moment.hour % 12 or 12
        return f"{day} {hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'} UTC"
    return f"{day} {moment.hour:02d}:{moment.minute:02d} UTC"


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    moment = _as_datetime(value)
    if moment is not None:
        return moment.date()
    return None


def word(group: str, value: Any) -> str:
    """A vocabulary word (family, status, title, language...) in the page language."""
    if value in (None, ""):
        return ""
    key = group + "." + str(value)
    return translate(key) if has(key) else str(value)

"""Messages in the caller's language: English and French, from each part's Babel catalogs.

A message written for a person is marked where it is written, in the domain or the service
layer, with `_l("English text with {fields}", code="...", field=value)`. That makes a `Message`:
a `str` that reads as the English text (so logs, tests and any caller that only wants English
keep working) and remembers its msgid, its fields and its stable `code`. It is translated only
at the edge, when a problem answer is written (`bus.http.problem_response` calls `localise`),
into the language of the request being answered:

- `g.portico_language` when the part set it (the gateway: the signed-in user's profile
  language), else the request's `Accept-Language` (en or fr), else English.

Each part keeps its own catalog beside its code, `<part>/translations/fr/LC_MESSAGES/messages.po`
(English is the msgid itself), compiled to `messages.mo` by `make messages` and shipped in the
wheel; `bus/translations` holds the messages of `bus/` and of the libraries
(`bus.library_messages`). `install(app, part_dir)` points the part's Flask app at both
(Flask-Babel). The gateway
passes the language of its caller to the services on every internal call (`Accept-Language`,
`language_headers`), so a service's problem comes back already in the caller's language.

A text that another part shows later (an import's anomalies) is written by its own part in every
language at once: `translated(message, part_dir, default_code)` (its code, `plain_params` and
`in_every_language`, from that part's catalog, outside any request); the part that shows it
picks the reader's with `text_in`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

SUPPORTED = ("en", "fr")
DEFAULT = "en"
TRANSLATIONS = "translations"  # the catalogs' folder inside each part's package
DOMAIN = "messages"

Gettext = Callable[[str], str]


class Message(str):
    """A message marked for translation: reads as its English text, translated by `localise`."""

    msgid: str
    params: dict[str, Any]
    code: str | None
    parts: tuple[Any, ...]
    sep: str

    def __new__(cls, msgid: str, /, *, code: str | None = None, **params: Any) -> Message:
        text = msgid.format(**params) if params else msgid
        self = super().__new__(cls, text)
        self.msgid = msgid
        self.params = params
        self.code = code
        self.parts = ()
        self.sep = ""
        return self

    def translated(self, gettext: Gettext) -> str:
        """This message in the language of `gettext` (a catalog's lookup)."""
        if self.parts:
            return self.sep.join(localise(part, gettext) for part in self.parts)
        text = gettext(self.msgid) or self.msgid
        if not self.params:
            return text
        # A field's value is translated only when it is a message itself (a label), never looked
        # up as text: a person's name or a client number stays as written.
        values = {
            name: value.translated(gettext) if isinstance(value, Message) else value
            for name, value in self.params.items()
        }
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):  # a translation naming a field it lacks
            return str(self)


def _l(msgid: str, /, *, code: str | None = None, **params: Any) -> Message:
    """Mark `msgid` (English, with {field} placeholders) for translation; `pybabel extract`
    collects every literal first argument of `_l`."""
    return Message(msgid, code=code, **params)


def joined(parts: Iterable[Any], sep: str = " ", *, code: str | None = None) -> Message:
    """Several messages read as one (each translated on its own)."""
    parts = tuple(parts)
    whole = Message(sep.join(str(part) for part in parts), code=code)
    whole.parts = parts
    whole.sep = sep
    return whole


# Messages known by their English text: a library that formats a message it was given (a
# marshmallow error message) hands back a plain str; `localise` finds the message again here.
_KNOWN: dict[str, Message] = {}


def remember(message: Message) -> Message:
    """Keep `message` findable by its English text (for messages a library formats), and
    return it."""
    _KNOWN.setdefault(str(message), message)
    return message


def code_of(value: Any) -> str | None:
    """The stable code a message carries, if it is a `Message` that has one (or the English
    text of a remembered one)."""
    if isinstance(value, str) and not isinstance(value, Message):
        value = _KNOWN.get(value)
    return value.code if isinstance(value, Message) else None


def localise(value: Any, gettext: Gettext | None = None) -> Any:
    """`value` in the current language when it is a `Message`; a plain string is looked up as a
    msgid (the fixed messages of marshmallow and webargs are in the catalogs), and any other
    value is unchanged; lists and dicts of them (a problem's `errors`) item by item."""
    if isinstance(value, Message):
        return value.translated(gettext or current_gettext())
    if isinstance(value, str):
        if value in _KNOWN:
            return _KNOWN[value].translated(gettext or current_gettext())
        return (gettext or current_gettext())(value) if value else value
    if isinstance(value, Mapping):
        lookup = gettext or current_gettext()
        return {key: localise(item, lookup) for key, item in value.items()}
    if isinstance(value, list | tuple):
        lookup = gettext or current_gettext()
        return [localise(item, lookup) for item in value]
    return value


def primary(tag: str | None) -> str | None:
    """'fr-FR' -> 'fr' when French or English is meant; None for any other language."""
    if not tag:
        return None
    base = tag.replace("_", "-").split("-", 1)[0].strip().lower()
    return base if base in SUPPORTED else None


def language() -> str:
    """The language of the request being answered: the one the part chose for its caller
    (`g.portico_language`), else the best of Accept-Language, else English."""
    from flask import g, has_request_context, request

    if not has_request_context():
        return DEFAULT
    chosen = primary(g.get("portico_language"))
    if chosen:
        return chosen
    return request.accept_languages.best_match(SUPPORTED, default=DEFAULT) or DEFAULT


def choose_language(lang: str | None) -> None:
    """Answer this request in `lang` (the signed-in user's profile language), when supported."""
    from flask import g, has_request_context

    chosen = primary(lang)
    if chosen and has_request_context():
        g.portico_language = chosen
        try:
            import flask_babel

            flask_babel.refresh()  # a locale read earlier in the request is forgotten
        except (ImportError, RuntimeError):  # pragma: no cover - Flask-Babel is a dependency
            pass


def current_gettext() -> Gettext:
    """The catalog lookup of the current request's language in the current app, or the
    identity (English) outside a request or in an app without catalogs."""
    from flask import current_app, has_request_context

    if not has_request_context() or "babel" not in current_app.extensions:
        return _english
    import flask_babel

    return flask_babel.get_translations().gettext


def _english(msgid: str) -> str:
    return msgid


def install(app: Any, part_dir: str | Path) -> None:
    """Give `app` the catalogs of the part whose package is `part_dir`, chosen per request by
    `language()`."""
    from flask_babel import Babel

    import bus.library_messages  # noqa: F401  (the libraries' messages, in the bus catalog)

    # The bus catalog (the messages of bus/ and of the libraries), then the part's own.
    directories = [Path(__file__).parent / TRANSLATIONS, Path(part_dir) / TRANSLATIONS]
    Babel(
        app,
        locale_selector=language,
        default_locale=DEFAULT,
        default_domain=DOMAIN,
        default_translation_directories=";".join(str(path) for path in directories),
    )


@functools.cache
def catalog(part_dir: str, lang: str) -> Gettext:
    """The lookup of `lang` in the bus catalog and the catalog of the part whose package is
    `part_dir` (the part's own messages win), outside any request: for a text kept or sent
    in every language, e.g. an import's anomalies (`in_every_language`)."""
    if primary(lang) in (None, DEFAULT):
        return _english
    from babel.support import Translations

    merged = Translations()
    for directory in (Path(__file__).parent / TRANSLATIONS, Path(part_dir) / TRANSLATIONS):
        found = Translations.load(str(directory), [lang], DOMAIN)
        if isinstance(found, Translations):
            merged.merge(found)
    return merged.gettext


def in_every_language(message: Any, part_dir: str | Path) -> dict[str, str]:
    """`message` in every language the portal speaks, from the part's own catalog:
    {"en": ..., "fr": ...}; for a text another part shows or sends without its msgids."""
    return {lang: str(localise(message, catalog(str(part_dir), lang))) for lang in SUPPORTED}


def translated(message: Any, part_dir: str | Path, default_code: str) -> dict[str, Any]:
    """What a part keeps or sends of a text another part shows later: its stable `code`
    (`default_code` when it has none), its `params` as plain values, and its `messages` in
    every language the portal speaks, from the part's own catalog."""
    return {
        "code": code_of(message) or default_code,
        "params": plain_params(message),
        "messages": in_every_language(message, part_dir),
    }


def text_in(messages: Mapping[str, Any] | None, language: str | None) -> str | None:
    """From a text kept in every language ({"en": ..., "fr": ...}), the one in `language` (a
    tag such as "fr-FR"; the default language when None); None when it has no such text (a
    text kept before it had languages: the reader shows its English one)."""
    if not isinstance(messages, Mapping):
        return None
    return messages.get(primary(language) or DEFAULT) or None


def plain_params(message: Any) -> dict[str, Any]:
    """The fields of a `Message` as plain JSON values (a label in English), or {}."""
    if not isinstance(message, Message):
        return {}
    params: dict[str, Any] = {}
    for part in message.parts:  # a joined message: the fields of each of its parts
        params.update(plain_params(part))
    params.update(
        (name, value if isinstance(value, int | float | bool) or value is None else str(value))
        for name, value in message.params.items()
    )
    return params


def language_headers(headers: dict[str, str]) -> dict[str, str]:
    """`headers` with the Accept-Language of the request being answered, so that the service
    called answers its problems in the caller's language."""
    from flask import has_request_context

    if has_request_context():
        headers.setdefault("Accept-Language", language())
    return headers

"""Renders the portal's e-mails (subject, text and HTML) and assembles them into MIME messages."""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime as format_rfc2822
from email.utils import make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from .catalog import TEMPLATES, TemplateSpec
from .dates import format_date, format_datetime

__all__ = [
    "DEFAULT_TEMPLATES_DIR",
    "FALLBACK_LANGUAGE",
    "SUPPORTED_LANGUAGES",
    "TEMPLATES",
    "InvalidContext",
    "MissingContext",
    "RenderedEmail",
    "Renderer",
    "RenderingError",
    "TemplateSpec",
    "UnknownTemplate",
    "build_message",
    "choose_language",
]

SUPPORTED_LANGUAGES = ("en", "fr")
FALLBACK_LANGUAGE = "en"
DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

Attachment = tuple[str, bytes, str]


class RenderingError(Exception):
    """An e-mail cannot be rendered from this message; retrying will not help."""


class UnknownTemplate(RenderingError):
    """No e-mail template has this name."""

    def __init__(self, template: str, detail: str = "") -> None:
        self.template = template
        known = ", ".join(sorted(TEMPLATES))
        super().__init__(detail or f"unknown e-mail template {template!r} (known: {known})")


class MissingContext(RenderingError):
    """The context lacks a key the template needs; `key` names the first one missing."""

    def __init__(self, template: str, keys: Sequence[str]) -> None:
        self.template = template
        self.keys = tuple(keys)
        self.key = self.keys[0]
        names = ", ".join(repr(key) for key in self.keys)
        super().__init__(f"e-mail template {template!r} needs the context key(s) {names}")


class InvalidContext(RenderingError):
    """A context value cannot be used as given (a link that is not http(s), a bad date)."""

    def __init__(self, template: str, key: str | None, problem: str) -> None:
        self.template = template
        self.key = key
        where = f"context key {key!r} " if key else ""
        super().__init__(f"e-mail template {template!r}: {where}{problem}")


@dataclass(frozen=True)
class RenderedEmail:
    """A rendered e-mail, ready to be put in a MIME message by `build_message`."""

    subject: str
    text: str
    html: str
    language: str = FALLBACK_LANGUAGE
    sender_name: str = ""


def choose_language(tag: str | None) -> str:
    """Pick the e-mail language from a tag such as "fr-BE"; anything unsupported gives English."""
    if not tag:
        return FALLBACK_LANGUAGE
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in SUPPORTED_LANGUAGES else FALLBACK_LANGUAGE


class Renderer:
    """Renders the templates of `TEMPLATES` from `templates_dir/<language>/`.

    `portal_name` and `portal_url` are defaults for the keys of the same name, which every
    template may use (header, signature, sign-in link); a context may override them.
    """

    def __init__(
        self,
        templates_dir: str | os.PathLike[str] | None = None,
        *,
        portal_name: str = "Portico",
        portal_url: str | None = None,
    ) -> None:
        self.templates_dir = Path(templates_dir) if templates_dir else DEFAULT_TEMPLATES_DIR
        if portal_url is not None and not _is_web_url(portal_url):
            raise ValueError(f"portal_url must be an http(s) URL, got {portal_url!r}")
        defaults = {"portal_name": portal_name, "portal_url": portal_url}
        self._environments = {
            language: self._environment(language, defaults) for language in SUPPORTED_LANGUAGES
        }

    def render(
        self, template: str, language: str | None, context: Mapping[str, Any]
    ) -> RenderedEmail:
        """Render one e-mail; raises UnknownTemplate, MissingContext or InvalidContext."""
        spec = TEMPLATES.get(template)
        if spec is None:
            raise UnknownTemplate(template)
        chosen = choose_language(language)
        values = _prepare_context(spec, context)
        environment = self._environments[chosen]
        subject = _one_line(_render(environment, spec, f"{template}.subject.txt", values))
        values["subject"] = subject
        return RenderedEmail(
            subject=subject,
            text=_tidy_text(_render(environment, spec, f"{template}.txt", values)),
            html=_render(environment, spec, f"{template}.html", values).strip() + "\n",
            language=chosen,
            sender_name=_one_line(_render(environment, spec, "sender.txt", values)),
        )

    def _environment(self, language: str, defaults: Mapping[str, Any]) -> jinja2.Environment:
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.templates_dir / language),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # compiled once and kept: no stat of the file at every e-mail
        )
        environment.filters["date"] = _remembered(format_date, language)
        environment.filters["datetime"] = _remembered(format_datetime, language)
        environment.globals.update(defaults)
        return environment


def _remembered(write: Callable[[Any, str], str], language: str) -> Callable[[Any], str]:
    """A date filter that writes each ISO text once (a claim's e-mails mostly share their
    dates, e.g. the expiry of a batch's links); other values are written each time."""

    @lru_cache(maxsize=256)
    def write_text(value: str) -> str:
        return write(value, language)

    def written(value: Any) -> str:
        return write_text(value) if isinstance(value, str) else write(value, language)

    return written


def _prepare_context(spec: TemplateSpec, context: Mapping[str, Any]) -> dict[str, Any]:
    missing = [key for key in spec.required if context.get(key) is None]
    if missing:
        raise MissingContext(spec.name, missing)
    values: dict[str, Any] = dict.fromkeys((*spec.optional, "recipient_name"))
    values.update(context)
    for key, value in values.items():
        if (key == "url" or key.endswith("_url")) and value is not None:
            if not _is_web_url(value):
                raise InvalidContext(spec.name, key, f"must be an http(s) URL, got {value!r}")
    return values


def _render(
    environment: jinja2.Environment, spec: TemplateSpec, filename: str, values: Mapping[str, Any]
) -> str:
    try:
        template = environment.get_template(filename)
        # Template.render(values) with the template's globals merged once per template, not at
        # every render (jinja2 iterates its ChainMap of globals for each context it builds)
        merged = _GLOBALS.get(template)
        if merged is None:
            merged = _GLOBALS[template] = dict(template.globals)
        context = template.new_context({**merged, **values}, shared=True)
        return environment.concat(template.root_render_func(context))  # type: ignore[attr-defined]
    except jinja2.TemplateNotFound as error:
        detail = f"e-mail template file {error.name!r} is missing"
        raise UnknownTemplate(spec.name, detail) from error
    except jinja2.UndefinedError as error:
        raise MissingContext(spec.name, [_undefined_name(error)]) from error
    except (TypeError, ValueError) as error:
        problem = f"a context value cannot be used: {error}"
        raise InvalidContext(spec.name, None, problem) from error


_GLOBALS: weakref.WeakKeyDictionary[jinja2.Template, dict[str, Any]] = weakref.WeakKeyDictionary()

_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


def _undefined_name(error: jinja2.UndefinedError) -> str:
    match = _UNDEFINED.search(str(error))
    if match is None:
        return str(error)
    return match.group(1) or match.group(2)


def _is_web_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _one_line(value: str) -> str:
    # Only ASCII whitespace: French typography relies on no-break spaces.
    return re.sub(r"[ \t\r\n]+", " ", value).strip()


def _tidy_text(value: str) -> str:
    lines = [line.rstrip() for line in value.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def build_message(
    rendered: RenderedEmail,
    *,
    sender: str,
    to: str | Sequence[str],
    attachments: Iterable[Attachment] = (),
    message_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """Assemble a MIME message: text and HTML as alternatives, attachments alongside (mixed).

    `sender` is a bare address (the rendered sender name is then shown with it) or a full
    "Name <address>". `message_id` may be a bare id such as the event id: it becomes
    "<id@sender-domain>", so a redelivered event yields the same Message-ID. `headers` are
    added last and replace any header of the same name.
    """
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = _sender(sender, rendered.sender_name)
    message["To"] = to if isinstance(to, str) else ", ".join(to)
    message["Date"] = format_rfc2822(date or datetime.now(UTC))
    message["Message-ID"] = _message_id(message_id, sender)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    for filename, data, mimetype in attachments:
        maintype, _, subtype = mimetype.partition("/")
        if not subtype:
            raise ValueError(f"attachment {filename!r}: mimetype must be type/subtype")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    message["Content-Language"] = rendered.language  # set_content drops Content-* headers
    for name, value in (headers or {}).items():
        del message[name]
        message[name] = value
    return message


def _sender(sender: str, display_name: str) -> str | Address:
    if "<" in sender or not display_name:
        return sender
    return Address(display_name=display_name, addr_spec=sender.strip())


def _message_id(message_id: str | None, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "portico.local"
    if message_id is None:
        return make_msgid(domain=domain)
    bare = message_id.strip().strip("<>")
    return f"<{bare}>" if "@" in bare else f"<{bare}@{domain}>"

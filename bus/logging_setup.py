"""How every Portico process logs: plain lines, or one JSON object per line.

`configure(part)` sets the root logger from PORTICO_LOG_LEVEL and PORTICO_LOG_FORMAT (`text`,
the default, or `json`). A JSON line holds `time` (UTC, ISO 8601), `level`, `part`, `trace_id`
and `span_id` (with tracing on, bus.tracing), `request_id` (the gateway's, passed on to the
services it calls), `logger`, `message` and, after a failure, `exception`. Every record has
passed through bus.logredact first: no line holds a link token.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime

from bus import logredact, tracing
from bus.config import PARTS, ConfigError

FORMATS = ("text", "json")
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REQUEST_ID_HEADER = "X-Portico-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class Context(logging.Filter):
    """Adds `part`, `trace_id`, `span_id` and `request_id` to each record a handler writes."""

    def __init__(self, part: str) -> None:
        super().__init__()
        self.part = part

    def filter(self, record: logging.LogRecord) -> bool:
        record.part = part_of(self.part)
        record.trace_id, record.span_id = tracing.current_ids()
        record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (Context's fields; records already redacted)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "part": getattr(record, "part", None),
            "trace_id": getattr(record, "trace_id", None),
            "span_id": getattr(record, "span_id", None),
            "request_id": getattr(record, "request_id", None),
            "logger": record.name,
            "message": logredact.redact(record.getMessage()),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = logredact.redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(part: str, env: Mapping[str, str] | None = None) -> None:
    """Log to stderr at PORTICO_LOG_LEVEL in PORTICO_LOG_FORMAT, as `part` (or, in the embedded
    mode's one process, as the part whose request or thread writes)."""
    env = os.environ if env is None else env
    chosen = (env.get("PORTICO_LOG_FORMAT") or "text").strip().lower()
    if chosen not in FORMATS:
        raise ConfigError(
            f"PORTICO_LOG_FORMAT={chosen!r} is not a log format; write text (the default) or json"
        )
    level = (env.get("PORTICO_LOG_LEVEL") or "INFO").strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(
            f"PORTICO_LOG_LEVEL={level!r} is not a level; write DEBUG, INFO, WARNING or ERROR"
        )
    handler = logging.StreamHandler()
    handler.set_name("portico")
    handler.addFilter(Context(part))
    handler.setFormatter(formatter(chosen))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "portico"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def formatter(chosen: str, plain: str = PLAIN) -> logging.Formatter:
    return JsonFormatter() if chosen == "json" else logging.Formatter(plain)


def json_wanted(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return (env.get("PORTICO_LOG_FORMAT") or "").strip().lower() == "json"


def part_of(default: str) -> str:
    """The part writing: its app's during a request, its thread's name in a worker thread
    (`identity-worker`, `gateway-relay`, ...), else the process's."""
    try:
        from flask import current_app, has_app_context

        if has_app_context():
            name = getattr(current_app.extensions.get("portico.part"), "name", None)
            if name:
                return str(name)
    except ImportError:  # pragma: no cover - Flask is a dependency of every part
        pass
    prefix = threading.current_thread().name.split("-", 1)[0]
    return prefix if prefix in PARTS else default


def request_id() -> str | None:
    """The request id of the request being answered: the gateway's own, or the one the gateway
    sent a service (X-Portico-Request-Id); None outside a request."""
    from flask import g, has_request_context, request

    if not has_request_context():
        return None
    given = g.get("request_id") or request.headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.match(given) else None

"""Log lines never hold a link token: the segment after /activate/, /reset-password/, ... is hidden.

A link token (activation, password reset, e-mail change) opens an account to whoever holds it, so
it lives in the e-mail only. Its URL paths reach log lines through access logs (gunicorn's, the
embedded server's), through a service client's error (`.../internal/activations/<token>`) and
through tracebacks. `install()` makes every log record of the process pass through `redact` when
it is created, whichever logger or handler writes it (`portico` calls it first thing;
`portico.wsgi.GunicornLogger` in `portico serve`'s gunicorn, its access log included).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

REDACTED = "[redacted]"

# The path segments that precede a raw link token: the web pages in the e-mails, the public
# API's and identity's internal API's.
TOKEN_PATHS = (
    "activate",
    "reset-password",
    "confirm-email",
    "activations",
    "password-resets",
    "email-changes",
)
_TOKEN_SEGMENT = re.compile(
    r"(/(?:" + "|".join(re.escape(p) for p in TOKEN_PATHS) + r")/)([^/?#\s\"'<>]+)"
)

_lock = threading.Lock()
_installed = False


def redact(text: str) -> str:
    """`text` with the token of every link path in it replaced by REDACTED."""
    if "/" not in text:
        return text
    return _TOKEN_SEGMENT.sub(lambda m: m.group(1) + REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites a record whose message (or traceback) holds a link token; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logging's to report, unchanged
        return record
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        # Formatters reuse exc_text: format the traceback once here, redacted.
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install() -> None:
    """Redact every log record this process creates from now on (idempotent, thread-safe)."""
    global _installed
    with _lock:
        if _installed:
            return
        make = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(make(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True

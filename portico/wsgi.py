"""WSGI entry for gunicorn in the distributed mode: `portico.wsgi:app('identity')`, and the logger
class of `portico serve`'s gunicorn (`--logger-class portico.wsgi.GunicornLogger`)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from gunicorn.glogging import Logger

from bus import logging_setup, logredact, tracing
from portico.runtime import build_part, distributed_settings, service_app


def app(name: str) -> Flask:
    # gunicorn started by hand gets no weaker check than `portico serve`
    settings = distributed_settings(name)
    logredact.install()
    logging_setup.configure(name)  # in each worker process: PORTICO_LOG_FORMAT, PORTICO_LOG_LEVEL
    tracing.configure_from_env(f"portico-{name}")  # after the fork; off without an OTLP endpoint
    return service_app(build_part(name, settings))


class GunicornLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with link tokens redacted from its access and error logs, and from every
    log record of the workers it forks (bus.logredact)."""

    def setup(self, cfg: Any) -> None:
        logredact.install()
        super().setup(cfg)
        if logging_setup.json_wanted():  # PORTICO_LOG_FORMAT=json: gunicorn's lines too
            uri = getattr(cfg, "wsgi_app", None) or getattr(cfg, "proc_name", None) or ""
            found = re.search(r"app\('(\w+)'\)", str(uri))
            context = logging_setup.Context(found.group(1) if found else "portico")
            for handler in [*self.error_log.handlers, *self.access_log.handlers]:
                handler.addFilter(context)
                handler.setFormatter(logging_setup.JsonFormatter())

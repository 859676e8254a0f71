"""WSGI entry for gunicorn in the distributed mode: `portico.wsgi:app('identity')`, and the logger
class of `portico serve`'s gunicorn (`--logger-class portico.wsgi.GunicornLogger`)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.glogging import Logger

from bus import logredact
from portico.runtime import build_part, distributed_settings, service_app


def app(name: str) -> Flask:
    # gunicorn started by hand gets no weaker check than `portico serve`
    settings = distributed_settings(name)
    logredact.install()
    return service_app(build_part(name, settings))


class GunicornLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with link tokens redacted from its access and error logs, and from every
    log record of the workers it forks (bus.logredact)."""

    def setup(self, cfg: Any) -> None:
        logredact.install()
        super().setup(cfg)

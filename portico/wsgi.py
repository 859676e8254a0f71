"""WSGI entry for gunicorn in the distributed mode: `portico.wsgi:app('identity')`, and the logger
class of `portico serve`'s gunicorn (`--logger-class portico.wsgi.GunicornLogger`)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.glogging import Logger

from bus import logredact
from bus.config import Settings
from bus.secrets import check_secrets
from portico import parts
from portico.runtime import build_part, service_app


def app(name: str) -> Flask:
    check_secrets(name)  # gunicorn started by hand gets no weaker check than `portico serve`
    settings = Settings.from_env(name)
    check_standalone = getattr(parts.bootstrap(name), "check_standalone", None)
    if check_standalone is not None:
        check_standalone(settings)
    logredact.install()
    part = build_part(name, settings)
    clients = {}
    if name in ("gateway", "importer"):
        from gateway.bootstrap import http_clients

        clients = http_clients(settings)
    return service_app(part, clients)


class GunicornLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with link tokens redacted from its access and error logs, and from every
    log record of the workers it forks (bus.logredact)."""

    def setup(self, cfg: Any) -> None:
        logredact.install()
        super().setup(cfg)

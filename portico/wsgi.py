"""WSGI entry for gunicorn in the distributed mode: `portico.wsgi:app('identity')`."""

from __future__ import annotations

from flask import Flask

from bus.config import Settings
from portico.runtime import build_part, service_app


def app(name: str) -> Flask:
    settings = Settings.from_env(name)
    part = build_part(name, settings)
    clients = {}
    if name in ("gateway", "importer"):
        from gateway.bootstrap import http_clients

        clients = http_clients(settings)
    return service_app(part, clients)

"""Starting parts: one process each (distributed mode) or all in one (embedded mode)."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from bus.config import Settings
from bus.http_client import ServiceClient
from bus.part import Part
from portico import parts

log = logging.getLogger("portico")


def build_part(name: str, settings: Settings) -> Part:
    return parts.bootstrap(name).build(settings)


def start_worker(part: Part, stop: threading.Event) -> None:
    """The relay, the bus consumer and the periodic jobs of one part, as threads."""
    part.start_background(stop, parts.bootstrap(part.name).jobs(part))


def service_app(part: Part, clients: dict[str, ServiceClient] | None = None) -> Flask:
    factory = parts.api(part.name).create_app
    try:
        return factory(part, clients or {})
    except TypeError:
        return factory(part)


def serve_ops(part: Part, host: str, port: int, stop: threading.Event) -> None:
    """/metrics, /healthz and /readyz of a worker process, on their own port (a daemon thread)."""
    from werkzeug.serving import make_server

    from bus.http import install_problem_handlers, ops_blueprint

    app = Flask(f"portico-{part.name}-worker")
    install_problem_handlers(app)
    app.register_blueprint(ops_blueprint(part.readiness))
    server = make_server(host, port, app, threaded=True)
    threading.Thread(target=server.serve_forever, name=f"{part.name}-ops", daemon=True).start()
    threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()


def stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


@dataclass
class Embedded:
    """Every part in one process: memory:// bus, one SQLite file per part, in-process HTTP."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    parts: dict[str, Part] = field(default_factory=dict)
    apps: dict[str, Flask] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def build(self) -> Embedded:
        env = {"PORTICO_BROKER_URL": "memory://", **self.env}
        for name in parts.PARTS:
            settings = Settings.from_env(name, env, data_dir=self.data_dir)
            self.parts[name] = build_part(name, settings)
        for name in parts.SERVICES:
            self.parts[name].migrate()
            self.apps[name] = service_app(self.parts[name], self.clients(exclude=name))
        self.parts["gateway"].migrate()
        self.apps["gateway"] = service_app(self.parts["gateway"], self.clients())
        return self

    def clients(self, exclude: str | None = None) -> dict[str, ServiceClient]:
        token = self.parts["gateway"].settings.service_token
        return {
            name: ServiceClient(name, app=_Lazy(self.apps, name), token=token)
            for name in parts.SERVICES
            if name != exclude
        }

    def start(self) -> Embedded:
        for part in self.parts.values():
            start_worker(part, self.stop)
        for part in self.parts.values():
            part.wait_ready(10)
        return self

    @property
    def gateway(self) -> Flask:
        return self.apps["gateway"]


class _Lazy:
    """A WSGI app looked up when first called (services may call each other)."""

    def __init__(self, apps: dict[str, Flask], name: str) -> None:
        self.apps = apps
        self.name = name

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.apps[self.name](environ, start_response)

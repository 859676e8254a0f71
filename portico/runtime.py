"""Starting parts: one process each (distributed mode) or all in one (embedded mode).

Every command builds a part the same way: `bootstrap.build(settings, clients)` then, for its HTTP
API, `entrypoints.api.create_app(part)`. The embedded mode gives in-process clients of the other
services; the distributed mode gives none, and a part that calls another service makes its HTTP
client from PORTICO_<SERVICE>_URL.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from bus.config import Settings
from bus.http_client import ServiceClient
from bus.part import Part
from portico import parts

log = logging.getLogger("portico")


def build_part(
    name: str, settings: Settings, clients: Mapping[str, ServiceClient] | None = None
) -> Part:
    """The part, built by its bootstrap; `clients` are the embedded mode's in-process ones."""
    return parts.bootstrap(name).build(settings, dict(clients or {}))


def distributed_settings(name: str, env: Mapping[str, str] | None = None) -> Settings:
    """The settings of a `serve` or `worker` process (the distributed mode), once its secrets are
    strong and it has what it needs to run on its own (a part's `check_standalone`)."""
    from bus.secrets import check_secrets

    env = os.environ if env is None else env
    check_secrets(name, env)
    settings = Settings.from_env(name, env)
    check_standalone = getattr(parts.bootstrap(name), "check_standalone", None)
    if check_standalone is not None:
        check_standalone(settings)
    return settings


def start_worker(part: Part, stop: threading.Event) -> None:
    """The relay, the bus consumer and the periodic jobs of one part, as threads."""
    part.start_background(stop, parts.bootstrap(part.name).jobs(part))


def service_app(part: Part) -> Flask:
    """The part's HTTP API, from its `create_app(part)`."""
    app: Flask = parts.api(part.name).create_app(part)
    return app


def serve_ops(part: Part, host: str, port: int, stop: threading.Event) -> None:
    """/metrics, /healthz and /readyz of a worker process, on their own port (a daemon thread)."""
    from werkzeug.serving import make_server

    from bus.http import install_problem_handlers, ops_blueprint

    app = Flask(f"portico-{part.name}-worker")
    app.extensions["portico.part"] = part  # /metrics reads the part's gauges
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
        for name in parts.PARTS:  # every part built (its settings checked) before any migrates
            settings = Settings.from_env(name, env, data_dir=self.data_dir)
            self.parts[name] = build_part(name, settings, self.clients(settings, exclude=name))
        for name, part in self.parts.items():
            part.migrate()
            self.apps[name] = service_app(part)
        return self

    def clients(self, settings: Settings, exclude: str | None = None) -> dict[str, ServiceClient]:
        """In-process clients of the services (their apps looked up at the first call)."""
        return {
            name: ServiceClient(name, app=_Lazy(self.apps, name), token=settings.service_token)
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

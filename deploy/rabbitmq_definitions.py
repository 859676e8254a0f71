"""Write the broker definitions of every part (deploy/rabbitmq-definitions.json) from the code.

    .venv/bin/python deploy/rabbitmq_definitions.py > deploy/rabbitmq-definitions.json
    .venv/bin/python deploy/rabbitmq_definitions.py --prefix acme --vhost portico   # other names

The queues, bindings and exchanges are those `portico worker <part>` declares (bus.broker's
Topology, bound to the keys of the part's EVENT_HANDLERS), with the same arguments, so importing
the file first and letting the workers declare afterwards never conflicts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from typing import Any


def handled_keys(part: str) -> list[str]:
    """The routing keys (message types) a part consumes: the keys of its EVENT_HANDLERS."""
    from bus.config import Settings
    from portico import parts

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            part=part, database_url=f"sqlite:///{folder}/{part}.db", broker_url="memory://"
        )
        built = parts.bootstrap(part).build(settings)
        try:
            return sorted(built.handlers)
        finally:
            built.engine.dispose()


def definitions(prefix: str = "portico", vhost: str = "/") -> dict[str, Any]:
    from bus.broker import Topology
    from portico import parts

    topology = Topology(prefix=prefix, quorum=True)
    exchanges = [_exchange(topology.exchange, vhost), _exchange(topology.dead_exchange, vhost)]
    queues: list[dict[str, Any]] = []
    bindings: list[dict[str, Any]] = []
    for part in parts.PARTS:
        keys = handled_keys(part)
        work, dead = topology.queue(part, keys), topology.dead_queue(part)
        queues += [_queue(work, vhost), _queue(dead, vhost)]
        bindings += [
            _binding(b.exchange.name, work.name, b.routing_key, vhost)
            for b in sorted(work.bindings, key=lambda b: b.routing_key)
        ]
        bindings.append(_binding(dead.exchange.name, dead.name, dead.routing_key, vhost))
    return {"exchanges": exchanges, "queues": queues, "bindings": bindings}


def _exchange(exchange: Any, vhost: str) -> dict[str, Any]:
    return {
        "name": exchange.name,
        "vhost": vhost,
        "type": exchange.type,
        "durable": bool(exchange.durable),
        "auto_delete": bool(exchange.auto_delete),
        "internal": bool(getattr(exchange, "internal", False)),
        "arguments": dict(exchange.arguments or {}),
    }


def _queue(queue: Any, vhost: str) -> dict[str, Any]:
    return {
        "name": queue.name,
        "vhost": vhost,
        "durable": bool(queue.durable),
        "auto_delete": bool(queue.auto_delete),
        "arguments": dict(queue.queue_arguments or {}),
    }


def _binding(source: str, queue: str, key: str, vhost: str) -> dict[str, Any]:
    return {
        "source": source,
        "vhost": vhost,
        "destination": queue,
        "destination_type": "queue",
        "routing_key": key,
        "arguments": {},
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="portico", help="PORTICO_BUS_PREFIX of the deployment")
    parser.add_argument("--vhost", default="/", help="the virtual host of PORTICO_BROKER_URL")
    args = parser.parse_args(argv)
    sys.stdout.write(render(definitions(args.prefix, args.vhost)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

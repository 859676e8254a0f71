"""Delete the queues earlier test runs left on the CI machine's RabbitMQ (every test run declares
its own prefixed quorum queues; a run that was killed never deletes them, and each quorum queue
holds file descriptors until the broker has none left for new connections).

Only queues outside the production prefix `portico.` are deleted: the CI broker serves tests only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit

import pika


def leftover_queues() -> list[str]:
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    return [name for name in listed if name != "name" and not name.startswith("portico.")]


def main() -> int:
    try:
        names = leftover_queues()
    except (OSError, subprocess.SubprocessError) as error:
        print(f"ci: could not list the broker's queues ({error}); nothing deleted")
        return 0
    url = urlsplit(os.environ.get("PORTICO_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"))
    parameters = pika.ConnectionParameters(
        host=url.hostname or "127.0.0.1",
        port=url.port or 5672,
        virtual_host="/",  # the tests' vhost ('//' in their URL, which pika reads as '')
        credentials=pika.PlainCredentials(url.username or "guest", url.password or "guest"),
    )
    try:
        connection = pika.BlockingConnection(parameters)
    except pika.exceptions.AMQPError as error:
        print(f"ci: could not reach the broker to clean it ({error!r}); nothing deleted")
        return 0
    try:
        channel = connection.channel()
        for name in names:
            channel.queue_delete(queue=name)
    finally:
        connection.close()
    print(f"ci: deleted {len(names)} queues left by earlier test runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

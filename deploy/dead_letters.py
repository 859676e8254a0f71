"""Inspect and replay one part's dead letters (the queue `<prefix>.<part>.dead`).

    python dead_letters.py list <part> [--limit 20]
        print each dead letter (message id, type, when, attempts, reason); the queue is unchanged
    python dead_letters.py replay <part> [--limit N] [--id MESSAGE_ID ...]
        move dead letters back to the part's work queue `<prefix>.<part>`, attempt counter reset

Reads PORTICO_BROKER_URL and PORTICO_BUS_PREFIX like the parts do. `replay` acks a dead letter
only once the broker confirmed its copy in the work queue: a crash in between leaves a copy in
both queues, and the part's idempotent consumer applies a message id once whatever happens.
Fix the cause first (deploy the corrected handler, restore the missing data): a message replayed
into the same failure comes back here after PORTICO_MAX_ATTEMPTS attempts.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

ATTEMPT_HEADERS = ("x-portico-attempts", "x-portico-reason")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dead_letters.py", description="Inspect and replay dead letters."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("list", help="print the dead letters of a part")
    show.add_argument("part")
    show.add_argument("--limit", type=int, default=20)
    replay = sub.add_parser("replay", help="move dead letters back to the part's work queue")
    replay.add_argument("part")
    replay.add_argument("--limit", type=int, default=None, help="at most this many (default: all)")
    replay.add_argument(
        "--id",
        dest="ids",
        action="append",
        default=[],
        help="only the message with this id (repeatable)",
    )
    args = parser.parse_args(argv)

    from bus.config import ConfigError, Settings

    try:
        settings = Settings.from_env(args.part)
    except ConfigError as exc:
        print(f"dead_letters: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "list":
        letters = list_dead_letters(settings, args.part, args.limit)
        for letter in letters:
            print(json.dumps(letter, default=str))
        print(
            f"{len(letters)} dead letter(s) shown from {dead_queue_name(settings, args.part)}",
            file=sys.stderr,
        )
        return 0
    moved = replay_dead_letters(settings, args.part, limit=args.limit, ids=set(args.ids))
    print(
        f"{moved} dead letter(s) moved back to {settings.bus_prefix}.{args.part}", file=sys.stderr
    )
    return 0


def dead_queue_name(settings: Any, part: str) -> str:
    return f"{settings.bus_prefix}.{part}.dead"


def describe(message: Any) -> dict[str, Any]:
    """What an operator needs to decide about a dead letter."""
    headers = dict(message.headers or {})
    try:
        body = json.loads(message.body)
    except (TypeError, ValueError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    return {
        "message_id": message.properties.get("message_id"),
        "type": body.get("type"),
        "producer": body.get("producer"),
        "occurred_at": body.get("occurred_at"),
        "dead_at": headers.get("x-portico-dead-at"),
        "attempts": headers.get("x-portico-attempts"),
        "reason": headers.get("x-portico-reason"),
        "routing_key": headers.get("x-portico-routing-key"),
    }


def _fetch(channel: Any, queue: Any, limit: int | None) -> list[Any]:
    messages: list[Any] = []
    while limit is None or len(messages) < limit:
        message = queue(channel).get(no_ack=False)
        if message is None:
            break
        messages.append(message)
    return messages


def list_dead_letters(settings: Any, part: str, limit: int = 20) -> list[dict[str, Any]]:
    """Read up to `limit` dead letters and give them back (the channel closes without acks)."""
    from bus.broker import Broker

    broker = Broker(settings.broker_url, settings.bus_prefix)
    queue = broker.topology.dead_queue(part)
    with broker.connection() as conn:
        channel = conn.channel()
        try:
            queue(channel).declare()
            return [describe(message) for message in _fetch(channel, queue, limit)]
        finally:
            channel.close()


def replay_dead_letters(
    settings: Any, part: str, *, limit: int | None = None, ids: set[str] | None = None
) -> int:
    """Move dead letters (all, or those whose message id is in `ids`) back to the work queue."""
    from kombu import Exchange

    from bus.broker import Broker, Publisher

    broker = Broker(settings.broker_url, settings.bus_prefix)
    queue = broker.topology.dead_queue(part)
    work_queue = broker.topology.queue_name(part)
    publisher = Publisher(broker)
    moved = 0
    with broker.connection() as conn:
        channel = conn.channel()
        try:
            queue(channel).declare()
            for message in _fetch(channel, queue, None if ids else limit):
                message_id = str(message.properties.get("message_id") or "")
                if (ids and message_id not in ids) or (limit is not None and moved >= limit):
                    continue  # stays unacked: returned to the dead-letter queue when the channel closes
                headers = {
                    k: v for k, v in dict(message.headers or {}).items() if k not in ATTEMPT_HEADERS
                }
                headers["x-portico-last-reason"] = (message.headers or {}).get(
                    "x-portico-reason", ""
                )
                headers["x-portico-replayed-at"] = datetime.now(UTC).isoformat()
                body = message.body
                publisher.publish(
                    body.decode("utf-8", errors="replace")
                    if isinstance(body, bytes | bytearray)
                    else body,
                    routing_key=work_queue,
                    message_id=message_id,
                    exchange=Exchange(""),
                    headers=headers,
                    content_type=message.content_type or "application/json",
                )
                message.ack()
                moved += 1
        finally:
            channel.close()
            publisher.close()
    return moved


if __name__ == "__main__":
    sys.exit(main())

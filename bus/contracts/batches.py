"""The bound of a batch event, and the producer's way of keeping under it.

What one command or request does to many users travels as one event carrying a list
(`identity.users.created`, `identity.links.issued`, ...). A list holds at most `BATCH_LIMIT`
entries (500 users: well under 1 MiB on the wire); a producer with more splits them with
`split` into several events. A consumer never refuses a batch for its size: the contract does
(a producer that forgot to split fails on publish, in its own transaction).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

BATCH_LIMIT = 500

T = TypeVar("T")


def split(items: Sequence[T], limit: int = BATCH_LIMIT) -> Iterator[list[T]]:
    """`items` in order, in lists of at most `limit` (none for no items)."""
    if limit < 1:
        raise ValueError("a batch holds at least one entry")
    for start in range(0, len(items), limit):
        yield list(items[start : start + limit])

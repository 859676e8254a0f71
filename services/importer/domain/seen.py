"""Remember the first line of every e-mail address in a file, in about 20 bytes per address."""

from __future__ import annotations

import sys
from array import array
from hashlib import blake2b

_SHARD_BITS = 6
_SHARDS = 1 << _SHARD_BITS  # independent tables: growing one never doubles all the memory
_INITIAL_SLOTS = 64
_MAX_LOAD = 0.75
_MASK_SHARD = _SHARDS - 1
_MASK_64 = (1 << 64) - 1


def _digest(email: str) -> int:
    """A 64-bit digest of the address, never 0 (0 marks an empty slot).

    Two different addresses share a digest with odds of about n²/2⁶⁵ (1 in 30 million for a
    file of a million rows): the price of not keeping every address in memory. Python's own
    string hash (SipHash, salted per process) is used when it is 64 bits wide, being faster.
    """
    if sys.hash_info.width >= 64:
        return (hash(email) & _MASK_64) or 1
    raw = blake2b(email.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(raw, "little") or 1


class SeenEmails:
    """Open-addressing tables of (digest, line) in flat arrays, sharded on the digest."""

    def __init__(self) -> None:
        self._digests = [array("Q", bytes(8 * _INITIAL_SLOTS)) for _ in range(_SHARDS)]
        self._lines = [array("I", bytes(4 * _INITIAL_SLOTS)) for _ in range(_SHARDS)]
        self._counts = [0] * _SHARDS

    def first_line(self, email: str, line: int) -> int | None:
        """Line where `email` was first seen; None, and remember `line`, when it is new."""
        digest = _digest(email)
        shard = digest & _MASK_SHARD
        digests = self._digests[shard]
        slot = _probe(digests, digest)
        if digests[slot] == digest:
            return self._lines[shard][slot]
        digests[slot] = digest
        self._lines[shard][slot] = line
        self._counts[shard] += 1
        if self._counts[shard] > _MAX_LOAD * len(digests):
            self._grow(shard)
        return None

    def __len__(self) -> int:
        return sum(self._counts)

    def _grow(self, shard: int) -> None:
        old_digests, old_lines = self._digests[shard], self._lines[shard]
        size = len(old_digests) * 2
        digests = array("Q", bytes(8 * size))
        lines = array("I", bytes(4 * size))
        for digest, line in zip(old_digests, old_lines, strict=True):
            if digest:
                slot = (digest >> _SHARD_BITS) % size
                while digests[slot]:
                    slot = slot + 1 if slot + 1 < size else 0
                digests[slot] = digest
                lines[slot] = line
        self._digests[shard], self._lines[shard] = digests, lines


def _probe(digests: array, digest: int) -> int:
    """Slot holding `digest`, or the empty slot where it belongs (linear probing)."""
    size = len(digests)
    slot = (digest >> _SHARD_BITS) % size
    while True:
        found = digests[slot]
        if found == 0 or found == digest:
            return slot
        slot = slot + 1 if slot + 1 < size else 0

"""Many random (version 4) UUIDs as text at once: what `str(uuid.uuid4())` gives, for a batch.

A bulk write makes hundreds of ids per transaction (a batch of imported users, their 2,500
subscriptions); building a `uuid.UUID` object for each only to print it costs several times
the randomness itself. Here the batch's bits are read from the system's generator once, the
version and variant bits set in place, and each id cut from one hex string.
"""

from __future__ import annotations

import os


def uuid4_strings(count: int) -> list[str]:
    """`count` random UUIDs (version 4, RFC 4122 variant), lower-case with hyphens."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes((byte & 0x0F) | 0x40 for byte in raw[6::16])  # version 4
    raw[8::16] = bytes((byte & 0x3F) | 0x80 for byte in raw[8::16])  # variant 10xx
    text = raw.hex()
    return [
        f"{text[at : at + 8]}-{text[at + 8 : at + 12]}-{text[at + 12 : at + 16]}-"
        f"{text[at + 16 : at + 20]}-{text[at + 20 : at + 32]}"
        for at in range(0, 32 * count, 32)
    ]

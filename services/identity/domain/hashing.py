"""Password hashing with Argon2id: hash, verify, spot outdated parameters, and spend equal time on
unknown e-mails."""

import secrets
import threading
import unicodedata
from contextlib import AbstractContextManager, nullcontext
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


def _nfc(password: str) -> bytes:
    return unicodedata.normalize("NFC", password).encode("utf-8")


class Argon2Hasher:
    """Argon2id with OWASP's minimum (19 MiB, 2 passes); every input is NFC-normalised first.

    The whole password is hashed, whatever its length: nothing is ever truncated.

    `concurrency`: how many hashes (or verifications) this process computes at once; the others
    wait their turn (None: no limit). Each takes 19 MiB and ~20 ms of one core: more at once
    than the cores a process has only share them, and may evict each other's memory from the
    caches; bench/signin measures a served hash both ways (verify_cpu_ms_served*).
    """

    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_cost: int = 19456,
        parallelism: int = 1,
        hash_len: int = 32,
        salt_len: int = 16,
        concurrency: int | None = None,
    ) -> None:
        self._turns: AbstractContextManager[object] = (
            threading.BoundedSemaphore(concurrency) if concurrency else nullcontext()
        )
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=hash_len,
            salt_len=salt_len,
            type=Type.ID,
        )
        # Made with this hasher's own parameters, so verifying against it costs what a real
        # verification costs; its password is random and thrown away, so nothing ever matches.
        self._dummy_hash = self._hasher.hash(secrets.token_bytes(32))

    def hash(self, password: str) -> str:
        secret = _nfc(password)
        with self._turns:
            return self._hasher.hash(secret)

    def verify(self, hashed: str, password: str) -> bool:
        secret = _nfc(password)
        try:
            with self._turns:
                return self._hasher.verify(hashed, secret)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, hashed: str) -> bool:
        """True when `hashed` was made with other parameters (or is not an Argon2 hash at all)."""
        try:
            return self._hasher.check_needs_rehash(hashed)
        except (InvalidHashError, ValueError):
            return True

    def dummy_verify(self, password: str) -> bool:
        """Spend the time of one verification and fail: the answer for an unknown e-mail."""
        self.verify(self._dummy_hash, password)
        return False


@cache
def default_hasher(concurrency: int | None = None) -> Argon2Hasher:
    """The production hasher, built on first use (never at import time); `concurrency` as
    Argon2Hasher's (identity's PORTICO_HASH_CONCURRENCY)."""
    return Argon2Hasher(concurrency=concurrency)

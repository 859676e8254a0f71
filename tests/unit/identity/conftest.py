"""Fixtures of the identity domain's unit tests: a cheap hasher and a clock that tests move."""

import pytest

from bus.clock import FakeClock
from services.identity.domain.hashing import Argon2Hasher


@pytest.fixture(scope="session")
def cheap_hasher() -> Argon2Hasher:
    """Argon2id with the smallest parameters: fast, for tests where the cost does not matter."""
    return Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()

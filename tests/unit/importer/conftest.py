"""Factories for the importer's domain tests: CSV lines and in-memory uploads."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator

import pytest


def _user_line(n: int, **cells: str) -> str:
    """A valid `;`-separated line for user n, with some cells replaced (by column name)."""
    row = {
        "civility": "MME" if n % 2 else "M",
        "last_name": f"Martin{n}",
        "first_name": f"Claire{n}",
        "email": f"claire.martin{n}@example.com",
        "phone": "",
        "mobile": "",
        "language": "fr-FR",
        "password_level": "2",
    }
    row.update(cells)
    return ";".join(row.values())


class _GeneratedStream(io.RawIOBase):
    """A non-seekable binary stream whose bytes come from a generator, never all in memory."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size


@pytest.fixture
def user_line() -> Callable[..., str]:
    """user_line(n, **cells) -> a valid line for user n, some cells replaced by column name."""
    return _user_line


@pytest.fixture
def generated_stream() -> type[io.RawIOBase]:
    """GeneratedStream(chunks): a non-seekable stream fed by a generator of bytes."""
    return _GeneratedStream


@pytest.fixture
def make_csv() -> Callable[..., io.BytesIO]:
    """make_csv(*lines, newline="\\n", encoding="utf-8") -> a seekable upload."""

    def make(*lines: str, newline: str = "\n", encoding: str = "utf-8") -> io.BytesIO:
        return io.BytesIO("".join(line + newline for line in lines).encode(encoding))

    return make

"""The relay's batch goes out in one socket write, frames intact and in order."""

from __future__ import annotations

import pytest

from bus.broker import _one_write


class Transport:
    """py-amqp's transport shape: write() sends through the _write hook (the socket's sendall)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self._write = self.sent.append

    def write(self, data: bytes) -> None:
        self._write(data)


def test_the_frames_of_a_batch_leave_in_one_write_in_order() -> None:
    transport = Transport()
    reused = bytearray(3)  # py-amqp packs every frame into one reused buffer
    with _one_write(transport):
        for frame in (b"one", b"two", b"six"):
            reused[:] = frame
            transport.write(memoryview(reused))
        assert transport.sent == []
    assert transport.sent == [b"onetwosix"]


def test_after_the_batch_writes_go_straight_to_the_socket_again() -> None:
    transport = Transport()
    with _one_write(transport):
        transport.write(b"a")
    transport.write(b"b")
    assert transport.sent == [b"a", b"b"]


def test_what_was_framed_before_an_error_is_still_sent_and_the_error_kept() -> None:
    transport = Transport()
    with pytest.raises(RuntimeError), _one_write(transport):
        transport.write(b"first")
        raise RuntimeError("the broker went away")
    assert transport.sent == [b"first"]
    transport.write(b"later")
    assert transport.sent == [b"first", b"later"]


def test_a_transport_without_the_hook_writes_as_usual() -> None:
    sent: list[bytes] = []

    class Plain:
        def write(self, data: bytes) -> None:
            sent.append(data)

    plain = Plain()
    with _one_write(plain):
        plain.write(b"x")
        plain.write(b"y")
    assert sent == [b"x", b"y"]

"""The bus worker handles a lone message at once and gathers only what the socket already holds."""

from __future__ import annotations

import socket
from types import SimpleNamespace

from bus.consumer import _nothing_waiting


def amqp_connection(sock: socket.socket, read_buffer: bytes = b"") -> SimpleNamespace:
    """The shape of kombu's Connection over py-amqp: .connection.transport.sock / ._read_buffer."""
    transport = SimpleNamespace(sock=sock, _read_buffer=read_buffer)
    return SimpleNamespace(connection=SimpleNamespace(transport=transport))


def test_an_empty_socket_means_handle_what_is_in_hand_now() -> None:
    ours, broker = socket.socketpair()
    with ours, broker:
        assert _nothing_waiting(amqp_connection(ours)) is True


def test_bytes_in_the_socket_are_read_before_handling_the_batch() -> None:
    ours, broker = socket.socketpair()
    with ours, broker:
        broker.sendall(b"\x01\x00\x01")
        assert _nothing_waiting(amqp_connection(ours)) is False


def test_a_frame_half_read_after_a_timeout_is_finished_first() -> None:
    ours, broker = socket.socketpair()
    with ours, broker:
        assert _nothing_waiting(amqp_connection(ours, read_buffer=b"\x01\x00")) is False


def test_a_transport_without_a_socket_waits_its_short_while() -> None:
    memory = SimpleNamespace(connection=SimpleNamespace(transport=SimpleNamespace()))
    assert _nothing_waiting(memory) is False


def test_a_closed_socket_is_left_to_drain_events_to_report() -> None:
    ours, broker = socket.socketpair()
    broker.close()
    ours.close()
    assert _nothing_waiting(amqp_connection(ours)) is False

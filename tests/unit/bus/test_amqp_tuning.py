"""The py-amqp speed-ups of bus/amqp_tuning.py: what they do, and that the installed py-amqp
still has every attribute they touch (an upgrade that moves one fails here, naming it)."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from types import SimpleNamespace

import amqp
import pytest
from amqp.transport import TCPTransport

from bus.amqp_tuning import nothing_waiting, one_write, skip_blocked_poll

# -- one write per batch ------------------------------------------------------------------------


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
    with one_write(transport):
        for frame in (b"one", b"two", b"six"):
            reused[:] = frame
            transport.write(memoryview(reused))
        assert transport.sent == []
    assert transport.sent == [b"onetwosix"]


def test_after_the_batch_writes_go_straight_to_the_socket_again() -> None:
    transport = Transport()
    with one_write(transport):
        transport.write(b"a")
    transport.write(b"b")
    assert transport.sent == [b"a", b"b"]


def test_what_was_framed_before_an_error_is_still_sent_and_the_error_kept() -> None:
    transport = Transport()
    with pytest.raises(RuntimeError), one_write(transport):
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
    with one_write(plain):
        plain.write(b"x")
        plain.write(b"y")
    assert sent == [b"x", b"y"]


# -- the bus worker handles a lone message at once and gathers only what the socket holds -------


def amqp_connection(sock: socket.socket, read_buffer: bytes = b"") -> SimpleNamespace:
    """The shape of kombu's Connection over py-amqp: .connection.transport.sock / ._read_buffer."""
    transport = SimpleNamespace(sock=sock, _read_buffer=read_buffer)
    return SimpleNamespace(connection=SimpleNamespace(transport=transport))


def test_an_empty_socket_means_handle_what_is_in_hand_now() -> None:
    ours, broker = socket.socketpair()
    with ours, broker:
        assert nothing_waiting(amqp_connection(ours)) is True


def test_bytes_in_the_socket_are_read_before_handling_the_batch() -> None:
    ours, broker = socket.socketpair()
    with ours, broker:
        broker.sendall(b"\x01\x00\x01")
        assert nothing_waiting(amqp_connection(ours)) is False


def test_a_frame_half_read_after_a_timeout_is_finished_first() -> None:
    ours, broker = socket.socketpair()
    with ours, broker:
        assert nothing_waiting(amqp_connection(ours, read_buffer=b"\x01\x00")) is False


def test_a_transport_without_a_socket_waits_its_short_while() -> None:
    memory = SimpleNamespace(connection=SimpleNamespace(transport=SimpleNamespace()))
    assert nothing_waiting(memory) is False


def test_a_closed_socket_is_left_to_drain_events_to_report() -> None:
    ours, broker = socket.socketpair()
    broker.close()
    ours.close()
    assert nothing_waiting(amqp_connection(ours)) is False


# -- the installed py-amqp still has what the speed-ups touch -----------------------------------


@contextmanager
def probing(attribute: str, relied_on: str) -> Iterator[None]:
    """Turn any failure of a probe into one message naming py-amqp's version and the attribute."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - an AssertionError or whatever the new version raises
        pytest.fail(
            f"py-amqp {amqp.__version__} moved {attribute}, which bus/amqp_tuning.py relies on: "
            f"{relied_on}. Adapt bus/amqp_tuning.py to this py-amqp (it was written for 5.4), "
            f"or pin amqp back. ({type(exc).__name__}: {exc})",
            pytrace=False,
        )


@pytest.fixture
def tcp_transport() -> Iterator[tuple[TCPTransport, socket.socket]]:
    """py-amqp's own TCP transport, set up on one end of a socket pair; the other end is the broker."""
    ours, broker = socket.socketpair()
    transport = TCPTransport("127.0.0.1:5672")
    transport.sock = ours
    transport._setup_transport()
    with ours, broker:
        yield transport, broker


def readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def test_py_amqp_still_writes_every_frame_through_the_transport_write_hook(tcp_transport) -> None:
    transport, broker = tcp_transport
    with probing(
        "TCPTransport._write", "write() sends through it, so one_write can gather a batch"
    ):
        with one_write(transport):
            transport.write(b"one")
            transport.write(b"two")
            assert not readable(broker), "a frame reached the socket before the batch ended"
        assert broker.recv(64) == b"onetwo"


def test_py_amqp_still_keeps_a_half_read_frame_in_its_read_buffer(tcp_transport) -> None:
    transport, broker = tcp_transport
    transport.sock.setblocking(False)  # the read stops where the broker's bytes do
    broker.sendall(b"\x01\x00\x01")  # three bytes of a seven-byte frame header
    with probing(
        "TCPTransport._read_buffer",
        "a read cut short keeps its bytes there, which nothing_waiting checks",
    ):
        with pytest.raises(socket.timeout):
            transport.read_frame()
        assert not readable(transport.sock), "the socket should have been drained into the buffer"
        assert (
            nothing_waiting(SimpleNamespace(connection=SimpleNamespace(transport=transport)))
            is False
        )


def test_py_amqp_still_polls_before_a_publish_only_when_the_blocked_capability_says_so() -> None:
    polls: list[float] = []

    def publish_with(capabilities: dict[str, bool]) -> None:
        connection = SimpleNamespace(
            client_properties={"capabilities": capabilities},
            drain_events=lambda timeout: polls.append(timeout),
            transport=SimpleNamespace(having_timeout=lambda timeout: nullcontext()),
        )
        channel = amqp.Channel.__new__(amqp.Channel)
        channel.connection = connection
        channel.send_method = lambda *args, **kwargs: None
        channel.basic_publish(amqp.Message(b"{}"), exchange="portico.events", routing_key="a.b")

    with probing(
        "client_properties['capabilities']['connection.blocked']",
        "Channel.basic_publish polls the socket before each publish only while it is true",
    ):
        connection = amqp.Connection()
        connection.send_method = lambda *args, **kwargs: None  # the start-ok answer
        connection._on_start(
            0, 9, {"capabilities": {"connection.blocked": True}}, b"PLAIN", "en_US"
        )
        assert connection.client_properties["capabilities"]["connection.blocked"] is True
        publish_with(connection.client_properties["capabilities"])
        assert polls == [0], "basic_publish no longer polls for a connection.blocked notice"
        skip_blocked_poll(connection)
        publish_with(connection.client_properties["capabilities"])
        assert polls == [0], "basic_publish polled although the capability was turned off"


def test_py_amqp_still_hands_publisher_confirms_to_the_channel_events() -> None:
    acks: list[tuple[int, bool]] = []
    with probing(
        "Channel.events['basic_ack'] / ['basic_nack']", "ConfirmedBatches counts confirms there"
    ):
        channel = amqp.Channel.__new__(amqp.Channel)
        channel.events = {
            "basic_ack": {lambda tag, multiple: acks.append((tag, multiple))},
            "basic_nack": {lambda tag, multiple: acks.append((-tag, multiple))},
        }
        channel._on_basic_ack(7, True)
        channel._on_basic_nack(8, False)
        assert acks == [(7, True), (-8, False)]

"""The gateway's pooled GET road to the services (gateway/adapters/services.py), against a real
HTTP server on a local port."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from bus.http import Problem
from bus.http_client import ServiceUnavailable
from gateway.adapters.services import PooledServiceClient
from tests.waiting_kit import DEADLINE


@dataclass
class Service:
    """The service's address, the calls it saw, and what the tests steer: `/hold` answers only once
    `release` is set (or after DEADLINE); `closed` counts connections the service has closed."""

    url: str
    seen: list[dict[str, Any]]
    release: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    held: int = 0
    closed: int = 0

    def note(self, **counts: int) -> None:
        with self.changed:
            for name, step in counts.items():
                setattr(self, name, getattr(self, name) + step)
            self.changed.notify_all()

    def wait_for(self, name: str, count: int) -> None:
        with self.changed:
            reached = self.changed.wait_for(lambda: getattr(self, name) >= count, timeout=DEADLINE)
        assert reached, (
            f"the service saw {getattr(self, name)} {name}, not {count}, within {DEADLINE:g} s"
        )


class Handler(BaseHTTPRequestHandler):
    """A service that keeps connections alive (as gunicorn does) and records every call."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]]
    service: Service

    def _answer(self) -> None:
        url = urlsplit(self.path)
        call = {
            "method": self.command,
            "path": unquote(url.path),
            "args": dict(parse_qsl(url.query)),
            "headers": dict(self.headers),
            "peer": self.client_address[1],
            "body": b"",
        }
        self.seen.append(call)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            call["body"] = self.rfile.read(length)
        if url.path == "/drop":  # read, then gone without a word (a service killed mid-request)
            self.close_connection = True
            return
        if url.path == "/empty":
            self.send_response(204)
            self.end_headers()
            return
        status, body = (
            200,
            {"path": unquote(url.path), "args": dict(parse_qsl(url.query)), "method": self.command},
        )
        if url.path == "/missing":
            status, body = (
                404,
                {
                    "type": "about:blank",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "No user has this id.",
                },
            )
        elif url.path == "/hold":
            self.service.note(held=1)
            self.service.release.wait(DEADLINE)
        elif url.path == "/broken":
            status, body = 500, {"detail": "boom"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if (
            url.path == "/then-close"
        ):  # as gunicorn at its keep-alive timeout: closed without notice
            self.close_connection = True

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args: Any) -> None:
        pass


class CountingServer(ThreadingHTTPServer):
    service: Service

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.service.note(closed=1)


@pytest.fixture
def service() -> Iterator[Service]:
    seen: list[dict[str, Any]] = []
    httpd = CountingServer(("127.0.0.1", 0), Handler)
    httpd.service = Service(f"http://127.0.0.1:{httpd.server_port}", seen)
    httpd.RequestHandlerClass = type(
        "Recording", (Handler,), {"seen": seen, "service": httpd.service}
    )
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.service
    finally:
        httpd.service.release.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(service) -> tuple[str, list[dict[str, Any]]]:
    return service.url, service.seen


def test_get_answers_json_with_the_token_params_and_headers(server):
    url, seen = server
    client = PooledServiceClient("identity", base_url=url, token="secret")
    answer = client.get(
        "/internal/users/u 1/audits",
        params={"page": 1, "since": "2025-01-06T09:00:00+00:00"},
        headers={"X-Portico-Actor": "u1"},
    )
    assert answer == {
        "path": "/internal/users/u 1/audits",
        "method": "GET",
        "args": {"page": "1", "since": "2025-01-06T09:00:00+00:00"},
    }
    assert seen[-1]["headers"]["Authorization"] == "Bearer secret"
    assert seen[-1]["headers"]["X-Portico-Actor"] == "u1"


def test_connections_are_kept_alive_and_reused(server):
    url, seen = server
    client = PooledServiceClient("identity", base_url=url, token="secret")
    for _ in range(3):
        client.get("/a")
    assert len(client.idle) == 1  # one connection, back in the pool after each call
    assert len({call["peer"] for call in seen}) == 1


def test_errors_map_as_with_httpx(server):
    url, _ = server
    client = PooledServiceClient("identity", base_url=url, token="secret")
    with pytest.raises(Problem) as refused:
        client.get("/missing")
    assert refused.value.status == 404 and refused.value.detail == "No user has this id."
    with pytest.raises(ServiceUnavailable):
        client.get("/broken")


def test_a_closed_idle_connection_is_replaced(server):
    url, seen = server
    client = PooledServiceClient("identity", base_url=url, token="secret")
    client.get("/a")
    for (
        _,
        connection,
    ) in client.idle:  # the server side goes away, as gunicorn's keep-alive timeout does
        connection.sock.shutdown(socket.SHUT_RDWR)
    assert client.get("/b")["path"] == "/b"


def test_a_service_that_does_not_answer_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PooledServiceClient("identity", base_url=f"http://127.0.0.1:{port}", token="secret")
    with pytest.raises(ServiceUnavailable):
        client.get("/a")


def test_calls_with_options_the_road_does_not_know_still_go_through_httpx(server):
    url, seen = server
    client = PooledServiceClient("identity", base_url=url, token="secret")
    assert (
        client.post("/c", content=b"x=1", headers={"Content-Type": "text/plain"})["method"]
        == "POST"
    )
    assert seen[-1]["body"] == b"x=1"
    assert client.idle == []


def test_calls_sent_ahead_run_at_once_and_answer_in_the_same_thread(service):
    client = PooledServiceClient("identity", base_url=service.url, token="secret")
    first = client.begin_get("/hold", params={"n": 1}, headers={"X-Portico-Actor": "u1"})
    second = client.begin_get("/hold", params={"n": 2})
    assert first is not None and second is not None
    service.wait_for("held", 2)  # both calls are at the service before either answer is read
    service.release.set()
    assert first.result(timeout=DEADLINE)["args"] == {"n": "1"}
    assert second.result(timeout=DEADLINE)["path"] == "/hold"
    assert service.seen[0]["headers"]["Authorization"] == "Bearer secret"
    assert service.seen[0]["headers"]["X-Portico-Actor"] == "u1"
    assert len(client.idle) == 2  # both connections back in the pool


def test_an_answer_not_come_by_the_deadline_is_a_timeout_and_its_connection_is_dropped(service):
    client = PooledServiceClient(
        "identity", base_url=service.url, token="secret", timeout=2 * DEADLINE
    )
    sent = client.begin_get(
        "/hold"
    )  # answers only once released: without a deadline, after DEADLINE
    with pytest.raises(TimeoutError):
        sent.result(timeout=0.2)
    sent.cancel()
    assert client.idle == []  # a connection mid-answer is never reused
    assert client.get("/a")["path"] == "/a"


def test_errors_sent_ahead_map_as_with_get(server):
    url, _ = server
    client = PooledServiceClient("identity", base_url=url, token="secret")
    missing, broken = client.begin_get("/missing"), client.begin_get("/broken")
    with pytest.raises(Problem) as refused:
        missing.result(timeout=2)
    assert refused.value.status == 404 and refused.value.detail == "No user has this id."
    with pytest.raises(ServiceUnavailable):
        broken.result(timeout=2)


def test_a_service_that_is_down_fails_when_the_answer_is_read_not_when_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PooledServiceClient("identity", base_url=f"http://127.0.0.1:{port}", token="secret")
    sent = client.begin_get("/a")  # no exception here: the other calls of a fan-out still go out
    with pytest.raises(ServiceUnavailable):
        sent.result(timeout=1)


def test_a_call_sent_ahead_on_a_connection_the_service_closed_is_sent_again(server):
    url, seen = server
    client = PooledServiceClient("identity", base_url=url, token="secret")
    client.get("/a")
    for _, connection in client.idle:
        connection.sock.shutdown(socket.SHUT_RDWR)
    assert client.begin_get("/b", params={"page": 2}).result(timeout=2)["args"] == {"page": "2"}
    assert seen[-1]["path"] == "/b"


def test_a_base_url_the_road_does_not_know_is_left_to_get():
    client = PooledServiceClient("identity", base_url="https://identity.example", token="secret")
    assert client.begin_get("/a") is None


def test_a_call_sent_ahead_on_a_connection_the_service_closed_silently_is_read_from_a_new_one(
    service,
):
    client = PooledServiceClient("identity", base_url=service.url, token="secret")
    client.get("/then-close")
    assert len(client.idle) == 1
    service.wait_for("closed", 1)  # the service has closed its side
    assert client.begin_get("/b").result(timeout=DEADLINE)["path"] == "/b"
    assert [call["path"] for call in service.seen] == ["/then-close", "/b"]
    assert service.seen[0]["peer"] != service.seen[1]["peer"]


def test_request_on_the_road_still_answers_an_httpx_response(server):
    url, _ = server
    client = PooledServiceClient("identity", base_url=url, token="secret")
    response = client.request("GET", "/a", params={"page": 1})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json()["args"] == {"page": "1"} and len(client.idle) == 1


def test_a_call_sent_again_after_a_closed_connection_keeps_the_deadline(service):
    # the client's own timeout is longer than the hold: a call that lost its deadline would be answered
    client = PooledServiceClient(
        "identity", base_url=service.url, token="secret", timeout=2 * DEADLINE
    )
    client.get("/then-close")
    service.wait_for("closed", 1)
    sent = client.begin_get("/hold")
    with pytest.raises(TimeoutError):
        sent.result(
            timeout=0.3
        )  # sent again on a new connection: still 0.3 s, not the client's own
    service.release.set()
    assert client.get("/a")["path"] == "/a"
    assert all(connection.timeout == 2 * DEADLINE for _, connection in client.idle)


# --- the road for writes (a sign-in's POST) ------------------------------------------------------


def test_a_post_with_a_json_body_takes_the_road_on_a_kept_alive_connection(server):
    url, seen = server
    client = PooledServiceClient("identity", base_url=url, token="secret")
    sign_in = {"email": "zoë@example.com", "password": "Quartz!Meadow7River", "ip": "127.0.0.1"}
    for _ in range(3):
        assert client.post(
            "/internal/sign-in", json=sign_in, headers={"X-Portico-Actor": "u1"}
        ) == {"path": "/internal/sign-in", "method": "POST", "args": {}}
    assert [json.loads(call["body"]) for call in seen] == [sign_in] * 3
    assert seen[-1]["headers"]["Content-Type"] == "application/json"
    assert seen[-1]["headers"]["Authorization"] == "Bearer secret"
    assert seen[-1]["headers"]["X-Portico-Actor"] == "u1"
    assert (
        len({call["peer"] for call in seen}) == 1 and len(client.idle) == 1
    )  # one connection, kept


def test_write_errors_and_empty_answers_map_as_with_httpx(server):
    url, _ = server
    client = PooledServiceClient("identity", base_url=url, token="secret")
    with pytest.raises(Problem) as refused:
        client.post("/missing", json={})
    assert refused.value.status == 404 and refused.value.detail == "No user has this id."
    with pytest.raises(ServiceUnavailable):
        client.post("/broken", json={})
    assert client.post("/empty", json={"a": 1}) is None
    response = client.request("PATCH", "/a", json={"b": 2})
    assert response.status_code == 200 and response.json()["method"] == "PATCH"


def test_a_write_is_never_sent_twice(server):
    """The service reads a POST on a reused connection and goes away without answering: the
    caller is told the service is unavailable, and the service saw the POST once."""
    url, seen = server
    client = PooledServiceClient("identity", base_url=url, token="secret")
    client.post("/a", json={})
    with pytest.raises(ServiceUnavailable):
        client.post("/drop", json={"email": "ada@example.com"})
    assert [call["path"] for call in seen] == ["/a", "/drop"]


def test_a_write_does_not_take_a_connection_the_service_closed(service):
    """A kept-alive connection the service has closed (gunicorn's keep-alive timeout) is left for
    a new one before the write is sent: the write goes through, once."""
    client = PooledServiceClient("identity", base_url=service.url, token="secret")
    client.post("/then-close", json={})
    service.wait_for("closed", 1)
    assert client.post("/b", json={"n": 1})["path"] == "/b"
    assert [call["path"] for call in service.seen] == ["/then-close", "/b"]
    assert service.seen[0]["peer"] != service.seen[1]["peer"]

"""The gateway's clients of the services in the distributed mode.

`PooledServiceClient` is bus.http_client.ServiceClient with a cheaper road for GET, the reads on
every page, and for writes with a JSON body (a sign-in's POST): the standard library's
http.client on keep-alive connections pooled per process (thread-safe), about a third of httpx's
CPU per call. Calls with options the road does not know go through httpx as before. Answers come
back as httpx.Response (or, from get and post, as decoded JSON), so callers and error mapping are
the same.

A write is never sent twice: it takes an idle connection only once a look at its socket shows
the service has not closed it, and a failure after it was sent is ServiceUnavailable.

`begin_get` is the road for a fan-out (the dashboard asks two services at once): it sends the
request and returns at once; `Sent.result(timeout)` reads the answer later, in the same thread.
The services work concurrently while the caller does its own work or reads the other answer, and
no thread is woken to make the call.
"""

from __future__ import annotations

import http.client
import json
import select
import threading
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from bus.http_client import ServiceClient, ServiceUnavailable, _problem, caller_context

# gunicorn closes a keep-alive connection after 2 s without a request: older ones are not reused
IDLE_SECONDS = 1.5
_PLAIN = (str, int, float)
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# an answer as read: status, headers, body
Raw = tuple[int, list[tuple[str, str]], bytes]


class PooledServiceClient(ServiceClient):
    def __init__(self, name: str, *, base_url: str, token: str, timeout: float = 5.0) -> None:
        super().__init__(name, base_url=base_url, token=token, timeout=timeout)
        parts = urlsplit(base_url)
        self.fast = (
            parts.scheme == "http" and not parts.path.strip("/") and parts.hostname is not None
        )
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.timeout = timeout
        self.base_headers = {"Authorization": f"Bearer {token}", "Accept": "*/*"}
        self.idle: list[tuple[float, http.client.HTTPConnection]] = []
        self.lock = threading.Lock()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if method in _WRITES:
            written = self._write_target(method, path, kwargs)
            if written is None:
                return super().request(method, path, **kwargs)
            raw = self._write(
                method, written, self._headers(kwargs.get("headers")), kwargs.get("json")
            )
            return self._checked(self._response(*raw, written, method))
        target = self._target(method, path, kwargs)
        if target is None:
            return super().request(method, path, **kwargs)
        return self._checked(
            self._response(*self._get(target, self._headers(kwargs.get("headers"))), target)
        )

    def post(self, path: str, **kwargs: Any) -> Any:
        """The answer's JSON (None for an empty body); on the road, decoded from the body."""
        target = self._write_target("POST", path, kwargs)
        if target is None:
            return super().post(path, **kwargs)
        raw = self._write("POST", target, self._headers(kwargs.get("headers")), kwargs.get("json"))
        return self._decoded(raw, target, "POST")

    def get(self, path: str, **kwargs: Any) -> Any:
        """The answer's JSON; on the road, decoded from the body without building httpx objects
        (they are built for an error answer only)."""
        target = self._target("GET", path, kwargs)
        if target is None:
            return super().get(path, **kwargs)
        return self._decoded(self._get(target, self._headers(kwargs.get("headers"))), target)

    def _target(self, method: str, path: str, kwargs: dict[str, Any]) -> str | None:
        """The request target of a call the road takes; None for one it leaves to httpx."""
        params = kwargs.get("params") or {}
        if (
            method != "GET"
            or not self.fast
            or set(kwargs) - {"params", "headers"}
            or not all(isinstance(v, _PLAIN) for v in params.values())
        ):
            return None
        target = quote(path, safe="/%:@&=?+,;!$'()*~")
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        return target

    def _write_target(self, method: str, path: str, kwargs: dict[str, Any]) -> str | None:
        """The request target of a write the road takes (a JSON body or none); None otherwise."""
        if method not in _WRITES or not self.fast or set(kwargs) - {"json", "headers"}:
            return None
        return quote(path, safe="/%:@&=?+,;!$'()*~")

    def _headers(self, given: dict[str, str] | None) -> dict[str, str]:
        # the request id and trace of the caller's request go along (JSON logs, tracing)
        return caller_context({**self.base_headers, **(given or {})})

    def begin_get(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Sent | None:
        """Send GET `path` now; the answer (decoded JSON, or the errors `get` raises) is read by
        `.result(timeout)`. A failure to send is raised there too, so a fan-out sends every call
        before it looks at any answer. None when this call cannot take the road (the caller
        then makes it with `get`)."""
        target = self._target("GET", path, {"params": params})
        if target is None:
            return None
        return Sent(self, target, self._headers(headers))

    def _response(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        target: str,
        method: str = "GET",
    ) -> httpx.Response:
        return httpx.Response(
            status,
            headers=headers,
            content=body,
            request=httpx.Request(method, f"http://{self.host}:{self.port}{target}"),
        )

    def _decoded(self, raw: Raw, target: str, method: str = "GET") -> Any:
        status, headers, body = raw
        if status >= 400:
            self._checked(self._response(status, headers, body, target, method))  # raises
        if method != "GET" and not body:
            return None
        return json.loads(body)

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 500:
            raise ServiceUnavailable(self.name, f"answered {response.status_code}")
        if response.status_code >= 400:
            raise _problem(response)
        return response

    def _release(
        self, connection: http.client.HTTPConnection, answer: http.client.HTTPResponse
    ) -> None:
        if answer.will_close:
            connection.close()
        else:
            connection.timeout = self.timeout  # a caller's deadline ends with its call
            if connection.sock is not None:
                connection.sock.settimeout(self.timeout)
            with self.lock:
                self.idle.append((time.monotonic(), connection))

    def _get(self, target: str, headers: dict[str, str], timeout: float | None = None) -> Raw:
        """One GET on a pooled connection. With `timeout` (seconds, instead of the client's own),
        passing it raises TimeoutError, as a call sent ahead does; otherwise ServiceUnavailable."""
        for attempt in (1, 2):
            connection, reused = self._connection()
            if timeout is not None:
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
            try:
                connection.request("GET", target, headers=headers)
                answer = connection.getresponse()
                body = answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                connection.close()
                if reused and attempt == 1:
                    continue  # the service closed the idle connection meanwhile: a GET may be sent again
                raise ServiceUnavailable(self.name, str(exc) or type(exc).__name__) from None
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if timeout is not None and isinstance(exc, TimeoutError):
                    raise
                raise ServiceUnavailable(self.name, str(exc) or type(exc).__name__) from None
            self._release(connection, answer)
            return answer.status, answer.getheaders(), body
        raise AssertionError("not reached")

    def _write(self, method: str, target: str, headers: dict[str, str], body: Any) -> Raw:
        """One write on a pooled connection the service has not closed; sent once, whatever happens."""
        data = None
        if body is not None:  # as httpx encodes json=
            data = json.dumps(
                body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
            headers = {**headers, "Content-Type": "application/json"}
        connection, _ = self._connection(live=True)
        try:
            connection.request(method, target, body=data, headers=headers)
            answer = connection.getresponse()
            answer_body = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise ServiceUnavailable(self.name, str(exc) or type(exc).__name__) from None
        self._release(connection, answer)
        return answer.status, answer.getheaders(), answer_body

    def _connection(self, live: bool = False) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection (newest first) or a new one; `live`: only one whose socket shows
        no sign of the service closing it (nothing to read on an idle connection but its end)."""
        now = time.monotonic()
        with self.lock:
            while self.idle:
                since, connection = self.idle.pop()
                if now - since < IDLE_SECONDS and not (live and _closed_by_peer(connection)):
                    return connection, True
                connection.close()
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout), False

    def close(self) -> None:
        with self.lock:
            for _, connection in self.idle:
                connection.close()
            self.idle.clear()
        super().close()


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive connection is readable only when the service closed it (or broke the
    protocol): either way it must not carry a write."""
    if connection.sock is None:
        return True
    try:
        readable, _, _ = select.select([connection.sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class Sent:
    """A GET sent on a pooled connection, its answer not read yet."""

    def __init__(self, client: PooledServiceClient, target: str, headers: dict[str, str]) -> None:
        self.client, self.target, self.headers = client, target, headers
        self.failure: Exception | None = None
        self.connection: http.client.HTTPConnection | None = None
        self.reused = False
        self._send()

    def _send(self) -> None:
        self.connection, self.reused = self.client._connection()
        try:
            self.connection.request("GET", self.target, headers=self.headers)
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            if (
                self.reused
            ):  # the service closed the idle connection meanwhile: once more, on a new one
                self.reused = False
                self._send()
                return
            self.failure = ServiceUnavailable(self.client.name, str(exc) or type(exc).__name__)

    def result(self, timeout: float | None = None) -> Any:
        """The answer's JSON; TimeoutError when it has not come within `timeout` seconds (the
        connection is then dropped: it is mid-answer)."""
        if self.failure is not None:
            raise self.failure
        connection = self.connection
        assert connection is not None
        if timeout is not None and connection.sock is not None:
            connection.sock.settimeout(max(timeout, 0.001))
        try:
            answer = connection.getresponse()
            body = answer.read()
        except TimeoutError:
            connection.close()
            raise
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            connection.close()
            if self.reused:  # a GET on a connection the service had closed: sent again, read now
                return self.client._decoded(
                    self.client._get(self.target, self.headers, timeout), self.target
                )
            raise ServiceUnavailable(self.client.name, str(exc) or type(exc).__name__) from None
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise ServiceUnavailable(self.client.name, str(exc) or type(exc).__name__) from None
        self.client._release(connection, answer)
        return self.client._decoded((answer.status, answer.getheaders(), body), self.target)

    def cancel(self) -> None:
        if self.connection is not None:
            self.connection.close()

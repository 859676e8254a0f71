"""The gateway's clients of the services in the distributed mode.

`PooledServiceClient` is bus.http_client.ServiceClient with a cheaper road for GET, the reads on
every page (the dashboard makes 4 at once): the standard library's http.client on keep-alive
connections pooled per process (thread-safe), about a third of httpx's CPU per call. Every other
method, and GETs with options the road does not know, go through httpx as before. Answers come
back as httpx.Response, so callers and error mapping are the same.
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from bus.http_client import ServiceClient, ServiceUnavailable, _problem

# gunicorn closes a keep-alive connection after 2 s without a request: older ones are not reused
IDLE_SECONDS = 1.5
_PLAIN = (str, int, float)


class PooledServiceClient(ServiceClient):
    def __init__(self, name: str, *, base_url: str, token: str, timeout: float = 5.0) -> None:
        super().__init__(name, base_url=base_url, token=token, timeout=timeout)
        parts = urlsplit(base_url)
        self.fast = parts.scheme == "http" and not parts.path.strip("/") and parts.hostname is not None
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.timeout = timeout
        self.base_headers = {"Authorization": f"Bearer {token}", "Accept": "*/*"}
        self.idle: list[tuple[float, http.client.HTTPConnection]] = []
        self.lock = threading.Lock()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = kwargs.get("params") or {}
        if (method != "GET" or not self.fast or set(kwargs) - {"params", "headers"}
                or not all(isinstance(v, _PLAIN) for v in params.values())):
            return super().request(method, path, **kwargs)
        target = quote(path, safe="/%:@&=?+,;!$'()*~")
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        headers = {**self.base_headers, **(kwargs.get("headers") or {})}
        response = self._get(target, headers)
        if response.status_code >= 500:
            raise ServiceUnavailable(self.name, f"answered {response.status_code}")
        if response.status_code >= 400:
            raise _problem(response)
        return response

    def _get(self, target: str, headers: dict[str, str]) -> httpx.Response:
        for attempt in (1, 2):
            connection, reused = self._connection()
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
                raise ServiceUnavailable(self.name, str(exc) or type(exc).__name__) from None
            if answer.will_close:
                connection.close()
            else:
                with self.lock:
                    self.idle.append((time.monotonic(), connection))
            return httpx.Response(answer.status, headers=answer.getheaders(), content=body,
                                  request=httpx.Request("GET", f"http://{self.host}:{self.port}{target}"))
        raise AssertionError("not reached")

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        now = time.monotonic()
        with self.lock:
            while self.idle:
                since, connection = self.idle.pop()
                if now - since < IDLE_SECONDS:
                    return connection, True
                connection.close()
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout), False

    def close(self) -> None:
        with self.lock:
            for _, connection in self.idle:
                connection.close()
            self.idle.clear()
        super().close()

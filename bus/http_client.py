"""The one client class the gateway (and the importer) use to call a service's internal API.

In the distributed mode it speaks HTTP to PORTICO_<PART>_URL; in the embedded mode the same
calls go in-process to the service's WSGI app (httpx's WSGITransport), so one code path
serves both.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from flask import g, has_request_context

from bus import i18n, tracing
from bus.http import Problem
from bus.logging_setup import REQUEST_ID_HEADER


def segment(value: str) -> str:
    """`value` as one URL path segment: every reserved character escaped, "/" included."""
    return quote(value, safe="")


def with_request_id(headers: dict[str, str]) -> dict[str, str]:
    """`headers` with the request id of the request being answered (the gateway's), so that the
    service's log lines carry it too."""
    if has_request_context() and g.get("request_id"):
        headers.setdefault(REQUEST_ID_HEADER, g.request_id)
    return headers


def caller_context(headers: dict[str, str]) -> dict[str, str]:
    """What a call to a service carries besides its own headers: the request id and, with
    tracing on, the caller's `traceparent` (for clients that make no span of their own)."""
    tracing.inject(with_request_id(headers))
    return headers


class ServiceUnavailable(Exception):
    """The service did not answer in time or at all."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} is unavailable: {reason}")
        self.service = service


class ServiceClient:
    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        app: Any = None,
        token: str,
        timeout: float = 5.0,
    ) -> None:
        self.name = name
        transport = httpx.WSGITransport(app=app) if app is not None else None
        self.http = httpx.Client(
            base_url=base_url or f"http://{name}.internal",
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the service; its problem+json errors come back as Problem, outages as ServiceUnavailable."""
        # Path values may carry any character; the transports want ASCII.
        path = quote(path, safe="/%:@&=?+,;!$'()*~")
        headers = with_request_id(dict(kwargs.pop("headers", None) or {}))
        i18n.language_headers(headers)  # the service answers its problems in the caller's language
        with tracing.client_span(self.name, method, headers):  # adds traceparent when tracing
            try:
                response = self.http.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(self.name, str(exc) or type(exc).__name__) from None
        if response.status_code >= 500:
            raise ServiceUnavailable(self.name, f"answered {response.status_code}")
        if response.status_code >= 400:
            raise _problem(response)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, **kwargs: Any) -> Any:
        response = self.request("POST", path, **kwargs)
        return response.json() if response.content else None

    def patch(self, path: str, **kwargs: Any) -> Any:
        response = self.request("PATCH", path, **kwargs)
        return response.json() if response.content else None

    def put(self, path: str, **kwargs: Any) -> Any:
        response = self.request("PUT", path, **kwargs)
        return response.json() if response.content else None

    def delete(self, path: str, **kwargs: Any) -> Any:
        response = self.request("DELETE", path, **kwargs)
        return response.json() if response.content else None

    def close(self) -> None:
        self.http.close()


def _problem(response: httpx.Response) -> Problem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    extra = {
        k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "errors")
    }
    return Problem(
        response.status_code,
        body.get("title") or response.reason_phrase,
        body.get("detail") or response.reason_phrase,
        errors=body.get("errors"),
        type_=body.get("type") or "about:blank",
        **extra,
    )

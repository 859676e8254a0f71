"""Calls to the services behind the gateway, with who acts in headers (docs/internal-api.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import g

from bus.http_client import ServiceClient, ServiceUnavailable
from gateway.entrypoints.context import gw


def actor_headers() -> dict[str, str]:
    headers = {"X-Portico-Request-Id": g.get("request_id", "")}
    me = g.get("caller")
    if g.get("actor") == "operator":
        headers["X-Portico-Actor"] = "operator"
    elif me is not None:
        headers["X-Portico-Actor"] = me.user_id
        headers["X-Portico-Actor-Account"] = me.account_id
    return headers


class Forwarder:
    """One service, seen from a request: every call carries the actor headers."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs["headers"] = {**actor_headers(), **kwargs.get("headers", {})}
        if "json" in kwargs:
            kwargs["json"] = jsonable(kwargs["json"])
        if "params" in kwargs:
            kwargs["params"] = query(kwargs["params"])
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._call("get", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self._call("post", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self._call("put", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self._call("patch", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self._call("delete", path, **kwargs)

    def raw(self, method: str, path: str, **kwargs: Any) -> Any:
        """The httpx response itself (CSV reports, uploads), errors still mapped."""
        kwargs["headers"] = {**actor_headers(), **kwargs.get("headers", {})}
        return self.client.request(method, path, **kwargs)


def service(name: str) -> Forwarder:
    client = gw().clients.get(name)
    if client is None:
        raise ServiceUnavailable(name, f"no address is configured (set PORTICO_{name.upper()}_URL)")
    return Forwarder(client)


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def query(params: dict[str, Any]) -> dict[str, Any]:
    """Query parameters for a service: no empty ones, booleans as true/false."""
    out = {}
    for key, value in params.items():
        if value is None or value == "":
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else jsonable(value)
    return out


def propagation(answer: dict[str, Any] | None, *, applied: bool = False) -> dict[str, Any]:
    """Take `event_id` out of a service answer and say how far the change has travelled."""
    event_id = answer.pop("event_id", None) if isinstance(answer, dict) else None
    return {"status": "applied" if applied else "pending", "event_id": event_id}


def as_page(answer: Any, page: int = 1, per_page: int | None = None) -> dict[str, Any]:
    """A service list answer as {items, page, per_page, total} (plain arrays are wrapped)."""
    if isinstance(answer, dict) and "items" in answer:
        items = answer.get("items") or []
        return {"items": items, "page": answer.get("page", page),
                "per_page": answer.get("per_page", per_page or len(items)),
                "total": answer.get("total", len(items))}
    items = list(answer or [])
    return {"items": items, "page": page, "per_page": per_page or len(items), "total": len(items)}

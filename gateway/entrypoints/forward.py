"""Calls to the services behind the gateway, with who acts in headers (docs/internal-api.md)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from flask import g
from sqlalchemy.exc import SQLAlchemyError

from bus.http import Problem
from bus.http_client import ServiceClient, ServiceUnavailable
from gateway.entrypoints.context import gw
from gateway.service_layer import read_your_writes

log = logging.getLogger(__name__)


def actor_headers() -> dict[str, str]:
    headers = {"X-Portico-Request-Id": g.get("request_id", "")}
    me = g.get("caller")
    if g.get("actor") == "operator":
        headers["X-Portico-Actor"] = "operator"
    elif me is not None:
        headers["X-Portico-Actor"] = me.user_id
        headers["X-Portico-Actor-Account"] = me.account_id
    return headers


EVENT_ID_HEADER = "X-Portico-Event-Id"  # a service's 204 answers carry the event they wrote here


def own_events_key() -> str | None:
    """Whose own writes a call may depend on: the signed-in user, or the operator."""
    if g.get("actor") == "operator":
        return "operator"
    me = g.get("caller")
    return me.user_id if me is not None else None


def remember_own_events(event_ids: list[Any], event_type: str, *, actor: str | None = None) -> None:
    """The caller's write produced these events: their next calls elsewhere wait for them."""
    actor = actor or own_events_key()
    ids = [str(event_id) for event_id in event_ids if event_id]
    if actor and ids:
        try:
            read_your_writes.remember_events(
                gw().part, actor, ids, event_type, gw().now(), list(gw().clients)
            )
        except SQLAlchemyError:  # the write is done: answer it; only the next call's wait is lost
            log.warning(
                "could not keep %s's events %s for read-your-writes", actor, ids, exc_info=True
            )
        g.pop("own_events_awaited", None)
        g.pop("own_events_owed", None)
        g.own_events_written = True  # the session's "owes nothing" is out of date for this request


def await_own_events(name: str, client: ServiceClient) -> None:
    """Before the first call of a request to `name`: wait (bounded) until it applied the caller's
    own earlier events (read-your-writes across services)."""
    actor = own_events_key()
    awaited = g.setdefault("own_events_awaited", set())
    if actor is None or name in awaited:
        return
    awaited.add(name)
    if "own_events_owed" not in g:  # read once per request, for every service it calls
        me = g.get("caller")
        if me is not None and not me.session.owes_events and not g.get("own_events_written"):
            g.own_events_owed = {}  # the session's own query said nothing is owed
        else:
            g.own_events_owed = read_your_writes.owed_events(gw().part, actor, gw().now())
    owed = g.own_events_owed.get(name)
    if not owed:
        return
    late = read_your_writes.await_events(
        gw().part,
        actor,
        name,
        read_your_writes.applied_at(client, actor_headers()),
        gw().config.own_events_wait,
        gw().now(),
        owed=owed,
    )
    if late:
        g.setdefault("own_events_late", set()).add(name)


class OwnWriteNotApplied(Problem):
    """503 with Retry-After: a call that depends on the caller's own earlier write met a service
    still without it once the wait was over (a broker outage, a stopped consumer): "not found"
    would be untrue, and a little later the same call succeeds."""

    RETRY_AFTER = 5

    def __init__(self, service: str) -> None:
        super().__init__(
            503,
            "Service Unavailable",
            f"Your previous change has not reached the {service} service yet, so this request "
            "could not be completed. Nothing was changed; try again in a few seconds.",
            service=service,
        )
        self.headers = {"Retry-After": str(self.RETRY_AFTER)}


class Forwarder:
    """One service, seen from a request: every call carries the actor headers, and waits for the
    caller's own pending events there first."""

    def __init__(self, client: ServiceClient, name: str | None = None) -> None:
        self.client = client
        self.name = name or client.name

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        await_own_events(self.name, self.client)
        kwargs["headers"] = {**actor_headers(), **kwargs.get("headers", {})}
        if "json" in kwargs:
            kwargs["json"] = jsonable(kwargs["json"])
        if "params" in kwargs:
            kwargs["params"] = query(kwargs["params"])
        try:
            return getattr(self.client, method)(path, **kwargs)
        except Problem as exc:
            if exc.status == 404 and self.name in g.get("own_events_late", ()):
                raise OwnWriteNotApplied(self.name) from exc
            raise

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
        await_own_events(self.name, self.client)
        kwargs["headers"] = {**actor_headers(), **kwargs.get("headers", {})}
        return self.client.request(method, path, **kwargs)


def service(name: str) -> Forwarder:
    client = gw().clients.get(name)
    if client is None:
        raise ServiceUnavailable(name, f"no address is configured (set PORTICO_{name.upper()}_URL)")
    return Forwarder(client, name)


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


def propagation(
    answer: dict[str, Any] | None,
    *,
    applied: bool = False,
    event_type: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Take `event_id` (and `event_ids`) out of a service answer and say how far the change has
    travelled. With `event_type`, the caller's (or `actor`'s) next calls to the other services
    wait until those have applied these events."""
    event_id = answer.pop("event_id", None) if isinstance(answer, dict) else None
    event_ids = answer.pop("event_ids", None) if isinstance(answer, dict) else None
    if event_type:
        remember_own_events(
            [event_id, *(event_ids if isinstance(event_ids, list) else [])], event_type, actor=actor
        )
    return {"status": "applied" if applied else "pending", "event_id": event_id}


def as_page(answer: Any, page: int = 1, per_page: int | None = None) -> dict[str, Any]:
    """A service list answer as {items, page, per_page, total} (plain arrays are wrapped)."""
    if isinstance(answer, dict) and "items" in answer:
        items = answer.get("items") or []
        return {
            "items": items,
            "page": answer.get("page", page),
            "per_page": answer.get("per_page", per_page or len(items)),
            "total": answer.get("total", len(items)),
        }
    items = list(answer or [])
    return {"items": items, "page": page, "per_page": per_page or len(items), "total": len(items)}

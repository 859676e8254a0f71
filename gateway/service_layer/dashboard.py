"""The profile page's panels, asked of identity and subscriptions at once, within a deadline.

One call to each service: subscriptions answers "my services" and the catalog, identity the
last audits, the administrators and (on an administrator's page) the users summary. A panel
whose service fails or is slow comes back as {"unavailable": true, "reason": ...}; the other
service's panels are still answered, and a slow service never holds the request past the
deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from bus.http import Problem
from bus.http_client import ServiceClient, ServiceUnavailable

log = logging.getLogger(__name__)


def unavailable(reason: str) -> dict[str, Any]:
    return {"unavailable": True, "reason": reason}


def compose_dashboard(
    executor: Executor,
    clients: dict[str, ServiceClient],
    headers: dict[str, str],
    *,
    user_id: str,
    since: str | None,
    is_administrator: bool,
    timeout: float,
    meanwhile: Callable[[], Any] = lambda: None,
) -> tuple[dict[str, Any], Any]:
    """The panels, and what `meanwhile` answered: the request's own thread runs it (local reads)
    while the services answer, so it adds no time to the request.

    A client that can send a call ahead (`begin_get`, the pooled HTTP client of the distributed
    mode) sends both calls from the request's thread, which then reads both answers: no thread
    hand-off. Other clients (the embedded mode's in-process calls) run on the shared pool."""
    since_param = {"since": since} if since else {}
    calls: dict[str, tuple[str, dict[str, Any]]] = {
        "subscriptions": (f"/internal/users/{user_id}/dashboard", since_param),
        # the last audits, the administrators and the users summary of the user's own account
        "identity": (
            f"/internal/users/{user_id}/dashboard",
            {**since_param, "users": "1" if is_administrator else None},
        ),
    }
    started = time.monotonic()
    pending: dict[str, Any] = {}
    for service, (path, params) in calls.items():
        client = clients.get(service)
        params = {k: v for k, v in params.items() if v is not None}
        if client is None:
            pending[service] = ServiceUnavailable(service, "no address is configured")
            continue
        begin = getattr(client, "begin_get", None)
        sent = begin(path, params=params, headers=headers) if begin is not None else None
        pending[service] = (
            sent
            if sent is not None
            else executor.submit(client.get, path, params=params, headers=headers)
        )
    try:
        local = meanwhile()
    except BaseException:
        for call in pending.values():
            if not isinstance(call, Exception):
                call.cancel()  # a call sent ahead holds its connection until read or dropped
        raise
    results: dict[str, Any] = {}
    for service, call in pending.items():
        try:
            if isinstance(call, Exception):
                raise call
            results[service] = call.result(timeout=max(0.0, timeout - (time.monotonic() - started)))
        except TimeoutError:
            call.cancel()
            results[service] = unavailable(
                f"The {service} service did not answer within {timeout:g} s."
            )
        except ServiceUnavailable as exc:
            results[service] = unavailable(
                f"The {exc.service} service is not answering at the moment."
            )
        except Problem as exc:
            results[service] = unavailable(f"The {service} service refused: {exc.detail}")
        except Exception as exc:  # noqa: BLE001 - one broken panel must not break the page
            log.exception("dashboard panel %s failed", service)
            results[service] = unavailable(
                f"The {service} service gave an answer that could not be read "
                f"({type(exc).__name__})."
            )
    identity = results.pop("identity")
    if not isinstance(identity, dict):
        identity = unavailable("The identity service gave an answer that could not be read.")
    for panel in ("last_audits", "administrators", "users"):
        results[panel] = identity if identity.get("unavailable") else identity.get(panel)
    return shape(results, is_administrator), local


def _items(answer: Any) -> Any:
    if isinstance(answer, dict) and answer.get("unavailable"):
        return answer
    if isinstance(answer, dict) and "items" in answer:
        return answer["items"]
    return answer if isinstance(answer, list) else []


def shape(results: dict[str, Any], is_administrator: bool) -> dict[str, Any]:
    subs = results["subscriptions"]
    if isinstance(subs, dict) and subs.get("unavailable"):
        my_services, catalog = subs, subs
    else:
        my_services = (subs or {}).get("my_services") or {}
        catalog = (subs or {}).get("catalog") or {}
    panels: dict[str, Any] = {
        "my_services": my_services,
        "last_audits": _items(results["last_audits"]),
        "catalog": catalog,
        "administrators": _items(results["administrators"]),
    }
    if is_administrator:
        panels["users"] = results["users"]
    return panels

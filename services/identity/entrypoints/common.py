"""What every view of identity's internal API shares: one handler in one unit of work, the actor
and the page a request names, and the shapes of a write's answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, jsonify, request

from bus.envelope import Envelope
from bus.http import current_part
from bus.pagination import Page
from services.identity.service_layer.common import Actor

T = TypeVar("T")


def run(handler: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call one handler in one unit of work and commit what it did."""
    with current_part().uow() as uow:
        result = handler(uow, *args, **kwargs)
        uow.commit()
    return result


def actor() -> Actor:
    """Who acts, from the X-Portico-Actor header of an administrative call."""
    return Actor.from_header(request.headers.get("X-Portico-Actor"))


def page() -> Page:
    return Page.parse(request.args.get("page"), request.args.get("per_page"))


def created(
    view: dict[str, Any], event: Envelope | None, status: int = 201
) -> tuple[Response, int]:
    """A write's answer: what was written, and the id of the event that announces it (if any)."""
    return jsonify({**view, "event_id": event.id if event else None}), status


def no_content(event: Envelope | None = None) -> tuple[str, int, dict[str, str]]:
    """204; the id of the event written, if any, in `X-Portico-Event-Id` (a 204 has no body)."""
    return "", 204, ({"X-Portico-Event-Id": event.id} if event else {})

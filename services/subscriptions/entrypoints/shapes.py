"""How the internal API writes services and subscriptions: the public shapes of docs/api.md, plus."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from bus.clock import iso
from services.subscriptions.domain.records import CatalogService, User
from services.subscriptions.service_layer.views import SubscriptionView, Written


def service_json(service: CatalogService) -> dict[str, Any]:
    return {
        "id": service.id,
        "code": service.code,
        "family": service.family,
        "title": service.title,
        "description": service.description,
        "requires_validation": service.requires_validation,
        "auto_subscribe": service.auto_subscribe,
        "min_password_level": service.min_password_level,
        "subscriber_count": service.subscriber_count,
        "account_id": service.account_id,
        "added_at": iso(service.added_at),
        "in_catalog": service.in_catalog,
        "gates": service.gates,
        "notifies": service.notifies,
        "administers_account_id": service.administers_account_id,
        "supervises": service.supervises,
    }


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "account_id": user.account_id,
        "email": user.email,
        "title": user.title,
        "last_name": user.last_name,
        "first_name": user.first_name,
        "language": user.language,
        "password_level": user.password_level,
        "status": user.status,
    }


def subscription_json(item: SubscriptionView) -> dict[str, Any]:
    s = item.subscription
    shaped: dict[str, Any] = {
        "id": s.id,
        "user_id": s.user_id,
        "account_id": s.account_id,
        "service": service_json(item.service),
        "status": s.status,
        "requested_at": iso(s.requested_at),
        "decided_at": iso(s.decided_at),
        "decided_by": s.decided_by,
        "expires_on": iso(s.expires_on),
        "effective": item.effective,
        "reason": s.reason,
        "ended_at": iso(s.ended_at),
        "ended_by": s.ended_by,
        "granted_directly": s.granted_directly,
    }
    if item.user is not None:
        shaped["user"] = user_json(item.user)
    if item.event_id is not None:
        shaped["event_id"] = item.event_id
    return shaped


def subscriber_json(item: SubscriptionView) -> dict[str, Any]:
    """One row of a service's subscribers: the user and their subscription's state."""
    s, user = item.subscription, item.user
    assert user is not None
    return {
        "user_id": s.user_id,
        "subscription_id": s.id,
        "status": s.status,
        "expires_on": iso(s.expires_on),
        "effective": item.effective,
        "requested_at": iso(s.requested_at),
        "decided_at": iso(s.decided_at),
        "email": user.email,
        "title": user.title,
        "last_name": user.last_name,
        "first_name": user.first_name,
        "status_of_user": user.status,
    }


def page_json(page: dict[str, Any], shape: Any) -> dict[str, Any]:
    return {**page, "items": [shape(item) for item in page["items"]]}


def written_json(written: Written, shape: Any, status: int = 200) -> ResponseReturnValue:
    body = {
        "items": [shape(item) for item in written.items],
        "total": len(written.items),
        "event_id": written.event_id,
        "event_ids": written.event_ids,
        **written.extra,
    }
    return jsonify(body), status


def no_content(event_id: str | None) -> ResponseReturnValue:
    """204, with the id of the event written in `X-Portico-Event-Id` (a 204 has no body)."""
    headers = {"X-Portico-Event-Id": event_id} if event_id else {}
    return "", 204, headers

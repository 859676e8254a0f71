"""/internal/users/{user_id}/...: a signed-in user's services, catalog and dashboard."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from bus.http import current_part
from services.subscriptions.service_layer import lifecycle, queries

from . import schemas
from .shapes import no_content, page_json, service_json, subscription_json

bp = Blueprint("users", __name__, url_prefix="/internal/users/<user_id>")


def _filters() -> queries.Filters:
    return queries.Filters(**schemas.query(schemas.ListQuery))


@bp.get("/subscriptions")
def list_subscriptions(user_id: str) -> ResponseReturnValue:
    page = queries.user_subscriptions(current_part().uow(), user_id, _filters())
    return jsonify(page_json(page, subscription_json))


@bp.post("/subscriptions")
def request_subscription(user_id: str) -> ResponseReturnValue:
    data = schemas.body(schemas.RequestBody)
    answer = lifecycle.request_subscription(current_part().uow(), user_id, data["service_id"])
    return jsonify(
        subscription_json(answer)
    ), 201 if answer.subscription.status == "accepted" else 202


@bp.delete("/subscriptions/<subscription_id>")
def cancel_subscription(user_id: str, subscription_id: str) -> ResponseReturnValue:
    answer = lifecycle.cancel_subscription(current_part().uow(), user_id, subscription_id)
    return no_content(answer.event_id)


@bp.get("/catalog")
def catalog(user_id: str) -> ResponseReturnValue:
    page = queries.user_catalog(current_part().uow(), user_id, _filters())
    return jsonify(page_json(page, service_json))


@bp.get("/dashboard")
def dashboard(user_id: str) -> ResponseReturnValue:
    since = schemas.query(schemas.DashboardQuery)["since"]
    panels = queries.user_dashboard(current_part().uow(), user_id, since)
    panels["my_services"]["last"] = [subscription_json(v) for v in panels["my_services"]["last"]]
    return jsonify(panels)

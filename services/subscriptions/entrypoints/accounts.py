"""/internal/accounts/...: an account's catalog, settings, users' subscriptions and requests."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from bus.http import current_part
from services.subscriptions.service_layer import catalogs, lifecycle, queries, settings

from . import schemas
from .shapes import (
    no_content,
    page_json,
    service_json,
    subscriber_json,
    subscription_json,
    written_json,
)

bp = Blueprint("accounts", __name__, url_prefix="/internal/accounts")


def _filters() -> queries.Filters:
    return queries.Filters(**schemas.query(schemas.ListQuery))


@bp.put("/by-number/<number>/catalog")
def set_catalog(number: str) -> ResponseReturnValue:
    data = schemas.body(schemas.CatalogBody)
    written = catalogs.set_catalog(current_part().uow(), number, data["services"], schemas.actor())
    return written_json(written, service_json)


@bp.get("/<account_id>/services")
def list_services(account_id: str) -> ResponseReturnValue:
    page = queries.account_services(current_part().uow(), account_id, _filters())
    return jsonify(page_json(page, service_json))


@bp.patch("/<account_id>/services")
def change_settings(account_id: str) -> ResponseReturnValue:
    data = schemas.body(schemas.SettingsBody)
    flags = {
        name: data[name]
        for name in ("requires_validation", "auto_subscribe")
        if data[name] is not None
    }
    written = settings.change_service_settings(
        current_part().uow(), account_id, data["service_ids"], flags, schemas.actor()
    )
    return written_json(written, service_json)


@bp.get("/<account_id>/services/<service_id>/subscribers")
def list_subscribers(account_id: str, service_id: str) -> ResponseReturnValue:
    page = queries.service_subscribers(current_part().uow(), account_id, service_id, _filters())
    return jsonify(page_json(page, subscriber_json))


@bp.get("/<account_id>/users/<user_id>/subscriptions")
def list_user_subscriptions(account_id: str, user_id: str) -> ResponseReturnValue:
    page = queries.account_user_subscriptions(current_part().uow(), account_id, user_id, _filters())
    return jsonify(page_json(page, subscription_json))


@bp.post("/<account_id>/users/<user_id>/subscriptions")
def grant_subscriptions(account_id: str, user_id: str) -> ResponseReturnValue:
    data = schemas.body(schemas.GrantBody)
    written = lifecycle.grant_subscriptions(
        current_part().uow(),
        account_id,
        user_id,
        data["service_ids"],
        data["expires_on"],
        schemas.actor(),
    )
    return written_json(written, subscription_json, 201)


@bp.delete("/<account_id>/users/<user_id>/subscriptions/<subscription_id>")
def remove_subscription(account_id: str, user_id: str, subscription_id: str) -> ResponseReturnValue:
    answer = lifecycle.remove_subscription(
        current_part().uow(), account_id, user_id, subscription_id, schemas.actor()
    )
    return no_content(answer.event_id)


@bp.get("/<account_id>/subscription-requests")
def list_requests(account_id: str) -> ResponseReturnValue:
    page = queries.subscription_requests(current_part().uow(), account_id, _filters())
    return jsonify(page_json(page, subscription_json))


@bp.post("/<account_id>/subscription-requests/<subscription_id>/accept")
def accept_request(account_id: str, subscription_id: str) -> ResponseReturnValue:
    data = schemas.body(schemas.AcceptBody, optional=True)
    answer = lifecycle.accept_request(
        current_part().uow(), account_id, subscription_id, data["expires_on"], schemas.actor()
    )
    return jsonify(subscription_json(answer))


@bp.post("/<account_id>/subscription-requests/<subscription_id>/refuse")
def refuse_request(account_id: str, subscription_id: str) -> ResponseReturnValue:
    data = schemas.body(schemas.RefuseBody, optional=True)
    answer = lifecycle.refuse_request(
        current_part().uow(), account_id, subscription_id, data["reason"], schemas.actor()
    )
    return jsonify(subscription_json(answer))

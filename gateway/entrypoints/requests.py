"""Administration: subscription requests waiting for validation, accepted or refused."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from gateway.entrypoints.accounts import q
from gateway.entrypoints.context import gw
from gateway.entrypoints.forward import as_page, propagation, service
from gateway.entrypoints.guards import require_reach
from gateway.entrypoints.schemas import (
    AcceptIn,
    RefuseIn,
    RequestFilters,
    SubscriptionSchema,
    SubscriptionWritten,
    page_of,
)
from gateway.service_layer.own_writes import apply_subscriptions, with_effective

blp = Blueprint(
    "requests",
    __name__,
    url_prefix="/api/v1/accounts/<account_id>/subscription-requests",
    description="Administration: subscription requests",
)
blp.before_request(require_reach)


def decide(account_id: str, request_id: str, verb: str, body: dict) -> dict:
    sub = service("subscriptions").post(
        f"/internal/accounts/{q(account_id)}/subscription-requests/{q(request_id)}/{verb}",
        json=body,
    )
    apply_subscriptions(gw().part, [sub], account_id)
    event = propagation(sub, applied=True, event_type=f"subscriptions.subscription.{verb}d")
    [shown] = with_effective(gw().part, [sub], gw().today())
    return {**shown, "propagation": event}


@blp.route("")
class Requests(MethodView):
    @blp.arguments(RequestFilters, location="query", unknown="raise")
    @blp.response(200, page_of(SubscriptionSchema, "RequestPage"))
    def get(self, args, account_id):
        """Requests waiting for validation, searchable by the requester's name."""
        answer = service("subscriptions").get(
            f"/internal/accounts/{q(account_id)}/subscription-requests", params=args
        )
        return as_page(answer, args["page"], args["per_page"])


@blp.route("/<request_id>/accept")
class Accept(MethodView):
    @blp.arguments(AcceptIn)
    @blp.response(200, SubscriptionWritten)
    def post(self, body, account_id, request_id):
        """Accept a request, optionally until `expires_on`; the requester is e-mailed."""
        return decide(account_id, request_id, "accept", body)


@blp.route("/<request_id>/refuse")
class Refuse(MethodView):
    @blp.arguments(RefuseIn)
    @blp.response(200, SubscriptionWritten)
    def post(self, body, account_id, request_id):
        """Refuse a request, optionally saying why; the requester is e-mailed."""
        return decide(account_id, request_id, "refuse", body)

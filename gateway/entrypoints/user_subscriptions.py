"""Administration of one user's subscriptions: list, grant, remove."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from gateway.entrypoints.accounts import q
from gateway.entrypoints.context import gw
from gateway.entrypoints.forward import (
    EVENT_ID_HEADER,
    as_page,
    propagation,
    remember_own_events,
    service,
)
from gateway.entrypoints.guards import require_reach
from gateway.entrypoints.my_services import effective_page
from gateway.entrypoints.schemas import (
    GrantIn,
    PageArgs,
    SubscriptionSchema,
    SubscriptionsWritten,
    page_of,
)
from gateway.service_layer.own_writes import (
    apply_subscriptions,
    cancel_subscription,
    with_effective,
)

blp = Blueprint(
    "user_subscriptions",
    __name__,
    url_prefix="/api/v1/accounts/<account_id>/users/<user_id>",
    description="Administration: a user's subscriptions",
)
blp.before_request(require_reach)


def path(account_id: str, user_id: str) -> str:
    return f"/internal/accounts/{q(account_id)}/users/{q(user_id)}/subscriptions"


@blp.route("/subscriptions")
class UserSubscriptions(MethodView):
    @blp.arguments(PageArgs, location="query", unknown="raise")
    @blp.response(200, page_of(SubscriptionSchema, "UserSubscriptionPage"))
    def get(self, args, account_id, user_id):
        """A user's subscriptions, with `effective`."""
        return effective_page(
            service("subscriptions").get(path(account_id, user_id), params=args), args
        )

    @blp.arguments(GrantIn)
    @blp.response(201, SubscriptionsWritten)
    def post(self, body, account_id, user_id):
        """Grant services to the user (no validation needed), optionally until `expires_on`."""
        answer = service("subscriptions").post(path(account_id, user_id), json=body)
        event = propagation(answer, applied=True, event_type="subscriptions.subscription.accepted")
        items = as_page(answer)["items"]
        apply_subscriptions(gw().part, items, account_id)
        return {"items": with_effective(gw().part, items, gw().today()), "propagation": event}


@blp.route("/subscriptions/<subscription_id>")
class UserSubscription(MethodView):
    @blp.response(204)
    def delete(self, account_id, user_id, subscription_id):
        """Remove one subscription (409 when it is the last administrator's)."""
        answer = service("subscriptions").raw(
            "DELETE", f"{path(account_id, user_id)}/{q(subscription_id)}"
        )
        cancel_subscription(gw().part, subscription_id)
        remember_own_events(
            [answer.headers.get(EVENT_ID_HEADER)], "subscriptions.subscription.cancelled"
        )
